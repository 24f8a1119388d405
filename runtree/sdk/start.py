"""How init opens a run: new, resumed, forked from another run, or rewound. Each returns a Start.

The lineage work (find the moment, check it, record segments) is runtree.store.forking's, shared with the
server and the importers; this module adds what a logging process needs: options checked together, its
host/pid on the run, the step to go on from, and the aggregates of the inherited history its summary continues
from (combined per chunk by the store, so a fork of a long run reads no rows of it).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtree.domain import ids, lineage
from runtree.domain.chunks import Agg
from runtree.domain.forkspec import STEP, ForkSpec, parse_forkspec
from runtree.domain.records import RUNNING, RunRecord, Segment
from runtree.errors import ConflictingOptions, NoSuchRun, RunExists, UsageError
from runtree.store import forking
from runtree.store.base import Store
from runtree.store.reaper import process_start_time


@dataclass(frozen=True)
class Start:
    """What Run needs to begin logging."""

    record: RunRecord
    segments: list[Segment]
    starting_step: int
    runtime_offset: float
    base_summary: Callable[[], Mapping[str, Agg]] | None  # aggregates of the history the summary continues from
    resumed: bool = False
    summary_seed: Mapping[str, Any] = field(default_factory=dict)  # set by hand, never logged: kept (run.summary["best"])


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


def fork(store: Store, req: Request, spec: ForkSpec) -> Start:
    parent = forking.resolve_run(store, spec.run, req.entity, req.project, "fork_from")
    psegs = store.read_segments(parent.uid)
    cut = forking.locate(store, parent, psegs, spec, f"fork_from={req.fork_from!r}")
    now = time.time()
    child = _record(
        store,
        req,
        now,
        config={**parent.config, **req.config},
        metric_defs=dict(parent.metric_defs),
        group=req.group or parent.group,
        job_type=req.job_type or parent.job_type,
    )
    segments = forking.fork(store, parent, cut, child)
    inherited = segments[:-1]
    return Start(store.get_run(child.uid), segments, cut.step + 1, cut.runtime, lambda: store.read_aggregates(inherited))


def rewind(store: Store, req: Request, spec: ForkSpec) -> Start:
    run = forking.resolve_run(store, spec.run, req.entity, req.project, "resume_from")
    forking.check_not_active(run, "rewind")
    cut = forking.locate(store, run, store.read_segments(run.uid), spec, f"resume_from={req.resume_from!r}")
    now = time.time()
    fields: dict[str, Any] = {**_process_fields(now), "config": {**run.config, **req.config}}
    if req.name:
        fields["name"] = req.name
    # Taken by the same atomic claim as resume: of two processes rewinding (or resuming) at once, one gets the run.
    store.claim_run(run.uid, **_process_fields(now))
    try:
        segments = forking.rewind(store, run, cut, now, **fields)
    except BaseException:  # give the run back as it was, or it would be reaped as crashed once this process ends
        store.update_run(
            run.uid, **{k: getattr(run, k) for k in ("state", "host", "pid", "pid_started", "heartbeat_at", "finished_at", "exit_code")}
        )
        raise
    kept = segments[:-1]
    seed = forking.summary_only(store, run.uid, run.epoch, segments, run.summary)
    return Start(
        store.get_run(run.uid), segments, cut.step + 1, cut.runtime, lambda: store.read_aggregates(kept), resumed=True, summary_seed=seed
    )


def resume(store: Store, req: Request, existing: RunRecord) -> Start:
    forking.check_not_active(existing, "resume")  # the common refusal, before any history is read
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
    # The claim: the liveness check and the takeover in one transaction, so of two processes resuming at once
    # exactly one gets the run and the other RunIsActive naming its host and pid.
    claimed = store.claim_run(existing.uid, **fields)
    seed = forking.summary_only(store, existing.uid, existing.epoch, segs, existing.summary)
    return Start(claimed, segs, step, runtime, lambda: store.read_aggregates(segs), resumed=True, summary_seed=seed)


def _record(store: Store, req: Request, now: float, **fields: Any) -> RunRecord:
    """A new run's record as `req` describes it; `fields` override (a fork's inherited config, ...)."""
    base: dict[str, Any] = {
        "config": req.config,
        "tags": req.tags,
        "notes": req.notes,
        "group": req.group,
        "job_type": req.job_type,
        **_process_fields(now),
        **fields,
    }
    return RunRecord(
        uid=ids.make_uid(),
        entity=req.entity,
        project=req.project,
        id=req.id or ids.make_id(),
        name=req.name or forking.next_name(store, req.entity, req.project),
        created_at=now,
        **base,
    )


def new(store: Store, req: Request) -> Start:
    record = _record(store, req, time.time())
    segments = lineage.new_run(record.uid)
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
