"""POST /graphql for the wandb client: its operations executed by graphql-core against runtree.server.wandb.schema.

Resolvers read and write the Store through runtree.server.wandb.runs; a run is answered as W&B shows it
(`id` the immutable uid, `name` the run id, `historyLineCount` one past the last visible step). An
operation the schema does not describe fails validation and is answered with GraphQL errors, never a crash.
A key that may not touch an entity gets HTTP 403; runtree's errors (no such run, step out of range, ...)
are GraphQL errors quoting runtree's message.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLResolveInfo, GraphQLSchema, execute, parse, validate

from runtree.domain import runfilter, wandb_format
from runtree.domain.records import RunRecord
from runtree.errors import NoSuchRun, RuntreeError, UsageError
from runtree.server.auth import Forbidden, Principal
from runtree.server.wandb import public_api, runs, schema
from runtree.server.wandb.uploads import Signer
from runtree.store.base import Store

log = logging.getLogger("runtree.server.wandb")


NO_ARTIFACTS = (
    "runtree does not store W&B artifacts (log_artifact, use_artifact, log_model, run.logged_artifacts(), and "
    "wandb.Table / wandb.plot.* in wandb clients before 0.31, which save a table as an artifact): with wandb >= 0.31 "
    "a logged Table is a media file runtree keeps with its row; see docs/wandb-compat.md"
)
_ARTIFACT_OPS = re.compile(
    r"\b(createArtifact|createArtifactManifest|createArtifactFiles|commitArtifact|useArtifact|linkArtifact|"
    r"updateArtifactManifest|completeMultipartUploadArtifact|addAliases|artifactCollection|artifactSequence|"
    r"outputArtifacts|inputArtifacts|artifactCollections|artifactTypes)\s*\("
)
CAPTURE_ENV = "RUNTREE_GRAPHQL_CAPTURE"  # a file: each operation the clients send is appended to it (tests/fixtures)


def _capture(path: str, name: Any, query: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"operationName": name, "query": query}) + "\n")


@dataclass(frozen=True)
class Context:
    """What one request's resolvers need: the store, the caller, and how to sign upload URLs."""

    store: Store
    who: Principal
    signer: Signer
    base_url: str


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))  # NaN and ±Infinity as bare tokens, as the client writes them


