"""How init opens a run: new, resumed, forked from another run, or rewound. Each returns a Start.

A fork or rewind reads the parent's segments and at most a couple of rows (its last step and the
timestamp at the fork step), computes the new segments with domain.lineage and stores them in one
transaction: O(depth of lineage), never O(rows). Only a fork named by a custom step metric scans that
metric, to prove it never decreases.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from runtree.domain import ids, lineage
from runtree.domain.forkspec import STEP, ForkSpec, parse_forkspec
from runtree.domain.records import RUNNING, Rewind, RunRecord, Segment
from runtree.domain.steps import step_for_metric_value
from runtree.errors import ConflictingOptions, NoSuchRun, RunExists, RunIsActive, StepOutOfRange, UsageError
from runtree.store.base import Store
from runtree.store.reaper import is_gone, process_start_time


@dataclass(frozen=True)
class Start:
    """What Run needs to begin logging."""

    record: RunRecord
    segments: list[Segment]
    starting_step: int
    runtime_offset: float
    base_rows: Callable[[], Iterable[Mapping[str, Any]]] | None  # history the summary continues from
    resumed: bool = False


@dataclass(frozen=True)
class Request:
    """The identity-related arguments of one init call, validated."""

    entity: str
    project: str
    id: str | None
    name: str | None
    config: dict[str, Any]
    tags: tuple[str, ...]
    notes: str | None
    group: str | None
    job_type: str | None
    resume: str | None  # "allow" | "must" | "never" | "auto" | None
    fork_from: str | None
    resume_from: str | None


def normalize_resume(resume: Any) -> str | None:
    if resume is None or resume is False:
        return None
    if resume is True:
        return "auto"
    if resume in ("allow", "must", "never", "auto"):
        return str(resume)
    raise UsageError(f"resume={resume!r} is not valid; allowed: 'allow', 'must', 'never', 'auto', True or False")


def check_options(req: Request) -> tuple[ForkSpec | None, ForkSpec | None]:
    """Validate the fork/resume options together, before anything is read or written."""
    given = [n for n, v in (("fork_from", req.fork_from), ("resume", req.resume), ("resume_from", req.resume_from)) if v is not None]
    if len(given) > 1:
        raise ConflictingOptions(f"{' and '.join(given)} were both given; fork_from, resume and resume_from are mutually exclusive")
    fork = parse_forkspec(req.fork_from, "fork_from") if req.fork_from is not None else None
    rewind = parse_forkspec(req.resume_from, "resume_from") if req.resume_from is not None else None
    if fork is not None and req.id is not None and req.id == fork.run:
        raise ConflictingOptions(
            f"id={req.id!r} is the run to fork_from; a fork gets a new id. To rewind {req.id!r} itself, use resume_from instead"
        )
    if rewind is not None and req.id is not None and req.id != rewind.run:
        raise ConflictingOptions(f"id={req.id!r} and resume_from={req.resume_from!r} name different runs; a rewind keeps the run's id")
    if rewind is not None and rewind.metric != STEP:
        raise UsageError(f"resume_from={req.resume_from!r}: a rewind is named by _step only")
    if req.id is not None:
        ids.validate_id(req.id)
    return fork, rewind


def resolve_run(store: Store, ref: str, entity: str, project: str, option: str) -> RunRecord:
    """The run `ref` names: its id in entity/project, else a path 'entity/project/id', else a uid."""
    if "/" in ref:
        p = ids.parse_path(ref)
        found = store.find_run(p.entity or entity, p.project or project, p.id)
    else:
        found = store.find_run(entity, project, ref)
        if found is None and ids.looks_like_uid(ref):
            try:
                found = store.get_run(ref)
            except NoSuchRun:
                found = None
    if found is None:
        raise NoSuchRun(f"{option}: no run {ref!r} in {entity}/{project}, and no run has that immutable id")
    return found


def _process_fields(now: float) -> dict[str, Any]:
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "pid_started": process_start_time(os.getpid()),
        "heartbeat_at": now,
        "updated_at": now,
        "state": RUNNING,
        "finished_at": None,
        "exit_code": None,
    }


def _check_not_active(run: RunRecord, what: str) -> None:
    if run.state == RUNNING and not is_gone(run):
        raise RunIsActive(f"cannot {what} run {run.path}: it is still running (pid {run.pid} on {run.host}); finish it first")


def _fork_step(store: Store, parent: RunRecord, segments: list[Segment], spec: ForkSpec, option: str, text: str) -> int:
    label = f"{parent.path}"
    if spec.metric == STEP:
        return spec.step
    step_metrics = {d.get("step_metric") for d in parent.metric_defs.values()}
    if spec.metric not in step_metrics:
        raise UsageError(
            f"{option}={text!r}: {spec.metric!r} is not a step metric of {label}; name the moment by _step, or by a "
            f"metric the run declared with define_metric(..., step_metric={spec.metric!r})"
        )
    points = ((row["_step"], row[spec.metric]) for row in store.read_rows(segments) if spec.metric in row)
    return step_for_metric_value(label, spec.metric, spec.value, points)


def _cut(store: Store, run: RunRecord, segments: list[Segment], step: int, option: str, text: str) -> tuple[float, float]:
    """Check `step` is within the visible history; return (timestamp, _runtime) of the last row at or before it."""
    last = store.last_row(segments)
    if last is None:
        raise StepOutOfRange(f"{option}={text!r}: run {run.path} has logged no history yet")
    if step > last[0]:
        raise StepOutOfRange(f"{option}={text!r}: step {step} is beyond the last logged step {last[0]} of run {run.path}")
    at = store.last_row(segments, at_or_before=step)
    if at is None:
        raise StepOutOfRange(f"{option}={text!r}: run {run.path} has no history at or before step {step}")
    rows = list(store.read_rows(segments, min_step=at[0], max_step=at[0]))
    runtime = float(rows[0].get("_runtime", 0.0)) if rows else 0.0
    return at[1], runtime


def fork(store: Store, req: Request, spec: ForkSpec) -> Start:
    parent = resolve_run(store, spec.run, req.entity, req.project, "fork_from")
    psegs = store.read_segments(parent.uid)
    step = _fork_step(store, parent, psegs, spec, "fork_from", req.fork_from or "")
    cut_time, runtime = _cut(store, parent, psegs, step, "fork_from", req.fork_from or "")
    uid = ids.make_uid()
    segments = lineage.fork(psegs, step, uid, cut_time)
    now = time.time()
    record = RunRecord(
        uid=uid,
        entity=req.entity,
        project=req.project,
        id=req.id or ids.make_id(),
        name=req.name or ids.make_name(len(store.list_runs(req.entity, req.project)) + 1),
        created_at=now,
        parent_uid=parent.uid,
        fork_step=step,
        config={**parent.config, **req.config},
        metric_defs=dict(parent.metric_defs),
        tags=req.tags,
        notes=req.notes,
        group=req.group or parent.group,
        job_type=req.job_type or parent.job_type,
        **_process_fields(now),
    )
    store.create_run(record, segments)
    inherited = segments[:-1]
    return Start(record, segments, step + 1, runtime, lambda: store.read_rows(inherited))


def rewind(store: Store, req: Request, spec: ForkSpec) -> Start:
    run = resolve_run(store, spec.run, req.entity, req.project, "resume_from")
    _check_not_active(run, "rewind")
    segs = store.read_segments(run.uid)
    step = spec.step
    cut_time, runtime = _cut(store, run, segs, step, "resume_from", req.resume_from or "")
    new_epoch = run.epoch + 1
    segments, cut_off = lineage.rewind(segs, run.uid, step, new_epoch, cut_time)
    archived = []
    for seg in cut_off:  # close the cut-off open segment at its last stored row; drop it if it holds none
        if seg.last_step is None:
            last = store.last_row([seg])
            if last is None:
                continue
            seg = Segment(seg.source_uid, seg.epoch, seg.first_step, last[0], seg.until_time)
        archived.append(seg)
    now = time.time()
    config = {**run.config, **req.config}
    fields: dict[str, Any] = {**_process_fields(now), "config": config, "last_step": step}
    if req.name:
        fields["name"] = req.name
    store.rewind_run(run.uid, segments, Rewind(run.uid, step, run.epoch, new_epoch, now, tuple(archived)), **fields)
    record = store.get_run(run.uid)
    kept = segments[:-1]
    return Start(record, segments, step + 1, runtime, lambda: store.read_rows(kept), resumed=True)


def resume(store: Store, req: Request, existing: RunRecord) -> Start:
    _check_not_active(existing, "resume")
    segs = store.read_segments(existing.uid)
    last = store.last_row(segs)
    step = 0 if last is None else last[0] + 1
    runtime = 0.0
    if last is not None:
        rows = list(store.read_rows(segs, min_step=last[0], max_step=last[0]))
        runtime = float(rows[0].get("_runtime", 0.0)) if rows else 0.0
    now = time.time()
    fields: dict[str, Any] = {**_process_fields(now), "config": {**existing.config, **req.config}}
    for key in ("name", "notes", "group", "job_type"):
        if getattr(req, key):
            fields[key] = getattr(req, key)
    if req.tags:
        fields["tags"] = req.tags
    store.update_run(existing.uid, **fields)
    return Start(store.get_run(existing.uid), segs, step, runtime, lambda: store.read_rows(segs), resumed=True)


def new(store: Store, req: Request) -> Start:
    uid = ids.make_uid()
    now = time.time()
    record = RunRecord(
        uid=uid,
        entity=req.entity,
        project=req.project,
        id=req.id or ids.make_id(),
        name=req.name or ids.make_name(len(store.list_runs(req.entity, req.project)) + 1),
        created_at=now,
        config=req.config,
        tags=req.tags,
        notes=req.notes,
        group=req.group,
        job_type=req.job_type,
        **_process_fields(now),
    )
    segments = lineage.new_run(uid)
    store.create_run(record, segments)
    return Start(record, segments, 0, 0.0, None)


def open_run(store: Store, req: Request, last_run_id: str | None) -> Start:
    """Dispatch one init call to new / resume / fork / rewind."""
    fork_spec, rewind_spec = check_options(req)
    if fork_spec is not None:
        return fork(store, req, fork_spec)
    if rewind_spec is not None:
        return rewind(store, req, rewind_spec)
    run_id = req.id
    if req.resume == "auto" and run_id is None:
        run_id = last_run_id
    existing = store.find_run(req.entity, req.project, run_id) if run_id else None
    if existing is not None:
        if req.resume in ("allow", "must", "auto"):
            return resume(store, req, existing)
        if req.resume == "never":
            raise RunExists(f"resume='never' but run {existing.path} already exists")
        raise RunExists(
            f"run id {run_id!r} is already taken in {req.entity}/{req.project}; pass resume='allow' to continue it, or choose another id"
        )
    if req.resume == "must":
        raise NoSuchRun(f"resume='must' but there is no run {run_id!r} in {req.entity}/{req.project}")
    return new(store, req)
