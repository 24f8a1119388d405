"""Runs as the wandb client makes them: upsert (new, fork, update, resume), rewind, and the run as W&B shows it.

The lineage work is runtree.store.forking's, as for the SDK: a fork named by `_wandb.branch_point` on a new
run's first UpsertBucket becomes a runtree fork (segments, no rows copied); RewindRun becomes a runtree rewind.
W&B's `_wandb` config entry (telemetry, metric definitions, environment, branch point) is kept apart from the
user's config, in `metadata["wandb"]["config"]`; its metric definitions become the run's `metric_defs`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from runtree.domain import ids, lineage, wandb_format
from runtree.domain.forkspec import STEP, ForkSpec
from runtree.domain.records import RUNNING, RunRecord, Segment
from runtree.errors import NoSuchRun, StepOutOfRange, UsageError
from runtree.server.auth import Principal
from runtree.store import forking
from runtree.store.base import Store

DEFAULT_PROJECT = "uncategorized"
FORK_WAIT = 20.0  # seconds a fork waits for its parent's history to arrive (wandb sync uploads runs at once)
SUMMARY_BEFORE_REWIND = "summary_before_rewind"  # metadata["wandb"] entry: the summary when the run was last rewound
ADMIN_ENTITY = "admin"  # the default entity of an admin key, which is limited to no entity
# Run fields an UpsertBucket may set, by its input's names.
_FIELDS = {"displayName": "name", "notes": "notes", "description": "notes", "groupName": "group", "jobType": "job_type", "host": "host"}


def default_entity(who: Principal) -> str:
    """The entity a run goes to when the client names none: the key's first entity (an admin key's: 'admin')."""
    return min(who.entities) if who.entities else ADMIN_ENTITY


def scope(who: Principal, entity: str | None, project: str | None) -> tuple[str, str]:
    """(entity, project) for a request, the caller's default entity filled in; Forbidden when it may not touch it."""
    ent = entity or default_entity(who)
    who.check(ent)
    return ent, project or DEFAULT_PROJECT


def wandb_config(run: RunRecord) -> dict[str, Any]:
    """The run's `_wandb` config entry as the wandb client last sent it ({} for a run runtree's SDK logged)."""
    wb = run.metadata.get("wandb")
    cfg = wb.get("config") if isinstance(wb, Mapping) else None
    return dict(cfg) if isinstance(cfg, Mapping) else {}