class RunView:
    """A run as W&B's `Run` type; each field is computed when asked for."""

    def __init__(self, ctx: Context, run: RunRecord) -> None:
        self._ctx, self._run = ctx, run
        self._last: list[tuple[int, float] | None] = []  # the last visible row, once read

    id = property(lambda self: self._run.uid)
    name = property(lambda self: self._run.id)
    displayName = property(lambda self: self._run.name)
    description = property(lambda self: self._run.notes)
    notes = property(lambda self: self._run.notes)
    state = property(lambda self: self._run.state)
    stopped = False
    sweepName = None
    tags = property(lambda self: list(self._run.tags))
    group = property(lambda self: self._run.group)
    jobType = property(lambda self: self._run.job_type)
    host = property(lambda self: self._run.host)
    eventsLineCount = 0
    eventsTail = "[]"

    @property
    def createdAt(self) -> str:
        return _iso(self._run.created_at)

    @property
    def heartbeatAt(self) -> str:
        return _iso(self._run.heartbeat_at)

    @property
    def project(self) -> ProjectView:
        return ProjectView(self._ctx, self._run.entity, self._run.project)

    @property
    def config(self) -> str:
        return _dumps(wandb_format.wrap_config(self._run.config, runs.wandb_config(self._run)))

    @property
    def summaryMetrics(self) -> str:
        return _dumps(self._run.summary)

    def wandbConfig(self, info: GraphQLResolveInfo, keys: list[str] | None = None) -> str:
        wb = runs.wandb_config(self._run)
        wb.setdefault("t", {})  # the client takes a run without telemetry `t` for one that never started
        return _dumps({k: v for k, v in wb.items() if keys is None or k in keys})

    def _last_row(self) -> tuple[int, float] | None:
        if not self._last:
            self._last.append(self._ctx.store.last_row(self._ctx.store.read_segments(self._run.uid)))
        return self._last[0]

    @property
    def historyLineCount(self) -> int:
        last = self._last_row()
        return 0 if last is None else last[0] + 1

    @property
    def historyTail(self) -> str:
        last = self._last_row()
        if last is None:
            return "[]"
        store = self._ctx.store
        rows = list(store.read_rows(store.read_segments(self._run.uid), min_step=last[0], max_step=last[0]))
        return _dumps([_dumps(r) for r in rows])

    @property
    def logLineCount(self) -> int:
        seq = self._ctx.store.last_log_seq(self._run.uid, self._run.epoch)
        return 0 if seq is None else seq + 1

    # -- what wandb.Api() reads ---------------------------------------------------------------
    commit = None
    readOnly = False
    sweep = None
    displayNameEdited = False
    summary = summaryMetrics

    @property
    def projectId(self) -> str:
        return public_api.internal_id(self._run.entity, self._run.project)

    @property
    def user(self) -> dict[str, Any]:
        return _user(self._run.entity)

    @property
    def exitcode(self) -> int | None:
        return self._run.exit_code

    systemMetrics = "{}"  # every run of a listing page asks for it: reading a run's samples would cost O(samples)

    @property
    def historyKeys(self) -> dict[str, Any]:
        return public_api.history_keys(self._ctx.store, self._run)

    @property
    def runInfo(self) -> dict[str, Any]:
        m = self._run.metadata
        return {"program": m.get("program"), "args": m.get("args"), "os": m.get("os"), "python": m.get("python")}

    def sampledHistory(self, info: GraphQLResolveInfo, specs: list[str]) -> list[Any]:
        return list(public_api.sampled_history(self._ctx.store, self._run, specs))

    def history(
        self, info: GraphQLResolveInfo, samples: int | None = None, minStep: int | None = None, maxStep: int | None = None
    ) -> list[str]:
        return public_api.history_lines(self._ctx.store, self._run, samples if samples is not None else 500, minStep, maxStep)

    def events(self, info: GraphQLResolveInfo, samples: int | None = None) -> list[str]:
        return public_api.events_lines(self._ctx.store, self._run, samples if samples is not None else 500)

    def parquetHistory(self, info: GraphQLResolveInfo, liveKeys: list[str]) -> dict[str, Any]:
        return {"parquetUrls": [], "liveData": public_api.live_rows(self._ctx.store, self._run, liveKeys)}

    @property
    def fileCount(self) -> int:
        return len(self._ctx.store.list_files(self._run.uid))

    def files(
        self,
        info: GraphQLResolveInfo,
        names: list[str | None] | None = None,
        after: str | None = None,
        first: int | None = None,
        pattern: str | None = None,
    ) -> dict[str, Any]:
        store = self._ctx.store
        chosen = public_api.select_files(store.list_files(self._run.uid), names, pattern)
        offset = int(after) if after and after.isdigit() else 0
        n = min(50 if first is None else max(first, 0), public_api.MAX_PAGE)
        page = chosen[offset : offset + n]
        updated = _iso(self._run.updated_at)
        edges = [
            {"node": public_api.file_node(store, self._run, f, self._ctx.base_url, updated), "cursor": str(offset + i + 1)}
            for i, f in enumerate(page)
        ]
        return {"edges": edges, "pageInfo": public_api.page_info(offset, len(page), offset + n < len(chosen))}

    def outputArtifacts(self, info: GraphQLResolveInfo, after: str | None = None, first: int | None = None) -> dict[str, Any]:
        return _NO_ARTIFACTS

    inputArtifacts = outputArtifacts


_NO_ARTIFACTS = {"totalCount": 0, "edges": [], "pageInfo": public_api.page_info(0, 0, False)}


def _user(entity: str) -> dict[str, Any]:
    return {
        "id": entity,
        "name": entity,
        "username": entity,
        "email": None,
        "entity": entity,
        "admin": False,
        "flags": "{}",
        "teams": {"edges": []},
        "deletedAt": None,
        "apiKeys": {"edges": []},
        "defaultEntity": EntityView(entity),
        "userEntity": EntityView(entity),
        "photoUrl": None,
    }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S")


class EntityView:
    def __init__(self, name: str, ctx: Context | None = None) -> None:
        self.id = self.name = name
        self.organization = None
        self.isTeam = False
        self.defaultAccess = "USER_READ"
        self.readOnly = False
        self._ctx = ctx

    def projects(
        self, info: GraphQLResolveInfo, after: str | None = None, first: int | None = None, order: str | None = None
    ) -> dict[str, Any]:
        return _projects(_ctx(info), self.name, after, first)


