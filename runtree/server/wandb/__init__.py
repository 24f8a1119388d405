"""W&B-compatible endpoints beside runtree's own API, over the same Store: the unmodified wandb client logs here.

`WANDB_BASE_URL=http://host:port WANDB_API_KEY=<runtree key> python train.py`. Routes (docs/wandb-compat.md):

- POST /graphql: the client's GraphQL operations (runtree.server.wandb.graphql)
- POST /files/{entity}/{project}/{run}/file_stream: history, system metrics, summary, console (filestream)
- PUT /files-upload/{uid}/{name}?expires&signature: run files, authorised by the signed URL (uploads)
- GET /files/{entity}/{project}/{run}/{name}: a run file, with the caller's key (wandb.Api's File.download)
- /sdk/otel/v1/...: the client's telemetry side channel, answered 200 and dropped
- GET /<entity>/<project>[/runs/<id>[/tab]]: the links the client prints, redirected to the web UI (links)

A runtree key works as a W&B key (HTTP Basic `api:<key>`); the same entity rules hold. A missing or wrong
key gets a 401 in W&B's error shape, and nothing is written.
"""

from __future__ import annotations

import json
import logging
import mimetypes
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from runtree.errors import NoSuchFile, NoSuchRun, RunExists, RunIsActive, RuntreeError, StoreError
from runtree.server.auth import Forbidden, KeyAuth, OpenAuth, Principal, Unauthorized
from runtree.server.wandb import filestream, graphql, links, runs
from runtree.server.wandb.uploads import PATH as UPLOAD_PATH
from runtree.server.wandb.uploads import BadSignature, Signer
from runtree.store.base import Store

__all__ = ["mount_wandb"]

log = logging.getLogger("runtree.server.wandb")


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


def _gql_error(status: int, message: str, code: str) -> Response:
    headers = {"WWW-Authenticate": 'Basic realm="runtree"'} if status == 401 else None
    return _json(status, {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}, headers)


def _status(e: Exception) -> int:
    if isinstance(e, StoreError):
        return 503
    return 409 if isinstance(e, RunExists | RunIsActive) else 422


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError as e:
        raise ValueError(f"the request body is not JSON: {e}") from None


def mount_wandb(app: FastAPI, store: Store, auth: KeyAuth | OpenAuth, signer: Signer | None = None) -> None:
    """Add the W&B-compatible routes to `app` (before any catch-all route)."""
    app.include_router(wandb_router(store, auth, signer or Signer()))


def wandb_router(store: Store, auth: KeyAuth | OpenAuth, signer: Signer) -> APIRouter:
    r = APIRouter(tags=["W&B-compatible (the wandb client)"], include_in_schema=False)

    def caller(request: Request) -> Principal:
        return auth.authenticate(request.headers.get("authorization"))

    async def guarded(request: Request, work: Callable[[Principal, Any], Response], error: Callable[[int, str, str], Response]) -> Response:
        try:
            who = await run_in_threadpool(caller, request)
            body = _parse(await request.body())
            return await run_in_threadpool(work, who, body)
        except Unauthorized as e:
            return error(401, f"{e} (WANDB_API_KEY must be a runtree API key: `runtree keys create`)", "UNAUTHENTICATED")
        except Forbidden as e:
            return error(403, str(e), "PERMISSION_ERROR")
        except (NoSuchRun, NoSuchFile) as e:
            return error(404, str(e), type(e).__name__)
        except (RuntreeError, ValueError) as e:
            return error(_status(e), str(e), type(e).__name__)

    @r.post("/graphql")
    async def graphql_endpoint(request: Request) -> Response:
        def work(who: Principal, body: Any) -> Response:
            ctx = graphql.Context(store, who, signer, str(request.base_url))
            status, answer = graphql.run_operation(ctx, body)
            return _json(status, answer)

        return await guarded(request, work, _gql_error)

    def _fs_error(status: int, message: str, code: str) -> Response:
        return _json(status, {"error": message}, {"WWW-Authenticate": 'Basic realm="runtree"'} if status == 401 else None)

    @r.post("/files/{entity}/{project}/{run_id}/file_stream")
    async def file_stream(request: Request, entity: str, project: str, run_id: str) -> Response:
        def work(who: Principal, body: Any) -> Response:
            who.check(entity, f" (run {entity}/{project}/{run_id})")
            run = store.find_run(entity, project, run_id)
            if run is None:
                raise NoSuchRun(f"no run {entity}/{project}/{run_id}: its UpsertBucket must come first")
            if not isinstance(body, dict):
                raise ValueError("a file_stream request is a JSON object")
            filestream.ingest(store, run, body)
            return _json(200, {})

        return await guarded(request, work, _fs_error)

    @r.get("/files/{entity}/{project}/{run_id}/{name:path}")
    async def download(request: Request, entity: str, project: str, run_id: str, name: str) -> Response:
        def work(who: Principal, body: Any) -> Response:
            run = runs.find(store, who, entity, project, run_id)
            if run is None:
                raise NoSuchRun(f"no run {entity}/{project}/{run_id}")
            data = store.read_file(run.uid, name)
            kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
            return Response(
                data, media_type=kind, headers={"Content-Disposition": f'attachment; filename="{quote(name.rsplit("/", 1)[-1])}"'}
            )

        return await guarded(request, work, _fs_error)

    @r.put(UPLOAD_PATH + "/{uid}/{name:path}")
    async def upload(request: Request, uid: str, name: str) -> Response:
        try:
            signer.check(uid, name, request.query_params.get("expires"), request.query_params.get("signature"))
        except BadSignature as e:
            return _json(403, {"error": str(e)})
        data = await request.body()
        try:
            await run_in_threadpool(store.get_run, uid)
        except NoSuchRun as e:
            return _json(404, {"error": str(e)})
        await run_in_threadpool(store.put_file, uid, name, data)
        return Response(status_code=200)

    r.include_router(links.links_router(store, auth))

    @r.api_route("/sdk/otel/v1/{rest:path}", methods=["GET", "POST"])
    async def telemetry(rest: str) -> Response:
        return Response(status_code=200, media_type="application/x-protobuf")  # an empty Export*ServiceResponse

    return r