def _with_wandb(run: RunRecord, wb: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """The run's metadata with the client's `_wandb` entry, and its environment as runtree records one."""
    meta = {**run.metadata, **wandb_format.environment(wb)}
    prev = meta.get("wandb")
    meta["wandb"] = {**(prev if isinstance(prev, Mapping) else {}), "config": dict(wb), **extra}
    return meta


def _parse_config(text: str | None) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    if not text:
        return None, {}
    try:
        raw = json.loads(text)
    except ValueError as e:
        raise UsageError(f"config is not JSON: {e}") from None
    if not isinstance(raw, dict):
        raise UsageError(f"config must be a JSON object, got {type(raw).__name__}")
    return wandb_format.split_config(raw)


def _parse_summary(text: str, run: RunRecord) -> dict[str, Any]:
    """wandb.Api's summary.update(): the whole new summary, W&B's shape; runtree's `_step`, `_runtime`, `_timestamp` stay."""
    try:
        raw = json.loads(text)
    except ValueError as e:
        raise UsageError(f"summaryMetrics is not JSON: {e}") from None
    if not isinstance(raw, dict):
        raise UsageError(f"summaryMetrics must be a JSON object, got {type(raw).__name__}")
    summary = wandb_format.flatten_summary(raw, run.metric_defs)
    for k in wandb_format.SPECIAL_KEYS:
        summary.pop(k, None)
        if k in run.summary:
            summary[k] = run.summary[k]
    return summary


def upsert(store: Store, who: Principal, inp: Mapping[str, Any]) -> tuple[RunRecord, bool]:
    """UpsertBucket: (the run, whether it was created). A new run with a branch point is a fork of that run."""
    entity, project = scope(who, inp.get("entityName"), inp.get("modelName"))
    user_cfg, wb = _parse_config(inp.get("config"))
    existing = _existing(store, who, inp, entity, project)
    now = time.time()
    if existing is not None:
        bp = wandb_format.branch_point(wb)
        if bp is not None and bp[0] == existing.id and existing.state != RUNNING and not _rewound_at(store, existing, bp[1]):
            # `wandb sync` of an offline rewind by clients before 0.22 sends no RewindRun, only this branch point
            # naming the run itself: rewind here, or its rows would land on the old steps and be dropped as resent.
            rw = {"runName": existing.id, "entityName": entity, "projectName": project, "metricName": STEP, "metricValue": bp[1]}
            existing = rewind(store, who, rw)
        return _update(store, existing, inp, user_cfg, wb, now), False
    run_id = inp.get("name") or ids.make_id()
    ids.validate_id(run_id)
    defs = wandb_format.metric_defs(wb.get("m"))
    tags = tuple(inp.get("tags") or ())
    record = RunRecord(
        uid=ids.make_uid(),
        entity=entity,
        project=project,
        id=run_id,
        name=inp.get("displayName") or forking.next_name(store, entity, project),
        created_at=now,
        updated_at=now,
        heartbeat_at=now,
        config=user_cfg or {},
        metric_defs=defs,
        tags=tags,
        notes=inp.get("notes"),
        group=inp.get("groupName"),
        job_type=inp.get("jobType"),
        host=inp.get("host"),
        metadata={**wandb_format.environment(wb), "wandb": {"config": wb}},
    )
    bp = wandb_format.branch_point(wb)
    if bp is None or bp[0] == run_id:  # a rewind's branch point names the run itself: RewindRun came first
        store.create_run(record, [Segment(record.uid, 0, 0)])
        return record, True
    parent, cut, psegs = _fork_point(store, who, entity, project, bp)
    record = record.evolve(
        config={**parent.config, **record.config},
        metric_defs={**parent.metric_defs, **defs},
        group=record.group or parent.group,
        job_type=record.job_type or parent.job_type,
        parent_uid=parent.uid,
        fork_step=cut.step,
    )
    store.create_run(record, lineage.fork(psegs, cut.step, record.uid, cut.time))
    return store.get_run(record.uid), True


def _rewound_at(store: Store, run: RunRecord, step: int) -> bool:
    rewinds = store.list_rewinds(run.uid)
    return bool(rewinds) and rewinds[-1].at_step == step


def _fork_point(
    store: Store, who: Principal, entity: str, project: str, bp: tuple[str, int]
) -> tuple[RunRecord, forking.Cut, list[Segment]]:
    """The parent, the Cut a branch point names and the parent history it cuts. `wandb sync` uploads a parent
    and its forks at once, so a parent not there yet, or still running short of the step, is waited for
    (FORK_WAIT seconds at most); a parent rewound below the step since (its rewind synced first) is forked
    as it was before the rewind, from its archived rows."""
    label = f"fork_from='{bp[0]}?_step={bp[1]}'"
    spec = ForkSpec(bp[0], STEP, bp[1])
    deadline = time.monotonic() + FORK_WAIT
    while True:
        try:
            parent = forking.resolve_run(store, bp[0], entity, project, "fork_from")
            who.check(parent.entity, f" (fork_from names run {parent.path})")
            psegs = store.read_segments(parent.uid)
            try:
                return parent, forking.locate(store, parent, psegs, spec, label), psegs
            except StepOutOfRange:
                before = _before_rewinds(store, parent, psegs, bp[1])
                if before is None:
                    raise
                return parent, forking.locate(store, parent, before, spec, label), before
        except (NoSuchRun, StepOutOfRange) as e:
            still_coming = isinstance(e, NoSuchRun) or parent.state == RUNNING
            if not still_coming or time.monotonic() >= deadline:
                raise
        time.sleep(0.25)


def _before_rewinds(store: Store, run: RunRecord, segments: list[Segment], step: int) -> list[Segment] | None:
    """The run's history as it was before its latest rewinds, back to the first that held `step`; None if none did."""
    segs = segments
    for rw in reversed(store.list_rewinds(run.uid)):
        segs = [*lineage.clip(segs, rw.at_step, None), *rw.archived]
        last = store.last_row(segs)
        if last is not None and last[0] >= step:
            return segs
    return None


def _existing(store: Store, who: Principal, inp: Mapping[str, Any], entity: str, project: str) -> RunRecord | None:
    storage_id = inp.get("id")
    if storage_id:
        try:
            run = store.get_run(storage_id)
        except NoSuchRun:
            run = None
        if run is not None:
            who.check(run.entity, f" (run {run.path})")
            return run
    return store.find_run(entity, project, inp["name"]) if inp.get("name") else None


def _update(
    store: Store, run: RunRecord, inp: Mapping[str, Any], user_cfg: dict[str, Any] | None, wb: dict[str, Any], now: float
) -> RunRecord:
    fields: dict[str, Any] = {"updated_at": now, "heartbeat_at": now}
    for key, field in _FIELDS.items():
        if inp.get(key):
            fields[field] = inp[key]
    if inp.get("tags") is not None:
        fields["tags"] = tuple(inp["tags"])
    if user_cfg is not None:
        fields["config"] = {**run.config, **user_cfg}  # a fork's inherited keys stay; the client sends only its own
    if inp.get("summaryMetrics"):
        fields["summary"] = _parse_summary(inp["summaryMetrics"], run)
    extra: dict[str, Any] = {}
    if run.state != RUNNING and (inp.get("host") or inp.get("program") or inp.get("jobProgram")):
        # The first upsert of a client starting on a run that had stopped: a resume (RunResumeStatus came first).
        fields.update(state=RUNNING, finished_at=None, exit_code=None)
        extra["resumed"] = True
        extra["step_shift"] = None  # a new client numbers its rows itself: filestream decides again
    if wb:
        fields["metric_defs"] = {**run.metric_defs, **wandb_format.metric_defs(wb.get("m"))}
    if wb or extra:
        fields["metadata"] = _with_wandb(run, wb or wandb_config(run), **extra)
    store.update_run(run.uid, **fields)
    return store.get_run(run.uid)


def rewind(store: Store, who: Principal, inp: Mapping[str, Any]) -> RunRecord:
    """RewindRun: the run cut at metricValue (a `_step`), the rest archived, a new epoch open and running."""
    entity, project = scope(who, inp.get("entityName"), inp.get("projectName"))
    name, metric, value = inp["runName"], inp["metricName"], inp["metricValue"]
    label = f"resume_from='{name}?{metric}={value:g}'"
    if metric != STEP:
        raise UsageError(f"{label}: a rewind is named by _step only")
    if value < 0 or value != int(value):
        raise UsageError(f"{label}: _step must be a non-negative integer")
    run = forking.resolve_run(store, name, entity, project, "resume_from")
    who.check(run.entity, f" (run {run.path})")
    forking.check_not_active(run, "rewind")
    cut = forking.locate(store, run, store.read_segments(run.uid), ForkSpec(name, STEP, int(value)), label)
    now = time.time()
    fields: dict[str, Any] = {"state": RUNNING, "finished_at": None, "exit_code": None, "heartbeat_at": now, "updated_at": now}
    # The summary as it stood: its keys never logged as history (run.summary["best"] = 42) belong to the run,
    # not to the cut history; filestream keeps them when the rewound run ends.
    wb = run.metadata.get("wandb")
    wb = dict(wb) if isinstance(wb, Mapping) else {}
    before = wb.get(SUMMARY_BEFORE_REWIND)
    wb[SUMMARY_BEFORE_REWIND] = {**(before if isinstance(before, Mapping) else {}), **run.summary}
    fields["metadata"] = {**run.metadata, "wandb": wb}
    forking.rewind(store, run, cut, now, **fields)
    return store.get_run(run.uid)


def find(store: Store, who: Principal, entity: str | None, project: str | None, name: str) -> RunRecord | None:
    """The run entity/project/name (a uid also names it), if the caller may see it."""
    ent, proj = scope(who, entity, project)
    try:
        run = forking.resolve_run(store, name, ent, proj, "run")
    except NoSuchRun:
        return None
    who.check(run.entity, f" (run {run.path})")
    return run