class ProjectView:
    def __init__(self, ctx: Context, entity: str, project: str) -> None:
        self._ctx = ctx
        self.id = f"{entity}/{project}"
        self.name = project
        self.entityName = entity
        self.entity = EntityView(entity)

    def bucket(self, info: GraphQLResolveInfo, name: str, missingOk: bool | None = None) -> RunView | None:
        found = runs.find(self._ctx.store, self._ctx.who, self.entityName, self.name, name)
        return None if found is None else RunView(self._ctx, found)

    def run(self, info: GraphQLResolveInfo, name: str) -> RunView | None:
        return self.bucket(info, name)

    # -- what wandb.Api() reads ---------------------------------------------------------------
    isBenchmark = False
    readOnly = False
    description = None

    @property
    def internalId(self) -> str:
        return public_api.internal_id(self.entityName, self.name)

    @property
    def user(self) -> dict[str, Any]:
        return _user(self.entityName)

    @property
    def createdAt(self) -> str:
        first = self._ctx.store.query_runs(self.entityName, self.name, None, runfilter.parse_order("+created_at"), 1)
        return _iso(first[0].created_at if first else 0.0)

    def runCount(self, info: GraphQLResolveInfo, filters: str | None = None) -> int:
        return self._ctx.store.count_runs(self.entityName, self.name, public_api.parse_filters(filters))

    def runs(
        self,
        info: GraphQLResolveInfo,
        filters: str | None = None,
        after: str | None = None,
        first: int | None = None,
        order: str | None = None,
    ) -> dict[str, Any]:
        found, page, offset = public_api.run_page(self._ctx.store, self.entityName, self.name, filters, after, first, order)
        edges = [{"node": RunView(self._ctx, r), "cursor": str(offset + i + 1)} for i, r in enumerate(found)]
        return {"edges": edges, "pageInfo": page, "totalCount": None}

    def artifact(self, info: GraphQLResolveInfo, name: str) -> None:
        return None

    def artifactType(self, info: GraphQLResolveInfo, name: str) -> None:
        return None


# -- root fields -------------------------------------------------------------------------------
def _ctx(info: GraphQLResolveInfo) -> Context:
    ctx: Context = info.context
    return ctx


def _viewer(_: None, info: GraphQLResolveInfo) -> dict[str, Any]:
    who = _ctx(info).who
    entity = runs.default_entity(who)
    teams = [{"node": EntityView(e)} for e in sorted(who.entities) if e != entity]
    return {**_user(entity), "id": who.prefix or entity, "admin": who.admin, "teams": {"edges": teams}}


def _projects(ctx: Context, entity: str | None, after: str | None, first: int | None) -> dict[str, Any]:
    ent, _ = runs.scope(ctx.who, entity, None)
    names = sorted({r.project for r in ctx.store.list_runs(ent)})
    offset = int(after) if after and after.isdigit() else 0
    n = min(50 if first is None else max(first, 0), public_api.MAX_PAGE)
    page = names[offset : offset + n]
    edges = [{"node": ProjectView(ctx, ent, p), "cursor": str(offset + i + 1)} for i, p in enumerate(page)]
    return {"edges": edges, "pageInfo": public_api.page_info(offset, len(page), offset + n < len(names))}


def _models(
    _: None, info: GraphQLResolveInfo, entityName: str | None = None, after: str | None = None, first: int | None = None, **_ignored: Any
) -> dict[str, Any]:
    return _projects(_ctx(info), entityName, after, first)


def _run_root(
    _: None, info: GraphQLResolveInfo, name: str, entityName: str | None = None, projectName: str | None = None
) -> RunView | None:
    ctx = _ctx(info)
    found = runs.find(ctx.store, ctx.who, entityName, projectName, name)
    return None if found is None else RunView(ctx, found)


def _server_info(_: None, info: GraphQLResolveInfo) -> dict[str, Any]:
    # W&B's answer when it has no version advice: the clients call .get on cliVersionInfo, so never null
    return {"features": [], "cliVersionInfo": {}, "latestLocalVersionInfo": None}


def _project(_: None, info: GraphQLResolveInfo, name: str | None = None, entityName: str | None = None) -> ProjectView:
    ctx = _ctx(info)
    entity, project = runs.scope(ctx.who, entityName, name)
    return ProjectView(ctx, entity, project)


def _entity(_: None, info: GraphQLResolveInfo, name: str) -> EntityView:
    return EntityView(name)


