"""create_app(store, auth): the JSON HTTP API under /api/v1, a thin adapter translating HTTP <-> Store calls.

Every route checks the caller's key (runtree.server.auth), validates the body (runtree.server.schemas),
makes the Store call(s) and encodes the answer (runtree.store.wire); there is no SQL here and no state:
any number of server processes, on any hosts, may serve one database. Errors are JSON,
`{"error": {"type": ..., "message": ...}}`: runtree's exceptions keep their class name as the type
(NoSuchRun 404, RunExists 409, ...), and a request refused for its input changes nothing stored.
The routes are listed in docs/http-api.md and described by /api/v1/openapi.json.
"""

from __future__ import annotations

import json
import logging
import re
import zlib
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtree.domain import runfilter
from runtree.domain.records import RunRecord, Segment
from runtree.errors import (
    NoSuchFile,
    NoSuchRun,
    RunExists,
    RunIsActive,
    RuntreeError,
    StepOutOfRange,
    StoreError,
    UsageError,
)
from runtree.server import history, schemas
from runtree.server.auth import Forbidden, KeyAuth, OpenAuth, Principal, Unauthorized
from runtree.server.ui import mount_ui
from runtree.server.wandb import mount_wandb
from runtree.server.workspace import workspace_routes
from runtree.store.base import ApiKey, Store
from runtree.store.wire import EXACT_MEDIA_TYPE, dumps_exact, key_to_json, rewind_to_json, run_to_json, segment_to_json, strict

API = "/api/v1"
MAX_BODY_BYTES = 64 << 20  # a request body, after gzip decoding
VERSION = "1"

log = logging.getLogger("runtree.server")

# runtree's exceptions by HTTP status; the first class a raised error is an instance of decides.
_STATUS: list[tuple[type[Exception], int]] = [
    (NoSuchRun, 404),
    (NoSuchFile, 404),
    (RunExists, 409),
    (RunIsActive, 409),
    (StepOutOfRange, 422),
    (UsageError, 422),
    (StoreError, 503),
    (ValueError, 422),
]
_HTTP_TYPES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}


# A number token starting with 19 digits (maybe an integer beyond 64 bits) starts the body or follows one of
# these characters. One character class, then digits: ~10x faster than an alternation with ^, which cost a
# quarter of the server's CPU under 16 logging clients (a value below 0.01 is a 19-digit run after its '.').
_BIG_INT_HEAD = re.compile(rb"[0-9]{19}")
_BIG_INT = re.compile(rb"[,:\[\s-][0-9]{19}")


def parse_json(body: bytes) -> Any:
    """A request body: orjson when it can read it exactly, else Python's json (NaN/Infinity tokens, integers of any size)."""
    # orjson reads an integer beyond 64 bits as an inexact float; such a body goes to json.
    if not _BIG_INT_HEAD.match(body) and not _BIG_INT.search(body):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return json.loads(body)  # its JSONDecodeError says what is wrong, and where


class _FastJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


