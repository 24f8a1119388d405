"""The media routes of the HTTP API: a run's media files (listed through its segments) and their bytes.

An SDK run logging to a server sends each file's bytes (checked against its sha256) unless the run already
references that file, before the rows that name it; a reader gets a file only through a run it may read that
references it. The blob store keeps each file once, whichever runs send it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator
from starlette.concurrency import run_in_threadpool

from runtree.domain.media import MAX_PATH, MediaFile, check_path, check_sha256
from runtree.domain.records import Segment
from runtree.errors import NoSuchFile, NoSuchRun, UsageError
from runtree.server.auth import KeyAuth, OpenAuth, Principal
from runtree.server.schemas import SegmentIn
from runtree.store.blobs import digest
from runtree.store.wire import dumps_exact

MAX_FILES = 1000  # media files in one request
_key_header = APIKeyHeader(name="Authorization", auto_error=False)


def _principal(request: Request, authorization: Annotated[str | None, Depends(_key_header)]) -> Principal:
    auth: KeyAuth | OpenAuth = request.app.state.auth
    return auth.authenticate(authorization)


Caller = Annotated[Principal, Depends(_principal)]


class MediaIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    step: Annotated[StrictInt, Field(ge=0, lt=1 << 62)]
    key: str = Field(max_length=4096)  # a history key, however long the user made it
    path: str
    sha256: str
    size: Annotated[StrictInt, Field(ge=0)]
    type: str = Field(max_length=64)

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        return check_path(v, "media file")

    @field_validator("sha256")
    @classmethod
    def _sha(cls, v: str) -> str:
        return check_sha256(v, "media file")


class PutMedia(BaseModel):
    model_config = ConfigDict(extra="forbid")
    epoch: Annotated[StrictInt, Field(ge=0)]
    files: list[MediaIn] = Field(max_length=MAX_FILES)


class MediaQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    segments: list[SegmentIn] = Field(max_length=10_000)
    path: str | None = Field(None, max_length=MAX_PATH)
    sha256: str | None = Field(None, max_length=64)


def _json(obj: object) -> Response:
    return Response(dumps_exact(obj), media_type="application/json")


def media_router(route_class: type) -> APIRouter:
    """The routes, reading the Store from app.state.store (as the app's other routes see it)."""
    r = APIRouter(tags=["media"], route_class=route_class)

    def _run(request: Request, who: Principal, uid: str) -> None:
        run = request.app.state.store.get_run(uid)
        who.check(run.entity, f" (run {run.path})")

    def _sources(request: Request, who: Principal, segments: Iterable[Segment]) -> None:
        if who.admin:
            return
        for uid in sorted({s.source_uid for s in segments}):
            run = request.app.state.store.get_run(uid)
            who.check(run.entity, f" (the media of run {run.path})")

    def _known(store: Any, uid: str, epoch: int, shas: Iterable[str]) -> set[str]:
        """The sha256s this run already references (any epoch up to `epoch`): a caller may name those without the bytes."""
        segs = [Segment(uid, e, 0) for e in range(epoch + 1)]
        return {s for s in set(shas) if store.list_media(segs, sha256=s)}

    @r.post("/runs/{uid}/media", summary="Record media files of the run at their steps (Store.put_media); answers which need their bytes")
    def put_media(request: Request, uid: str, body: PutMedia, who: Caller) -> Response:
        # Only files the run already references are recorded here; the others are `missing` and come with their
        # bytes (PUT below). Content addressing then never lets a caller name a file it has not shown it holds.
        store = request.app.state.store
        run = store.get_run(uid)
        who.check(run.entity, f" (run {run.path})")
        known = _known(store, uid, max(body.epoch, run.epoch), (f.sha256 for f in body.files))
        files = [MediaFile(f.step, f.key, f.path, f.sha256, f.size, f.type) for f in body.files if f.sha256 in known]
        store.put_media(uid, body.epoch, files, {})
        return _json({"files": len(files), "missing": sorted({f.sha256 for f in body.files} - known)})

    @r.put("/runs/{uid}/media/{sha256}", status_code=204, summary="Upload one media file (the body: bytes hashing to sha256), recorded")
    async def upload_media(
        request: Request,
        uid: str,
        sha256: str,
        who: Caller,
        epoch: Annotated[int, Query(ge=0, lt=1 << 31)],
        step: Annotated[int, Query(ge=0, lt=1 << 62)],
        key: Annotated[str, Query(max_length=4096)],
        path: Annotated[str, Query(max_length=MAX_PATH)],
        type: Annotated[str, Query(max_length=64)],
    ) -> Response:
        check_sha256(sha256, "upload")
        check_path(path, "upload")
        await run_in_threadpool(_run, request, who, uid)
        data = await request.body()
        if digest(data) != sha256:
            raise UsageError(f"the uploaded bytes hash to {digest(data)}, not {sha256}")
        f = MediaFile(step, key, path, sha256, len(data), type)
        await run_in_threadpool(request.app.state.store.put_media, uid, epoch, [f], {sha256: data})
        return Response(status_code=204)

    @r.post("/query/media", summary="The media files of explicit segments, in step order (Store.list_media)")
    def query_media(request: Request, body: MediaQuery, who: Caller) -> Response:
        _sources(request, who, body.segments)
        files = request.app.state.store.list_media(body.segments, path=body.path, sha256=body.sha256)
        return _json({"media": [f.to_json() for f in files]})

    @r.get("/runs/{uid}/media", summary="The media files of a run's visible history, in step order, with their sizes")
    def run_media(request: Request, uid: str, who: Caller) -> Response:
        store = request.app.state.store
        _run(request, who, uid)
        segments = store.read_segments(uid)
        _sources(request, who, segments)
        return _json({"media": [f.to_json() for f in store.list_media(segments)]})

    @r.get("/runs/{uid}/media/{sha256}", summary="The bytes of a media file the run references (visible or archived)")
    def read_media(request: Request, uid: str, sha256: str, who: Caller) -> Response:
        store = request.app.state.store
        try:
            check_sha256(sha256, "media file")
            run = store.get_run(uid)
        except (UsageError, NoSuchRun):
            raise NoSuchFile(f"run {uid} has no media file {sha256!r:.80}") from None
        who.check(run.entity, f" (run {run.path})")
        segments = [*store.read_segments(uid), *(Segment(uid, e, 0) for e in range(run.epoch + 1))]
        found = store.list_media(segments, sha256=sha256)
        if not found:
            raise NoSuchFile(f"run {run.path} references no media file with sha256 {sha256}")
        _sources(request, who, segments)
        headers = {
            "Cache-Control": "private, max-age=31536000, immutable",  # content-addressed: never changes
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",  # a logged SVG or page opened directly runs no script in the UI's origin
        }
        return Response(store.read_media(uid, sha256), media_type=_mime(found[0].path), headers=headers)

    return r


_MIME = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "webp": "image/webp",
    "svg": "image/svg+xml",
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "json": "application/json",
    "html": "text/plain",
}


def _mime(path: str) -> str:
    # html is served as text/plain: a logged page must never run in the UI's origin (the UI sandboxes it in an iframe srcdoc).
    return _MIME.get(path.rsplit(".", 1)[-1].lower(), "application/octet-stream")