def _upsert_bucket(_: None, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    ctx = _ctx(info)
    run, inserted = runs.upsert(ctx.store, ctx.who, input)
    return {"bucket": RunView(ctx, run), "inserted": inserted, "serverSettings": {"serverMessages": []}}


def _rewind_run(_: None, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    ctx = _ctx(info)
    return {"rewoundRun": RunView(ctx, runs.rewind(ctx.store, ctx.who, input))}


def _run_for_files(ctx: Context, input: Mapping[str, Any]) -> RunRecord:
    run = runs.find(ctx.store, ctx.who, input["entityName"], input["projectName"], input["runName"])
    if run is None:
        raise NoSuchRun(f"no run {input['entityName']}/{input['projectName']}/{input['runName']}")
    return run


def _create_run_files(_: None, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    ctx = _ctx(info)
    run = _run_for_files(ctx, input)
    files = [{"name": f, "uploadUrl": ctx.signer.url(ctx.base_url, run.uid, f)} for f in input["files"]]
    return {"runID": run.uid, "uploadHeaders": [], "files": files}


def _create_artifact(_: None, info: GraphQLResolveInfo, input: dict[str, Any]) -> None:
    raise UsageError(NO_ARTIFACTS)


def _mark_uploaded(_: None, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    _run_for_files(_ctx(info), input)
    return {"success": True}


@functools.cache
def executable_schema() -> GraphQLSchema:
    s = schema.build()
    assert s.query_type is not None and s.mutation_type is not None
    q, m = s.query_type.fields, s.mutation_type.fields
    q["viewer"].resolve = _viewer
    q["serverInfo"].resolve = _server_info
    q["model"].resolve = _project
    q["project"].resolve = _project
    q["entity"].resolve = _entity
    q["models"].resolve = _models
    q["projects"].resolve = _models
    q["run"].resolve = _run_root
    m["upsertBucket"].resolve = _upsert_bucket
    m["rewindRun"].resolve = _rewind_run
    m["createRunFiles"].resolve = _create_run_files
    m["markRunFilesUploaded"].resolve = _mark_uploaded
    m["createArtifact"].resolve = _create_artifact
    return s


@functools.lru_cache(maxsize=256)
def _document(source: str) -> DocumentNode | list[GraphQLError]:
    """The parsed, validated operation text (the client sends the same few texts again and again)."""
    try:
        doc = parse(source)
    except GraphQLError as e:
        return [e]
    errors = validate(executable_schema(), doc)
    return errors or doc


def _formatted(errors: list[GraphQLError]) -> list[dict[str, Any]]:
    out = []
    for e in errors:
        f = dict(e.formatted)
        original = e.original_error
        if original is not None:
            f["extensions"] = {"code": "PERMISSION_ERROR" if isinstance(original, Forbidden) else type(original).__name__}
        out.append(f)
    return out


def run_operation(ctx: Context, body: Any) -> tuple[int, dict[str, Any]]:
    """Execute one GraphQL request body; (HTTP status, answer)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("query"), str):
        return 400, {"errors": [{"message": 'a GraphQL request is a JSON object with a "query" string'}]}
    name = body.get("operationName") or None  # wandb 0.31's Api sends "" for "the only operation"
    variables = body.get("variables")
    capture = os.environ.get(CAPTURE_ENV)
    if capture:
        _capture(capture, name, body["query"])
    doc = _document(body["query"])
    if isinstance(doc, list) and _ARTIFACT_OPS.search(body["query"]):
        log.info("graphql %s refused: artifacts are not stored", name)
        return 200, {"data": None, "errors": [{"message": NO_ARTIFACTS, "extensions": {"code": "NotServed"}}]}
    if isinstance(doc, list):
        log.warning("graphql %s refused: %s", name, "; ".join(e.message for e in doc))
        return 200, {"data": None, "errors": [dict(e.formatted) for e in doc]}
    result = execute(
        executable_schema(),
        doc,
        context_value=ctx,
        variable_values=dict(variables) if isinstance(variables, Mapping) else None,
        operation_name=name if isinstance(name, str) else None,
    )
    assert not hasattr(result, "__await__"), "resolvers are synchronous"
    answer: dict[str, Any] = {"data": result.data}  # type: ignore[union-attr]
    errors: list[GraphQLError] = list(result.errors or [])  # type: ignore[union-attr]
    status = 200
    if errors:
        answer["errors"] = _formatted(errors)
        for e in errors:
            original = e.original_error
            if isinstance(original, Forbidden):
                status = 403
            elif original is not None and not isinstance(original, RuntreeError | ValueError):
                log.error("graphql %s failed", name, exc_info=original)
        log.info("graphql %s: %s", name, "; ".join(e.message for e in errors))
    else:
        log.info("graphql %s", name)
    return status, answer