class _Route(APIRoute):
    """Routes whose JSON bodies are parsed by parse_json (about 4x faster than json.loads on row batches)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def fast(request: Request) -> Response:
            return await handler(_FastJSONRequest(request.scope, request.receive))

        return fast


def error_body(kind: str, message: str) -> bytes:
    return orjson.dumps({"error": {"type": kind, "message": message}})


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(error_body(kind, message), status_code=status, media_type="application/json", headers=headers)


def _encode(request: Request, obj: Any, status: int = 200) -> Response:
    """`obj` as JSON: the exact dialect when the client asks for it, else strict JSON."""
    if EXACT_MEDIA_TYPE in request.headers.get("accept", ""):
        return Response(dumps_exact(obj).encode(), status_code=status, media_type=EXACT_MEDIA_TYPE)
    clean = strict(obj)
    try:
        data = orjson.dumps(clean)
    except TypeError:  # an integer beyond 64 bits: the standard library writes any size
        data = json.dumps(clean, allow_nan=False).encode()
    return Response(data, status_code=status, media_type="application/json")


def _no_content() -> Response:
    return Response(status_code=204)


class BodyLimit:
    """ASGI middleware: refuse request bodies over `max_bytes` (413) and decode gzip bodies, within the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _send_error(send, 413, "payload_too_large", f"request body of {int(length)} bytes is over the limit of {self.max_bytes}")
            return
        gzipped = headers.get(b"content-encoding", b"").strip().lower() == b"gzip"
        await self.app(scope, self._limited(receive, gzipped), send)

    def _limited(self, receive: Receive, gzipped: bool) -> Receive:
        seen = 0
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
        limit = self.max_bytes

        def too_large() -> HTTPException:
            return HTTPException(413, f"request body is over the limit of {limit} bytes" + (" (after gzip decoding)" if gzipped else ""))

        async def wrapped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] != "http.request":
                return message
            body: bytes = message.get("body", b"")
            if inflate is not None:
                try:
                    body = inflate.decompress(body, limit - seen + 1)
                    if not message.get("more_body", False):
                        body += inflate.flush()
                except zlib.error as e:
                    raise HTTPException(400, f"the gzip request body does not decode: {e}") from None
                if inflate.unconsumed_tail:
                    raise too_large()
            seen += len(body)
            if seen > limit:
                raise too_large()
            return {**message, "body": body}

        return wrapped


async def _send_error(send: Send, status: int, kind: str, message: str) -> None:
    body = error_body(kind, message)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _validation_message(errors: Sequence[Any]) -> str:
    parts = []
    for e in errors[:5]:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        got = repr(e.get("input"))
        got = got if len(got) <= 60 else got[:57] + "..."
        parts.append(f"{loc}: {e.get('msg')} (got {got})")
    if len(errors) > 5:
        parts.append(f"and {len(errors) - 5} more")
    return "; ".join(parts)


def _install_error_handlers(app: FastAPI) -> None:
    async def validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        for e in errors:
            if e.get("type") == "json_invalid":
                where = e.get("loc", ("body", "?"))[-1]
                return _error(
                    400, "malformed_json", f"the request body is not valid JSON (at character {where}): {e.get('ctx', {}).get('error')}"
                )
        return _error(422, "invalid_request", _validation_message(errors))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        kind = _HTTP_TYPES.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        return _error(exc.status_code, kind, message)

    async def runtree_error(request: Request, exc: Exception) -> Response:
        for cls, status in _STATUS:
            if isinstance(exc, cls):
                kind = type(exc).__name__ if isinstance(exc, RuntreeError) else "invalid_request"
                if status >= 500:
                    log.error("%s %s: %s", request.method, request.url.path, exc)
                # The store's messages name its URL; clients have no business knowing where the database is.
                return _error(status, kind, str(exc).replace(request.app.state.store.url, "the server's store"))
        log.error("%s %s: %s", request.method, request.url.path, exc)
        return _error(500, type(exc).__name__, str(exc))

    async def unauthorized(request: Request, exc: Exception) -> Response:
        return _error(401, "unauthorized", str(exc), {"WWW-Authenticate": 'Bearer realm="runtree"'})

    async def forbidden(request: Request, exc: Exception) -> Response:
        return _error(403, "forbidden", str(exc))

    async def internal(request: Request, exc: Exception) -> Response:
        log.exception("%s %s failed", request.method, request.url.path)
        return _error(500, "internal_error", f"{type(exc).__name__}: {exc}")

    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RuntreeError, runtree_error)
    app.add_exception_handler(ValueError, runtree_error)
    app.add_exception_handler(Unauthorized, unauthorized)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(Exception, internal)


def create_app(store: Store, auth: KeyAuth | OpenAuth) -> FastAPI:
    """The runtree HTTP API over `store`, each request authenticated by `auth`."""
    app = FastAPI(
        title="runtree",
        version=VERSION,
        summary="Experiment tracking where runs form a tree: the HTTP API of `runtree server`.",
        openapi_url=f"{API}/openapi.json",
        docs_url=f"{API}/docs",
        redoc_url=None,
    )
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    _install_error_handlers(app)
    app.state.store, app.state.auth = store, auth
    r = APIRouter(prefix=API, route_class=_Route)
    r.include_router(_runs(store))
    r.include_router(_streams(store))
    r.include_router(_admin(store))
    r.include_router(workspace_routes(store))  # the web workspace: series of many runs, settings, importance
    app.include_router(r)
    mount_wandb(app, store, auth)  # W&B-compatible endpoints for the wandb client: /graphql, /files/.../file_stream
    mount_ui(app)  # the web UI: last, as its page route answers any path the API does not
    return app


