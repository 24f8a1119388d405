"""The web workspace's routes: many runs' series in one request, a run by its short id, shared settings, importance.

Mounted by create_app under /api/v1; each route checks the caller's key like the rest of the API.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.security import APIKeyHeader
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from runtree.domain import ids
from runtree.errors import NoSuchRun
from runtree.server import importance, series
from runtree.server.auth import KeyAuth, OpenAuth, Principal
from runtree.store.base import Store
from runtree.store.wire import run_to_json

MAX_RUNS = 500  # runs in one series or importance request
MAX_KEYS = 32
MAX_SAMPLES = 10_000
MAX_SETTING_BYTES = 256 << 10
_SCOPE = re.compile(r"^workspace/([^/]{1,200})/([^/]{1,200})$")
_key_header = APIKeyHeader(name="Authorization", auto_error=False, description="`Bearer <key>`, or HTTP Basic with `api:<key>`")


def _principal(request: Request, authorization: Annotated[str | None, Depends(_key_header)]) -> Principal:
    auth: KeyAuth | OpenAuth = request.app.state.auth
    return auth.authenticate(authorization)


Caller = Annotated[Principal, Depends(_principal)]
Key = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(lambda k: ids.check_text("key", k))]
Uid = Annotated[str, Field(pattern=ids.UID_PATTERN)]  # the one uid format (runtree.domain.ids)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeriesQuery(Body):
    uids: list[Uid] = Field(min_length=1, max_length=MAX_RUNS)
    keys: list[Key] = Field(min_length=1, max_length=MAX_KEYS, description="the metrics to read")
    x: Key | None = Field(None, description="a metric whose value in the same row each point also carries (an x axis)")
    samples: int = Field(1000, ge=2, le=MAX_SAMPLES, description="points per key and run at most (min and max per bucket)")
    smoothing: float | None = Field(None, gt=0, lt=1, description="EMA weight, applied to the full-resolution series")
    time: bool = Field(False, description="give each point's wall-clock time (_timestamp) too")


class ImportanceQuery(Body):
    uids: list[Uid] = Field(min_length=2, max_length=MAX_RUNS)
    metric: Key = Field(description="a summary metric (dotted for nested values)")
    params: list[Key] = Field(min_length=1, max_length=64, description="config keys (dotted for nested values), at most 64")


class Setting(Body):
    value: Any


def _scope(who: Principal, scope: str) -> None:
    m = _SCOPE.match(scope)
    if m is None:
        raise ValueError(f"a setting's scope is 'workspace/<entity>/<project>', not {scope[:80]!r}")
    who.check(ids.validate_entity(m.group(1)))
    ids.validate_project(m.group(2))


def workspace_routes(store: Store) -> APIRouter:
    r = APIRouter(tags=["web workspace"])

    def readable(who: Principal, uid: str) -> Any:
        run = store.get_run(uid)
        who.check(run.entity, f" (run {run.path})")
        return run

    @r.post("/query/series", summary="Many runs' downsampled (and smoothed) series of a few metrics, one answer")
    def query_series(body: SeriesQuery, who: Caller) -> Response:
        parts = []
        for uid in dict.fromkeys(body.uids):
            readable(who, uid)
            segments = store.read_segments(uid)
            if not who.admin:
                for source in sorted({s.source_uid for s in segments} - {uid}):
                    readable(who, source)
            data = series.read_series(store, segments, body.keys, body.x, body.samples, body.smoothing, body.time)
            parts.append(orjson.dumps(uid) + b":" + data)
        return Response(b'{"runs":{' + b",".join(parts) + b"}}", media_type="application/json")

    @r.get("/resolve/{ref}", summary="Runs a link names: by uid, else every readable run whose short id is `ref`")
    def resolve(ref: str, who: Caller) -> Response:
        if len(ref) > 200:
            raise ValueError("a run reference is at most 200 characters")
        try:
            found = [readable(who, ref)]
        except NoSuchRun:
            # Short ids are unique per project only; all projects are looked through (O(runs), one query).
            found = [x for x in store.list_runs() if x.id == ref and who.can(x.entity)][:20]
        if not found:
            raise NoSuchRun(f"no run has the id or uid {ref!r}")
        return Response(orjson.dumps({"runs": [run_to_json(x) for x in found]}), media_type="application/json")

    @r.get("/settings/{scope:path}", summary="A shared setting (a project's workspace layout); null when unset")
    def get_setting(scope: str, who: Caller) -> Response:
        _scope(who, scope)
        return Response(orjson.dumps({"value": store.get_setting(scope)}), media_type="application/json")

    @r.put("/settings/{scope:path}", status_code=204, summary="Replace a shared setting (a project's workspace layout)")
    async def put_setting(scope: str, request: Request, who: Caller) -> Response:
        _scope(who, scope)
        raw = await request.body()
        if len(raw) > MAX_SETTING_BYTES:
            raise ValueError(f"a setting of {len(raw)} bytes is over the limit of {MAX_SETTING_BYTES}")
        body = Setting.model_validate_json(raw)
        await run_in_threadpool(store.put_setting, scope, body.value)
        return Response(status_code=204)

    @r.post("/query/importance", summary="Correlation and random-forest importance of config keys for a summary metric")
    def query_importance(body: ImportanceQuery, who: Caller) -> Response:
        runs = [readable(who, uid) for uid in dict.fromkeys(body.uids)]
        return Response(orjson.dumps(importance.rank(runs, body.metric, body.params)), media_type="application/json")

    return r