# -- access checks ---------------------------------------------------------------------------
_key_header = APIKeyHeader(name="Authorization", auto_error=False, description="`Bearer <key>`, or HTTP Basic with `api:<key>`")


def _principal(request: Request, authorization: Annotated[str | None, Depends(_key_header)]) -> Principal:
    auth: KeyAuth | OpenAuth = request.app.state.auth
    return auth.authenticate(authorization)


Caller = Annotated[Principal, Depends(_principal)]


def _run(store: Store, who: Principal, uid: str) -> RunRecord:
    """The run, when the caller may touch its entity (NoSuchRun / Forbidden otherwise)."""
    run = store.get_run(uid)
    who.check(run.entity, f" (run {run.path})")
    return run


def _known(store: Store, who: Principal, uid: str) -> bool:
    """Whether the run exists (checking access when it does); reads of an unknown run answer as the Store does."""
    try:
        _run(store, who, uid)
    except NoSuchRun:
        return who.admin  # only an admin may see rows stored under a uid no run owns
    return True


def _check_sources(store: Store, who: Principal, segments: Iterable[Segment], skip: str | None = None) -> None:
    """The caller may read every run whose rows `segments` name."""
    if who.admin:
        return
    for uid in sorted({s.source_uid for s in segments} - {skip}):
        run = store.get_run(uid)
        who.check(run.entity, f" (the history reads rows of run {run.path})")


def _json_param(name: str, text: str | None) -> Any:
    if not text:
        return None
    if len(text) > 65536:
        raise UsageError(f"{name} is longer than 65536 characters")
    try:
        return json.loads(text)
    except ValueError as e:
        raise UsageError(f"{name} is not JSON: {e}") from None


def _runs(store: Store) -> APIRouter:
    r = APIRouter(tags=["runs"], route_class=_Route)

    @r.get("/projects", summary="Projects the key may read, each with its run count and last activity")
    def list_projects(request: Request, who: Caller, entity: str | None = None) -> Response:
        if entity is not None:
            who.check(entity)
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for run in store.list_runs(entity):
            if not who.can(run.entity):
                continue
            p = found.setdefault((run.entity, run.project), {"entity": run.entity, "project": run.project, "runs": 0, "last_activity": 0.0})
            p["runs"] += 1
            p["last_activity"] = max(p["last_activity"], run.created_at, run.updated_at, run.heartbeat_at)
        return _encode(request, {"projects": sorted(found.values(), key=lambda p: (-p["last_activity"], p["entity"], p["project"]))})

    @r.post("/runs", status_code=201, summary="Create a run and its segments (Store.create_run)")
    def create_run(request: Request, body: schemas.CreateRun, who: Caller) -> Response:
        who.check(body.run.entity, f" (run {body.run.path})")
        _check_sources(store, who, body.segments, skip=body.run.uid)
        if body.run.parent_uid is not None and not who.admin:
            _run(store, who, body.run.parent_uid)
        store.create_run(body.run, body.segments)
        return _encode(request, {"uid": body.run.uid}, 201)

    @r.get("/runs", summary="Runs, oldest first (Store.list_runs)")
    def list_runs(
        request: Request, who: Caller, entity: str | None = None, project: str | None = None, parent_uid: str | None = None
    ) -> Response:
        if entity is not None:
            who.check(entity)
        runs = [run_to_json(x) for x in store.list_runs(entity, project, parent_uid=parent_uid) if who.can(x.entity)]
        return _encode(request, {"runs": runs})

    @r.get("/runs/query", summary="Runs matching a W&B filter, in order, one page (Store.query_runs / count_runs)")
    def query_runs(
        request: Request,
        who: Caller,
        entity: str | None = None,
        project: str | None = None,
        filters: str | None = None,
        order: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        count: bool = False,
    ) -> Response:
        where = runfilter.parse_filter(_json_param("filters", filters))
        if entity is not None:
            who.check(entity)
        elif not who.admin:  # only the caller's entities, in the database, so pages stay whole
            mine = runfilter.Cmp(runfilter.Field("column", ("entity",)), "$in", tuple(sorted(who.entities)))
            where = mine if where is None else runfilter.Bool("and", (mine, where))
        if count:
            return _encode(request, {"count": store.count_runs(entity, project, where)})
        if (limit is not None and not 0 <= limit <= 10_000) or offset < 0:
            raise UsageError("limit must be 0..10000 and offset non-negative")
        runs = store.query_runs(entity, project, where, runfilter.parse_order(order), limit, offset)
        return _encode(request, {"runs": [run_to_json(x) for x in runs]})

    @r.get("/runs/{uid}", summary="One run by uid (Store.get_run)")
    def get_run(request: Request, uid: str, who: Caller) -> Response:
        return _encode(request, run_to_json(_run(store, who, uid)))

    @r.get("/entities/{entity}/projects/{project}/runs/{run_id}", summary="One run by entity/project/id (Store.find_run); 404 when none")
    def find_run(request: Request, entity: str, project: str, run_id: str, who: Caller) -> Response:
        who.check(entity)
        run = store.find_run(entity, project, run_id)
        if run is None:
            raise NoSuchRun(f"no run {entity}/{project}/{run_id}")
        return _encode(request, run_to_json(run))

    @r.patch("/runs/{uid}", status_code=204, summary="Change stored fields of a run (Store.update_run)")
    def update_run(uid: str, body: schemas.UpdateRun, who: Caller) -> Response:
        _run(store, who, uid)
        if "entity" in body.fields:
            who.check(body.fields["entity"], " (moving a run there)")
        store.update_run(uid, **body.fields)
        return _no_content()

    @r.post("/runs/{uid}/claim", summary="Take a run for writing (resume) unless a live process logs it (Store.claim_run)")
    def claim_run(request: Request, uid: str, body: schemas.UpdateRun, who: Caller) -> Response:
        _run(store, who, uid)
        if "entity" in body.fields:
            who.check(body.fields["entity"], " (moving a run there)")
        return _encode(request, run_to_json(store.claim_run(uid, **body.fields)))

    @r.get("/runs/{uid}/segments", summary="The run's visible history as segments (Store.read_segments)")
    def read_segments(request: Request, uid: str, who: Caller) -> Response:
        _run(store, who, uid)
        return _encode(request, {"segments": [segment_to_json(s) for s in store.read_segments(uid)]})

    @r.post("/runs/{uid}/rewinds", status_code=204, summary="Rewind a run: new segments, epoch and fields at once (Store.rewind_run)")
    def rewind_run(uid: str, body: schemas.RewindRun, who: Caller) -> Response:
        _run(store, who, uid)
        _check_sources(store, who, body.segments, skip=uid)
        store.rewind_run(uid, body.segments, body.rewind, **body.fields)
        return _no_content()

    @r.get("/runs/{uid}/rewinds", summary="The run's rewinds, oldest first (Store.list_rewinds)")
    def list_rewinds(request: Request, uid: str, who: Caller) -> Response:
        found = store.list_rewinds(uid) if _known(store, who, uid) else []
        return _encode(request, {"rewinds": [rewind_to_json(x) for x in found]})

    return r


def _streams(store: Store) -> APIRouter:
    r = APIRouter(tags=["history, system metrics, console, files"], route_class=_Route)

    @r.post("/runs/{uid}/rows", summary="Append a batch of history rows; idempotent by (uid, epoch, step) (Store.append_rows)")
    def append_rows(request: Request, uid: str, body: schemas.AppendRows, who: Caller) -> Response:
        _run(store, who, uid)
        store.append_rows(uid, body.epoch, body.rows)
        return _encode(request, {"seq": body.seq, "rows": len(body.rows)})

    def _history(who: Principal, segments: Sequence[Segment], q: schemas.HistoryQuery) -> Response:
        _check_sources(store, who, segments)
        if q.samples is not None:
            data = history.read_sampled(store, segments, q.min_step, q.max_step, q.keys, q.samples)
        else:
            data = history.read_page(store, segments, q.min_step, q.max_step, q.keys, q.limit)
        return Response(data, media_type="application/json")

    @r.post("/query/history", summary="History rows of explicit segments as columns, paged or downsampled (Store.read_rows)")
    def query_history(body: schemas.HistoryQuery, who: Caller) -> Response:
        return _history(who, body.segments, body)

    @r.get("/runs/{uid}/history", summary="The run's visible history as columns, paged or downsampled")
    def run_history(
        uid: str,
        who: Caller,
        min_step: int | None = None,
        max_step: int | None = None,
        keys: Annotated[list[str] | None, Query()] = None,
        samples: Annotated[int | None, Query(ge=2, le=schemas.MAX_SAMPLES)] = None,
        limit: Annotated[int, Query(ge=1, le=schemas.MAX_PAGE_ROWS)] = schemas.PAGE_ROWS,
        preview: Annotated[bool, Query(description="with samples: a quick look at a long history, marked preview")] = False,
    ) -> Response:
        _run(store, who, uid)
        segments = store.read_segments(uid)
        if preview and samples is not None:
            _check_sources(store, who, segments)
            return Response(history.read_preview(store, segments, min_step, max_step, keys, samples), media_type="application/json")
        q = schemas.HistoryQuery(segments=segments, min_step=min_step, max_step=max_step, keys=keys, samples=samples, limit=limit)
        return _history(who, segments, q)

    @r.post("/query/last-row", summary="(step, timestamp) of the last visible row, or of the last at or before a step (Store.last_row)")
    def last_row(request: Request, body: schemas.LastRowQuery, who: Caller) -> Response:
        _check_sources(store, who, body.segments)
        found = store.last_row(body.segments, body.at_or_before)
        return _encode(request, {"last": None if found is None else list(found)})

    @r.post("/runs/{uid}/system", summary="Append system-metric samples (Store.append_system)")
    def append_system(request: Request, uid: str, body: schemas.AppendSystem, who: Caller) -> Response:
        _run(store, who, uid)
        store.append_system(uid, body.epoch, body.samples)
        return _encode(request, {"seq": body.seq, "samples": len(body.samples)})

    def _system(request: Request, who: Principal, segments: Sequence[Segment]) -> Response:
        _check_sources(store, who, segments)
        return _encode(request, {"samples": [[ts, values] for ts, values in store.read_system(segments)]})

    @r.post("/query/system", summary="System samples of explicit segments, in time order (Store.read_system)")
    def query_system(request: Request, body: schemas.Segments, who: Caller) -> Response:
        return _system(request, who, body.segments)

    @r.get("/runs/{uid}/system", summary="System samples of the run's visible history")
    def run_system(request: Request, uid: str, who: Caller) -> Response:
        _run(store, who, uid)
        return _system(request, who, store.read_segments(uid))

    @r.post("/runs/{uid}/logs", summary="Append console lines; idempotent by (uid, epoch, seq) (Store.append_logs)")
    def append_logs(request: Request, uid: str, body: schemas.AppendLogs, who: Caller) -> Response:
        _run(store, who, uid)
        store.append_logs(uid, body.epoch, body.lines)
        return _encode(request, {"seq": body.seq, "lines": len(body.lines)})

    @r.put("/runs/{uid}/logs", summary="Store console lines, replacing those of the same (uid, epoch, seq) (Store.put_logs)")
    def put_logs(request: Request, uid: str, body: schemas.AppendLogs, who: Caller) -> Response:
        _run(store, who, uid)
        store.put_logs(uid, body.epoch, body.lines)
        return _encode(request, {"seq": body.seq, "lines": len(body.lines)})

    def _logs(request: Request, who: Principal, segments: Sequence[Segment]) -> Response:
        _check_sources(store, who, segments)
        return _encode(request, {"lines": [list(line) for line in store.read_logs(segments)]})

    @r.post("/query/logs", summary="Console lines of explicit segments, in order (Store.read_logs)")
    def query_logs(request: Request, body: schemas.Segments, who: Caller) -> Response:
        return _logs(request, who, body.segments)

    @r.get("/runs/{uid}/logs", summary="Console lines of the run's visible history")
    def run_logs(request: Request, uid: str, who: Caller) -> Response:
        _run(store, who, uid)
        return _logs(request, who, store.read_segments(uid))

    @r.get("/runs/{uid}/logs/last-seq", summary="The highest console-line seq stored for an epoch (Store.last_log_seq)")
    def last_log_seq(request: Request, uid: str, epoch: int, who: Caller) -> Response:
        return _encode(request, {"seq": store.last_log_seq(uid, epoch) if _known(store, who, uid) else None})

    @r.put("/runs/{uid}/files/{name:path}", status_code=204, summary="Store a file of the run; the body is its bytes (Store.put_file)")
    async def put_file(request: Request, uid: str, name: str, who: Caller) -> Response:
        data = await request.body()
        await run_in_threadpool(_run, store, who, uid)
        await run_in_threadpool(store.put_file, uid, name, data)
        return _no_content()

    @r.get("/runs/{uid}/files/{name:path}", summary="A file of the run, as bytes (Store.read_file)")
    def read_file(uid: str, name: str, who: Caller) -> Response:
        if not _known(store, who, uid):
            raise NoSuchFile(f"run {uid} has no file {name!r}: there is no such run")
        return Response(store.read_file(uid, name), media_type="application/octet-stream")

    @r.get("/runs/{uid}/files", summary="Names of the run's files, sorted (Store.list_files)")
    def list_files(request: Request, uid: str, who: Caller) -> Response:
        return _encode(request, {"files": store.list_files(uid) if _known(store, who, uid) else []})

    return r


def _admin(store: Store) -> APIRouter:
    r = APIRouter(tags=["keys and service"], route_class=_Route)

    def _need_admin(who: Principal) -> None:
        if not who.admin:
            raise Forbidden(f"key {who.prefix}... is not an admin key; only admin keys manage keys")

    @r.get("/health", summary="Readiness: the server answers and its store is reachable; needs no key")
    def health(request: Request) -> Response:
        store.find_key("0" * 64)  # one cheap indexed read proves the database answers
        return _encode(request, {"status": "ok", "api": VERSION})

    @r.get("/whoami", summary="What the calling key may touch")
    def whoami(request: Request, who: Caller) -> Response:
        # default_entity: where the SDK logs when no entity is named (the wandb endpoints use the same rule).
        default = min(who.entities) if who.entities else None
        return _encode(request, {"admin": who.admin, "entities": sorted(who.entities), "prefix": who.prefix, "default_entity": default})

    @r.post("/keys", summary="Store a new key by its sha256 digest (admin; Store.create_key)")
    def create_key(request: Request, body: schemas.NewKey, who: Caller) -> Response:
        _need_admin(who)
        key = ApiKey(body.key_hash, tuple(body.entities), body.admin, body.label, body.prefix, body.created_at)
        return _encode(request, {"created": store.create_key(key, only_if_first=body.only_if_first)})

    @r.get("/keys", summary="Every key, oldest first (admin; Store.list_keys)")
    def list_keys(request: Request, who: Caller) -> Response:
        _need_admin(who)
        return _encode(request, {"keys": [key_to_json(k) for k in store.list_keys()]})

    @r.get("/keys/{key_hash}", summary="One key by its digest (admin; Store.find_key)")
    def find_key(request: Request, key_hash: str, who: Caller) -> Response:
        _need_admin(who)
        found = store.find_key(key_hash)
        if found is None:
            raise HTTPException(404, f"no key has digest {key_hash[:12]}...")
        return _encode(request, key_to_json(found))

    @r.delete("/keys/{key_hash}", summary="Revoke a key (admin; Store.delete_key)")
    def delete_key(request: Request, key_hash: str, who: Caller) -> Response:
        _need_admin(who)
        return _encode(request, {"deleted": store.delete_key(key_hash)})

    return r
