"""Fork and rewind as store operations: find the moment, check it, record lineage in one transaction.

Shared by every writer of runs (the SDK, the server's W&B endpoints, importers, sync). Each costs
O(depth of lineage): the run's segments and a couple of rows (its last step, the row at the fork step).
Only a moment named by a custom step metric scans that metric, to prove it never decreases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runtree.domain import ids, lineage
from runtree.domain.forkspec import STEP, ForkSpec
from runtree.domain.records import Rewind, RunRecord, Segment
from runtree.domain.steps import step_for_metric_value
from runtree.errors import NoSuchRun, StepOutOfRange, UsageError
from runtree.store.base import Store
from runtree.store.reaper import check_not_active as check_not_active  # where callers have always found it


@dataclass(frozen=True, slots=True)
class Cut:
    """Where a fork or rewind cuts a run: the step, and the wall-clock time and _runtime of its row."""

    step: int
    time: float
    runtime: float


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


def _step_of(store: Store, run: RunRecord, segments: Sequence[Segment], spec: ForkSpec, label: str) -> int:
    if spec.metric == STEP:
        return spec.step
    step_metrics = {d.get("step_metric") for d in run.metric_defs.values()}
    if spec.metric not in step_metrics:
        raise UsageError(
            f"{label}: {spec.metric!r} is not a step metric of {run.path}; name the moment by _step, or by a "
            f"metric the run declared with define_metric(..., step_metric={spec.metric!r})"
        )
    points = ((row["_step"], row[spec.metric]) for row in store.read_rows(segments) if spec.metric in row)
    return step_for_metric_value(run.path, spec.metric, spec.value, points)


def locate(store: Store, run: RunRecord, segments: Sequence[Segment], spec: ForkSpec, label: str) -> Cut:
    """The Cut that `spec` names in `run`'s visible history; StepOutOfRange beyond its last logged step.

    `label` (such as "fork_from='abc?_step=9'") starts every error message.
    """
    step = _step_of(store, run, segments, spec, label)
    last = store.last_row(segments)
    if last is None:
        raise StepOutOfRange(f"{label}: run {run.path} has logged no history yet")
    if step > last[0]:
        raise StepOutOfRange(f"{label}: step {step} is beyond the last logged step {last[0]} of run {run.path}")
    at = store.last_row(segments, at_or_before=step)
    if at is None:
        raise StepOutOfRange(f"{label}: run {run.path} has no history at or before step {step}")
    rows = list(store.read_rows(segments, min_step=at[0], max_step=at[0]))
    runtime = float(rows[0].get("_runtime", 0.0)) if rows else 0.0
    return Cut(step, at[1], runtime)


def fork(store: Store, parent: RunRecord, cut: Cut, child: RunRecord) -> list[Segment]:
    """Create `child` as a fork of `parent` at `cut`: lineage segments, no rows copied. Returns its segments."""
    segments = lineage.fork(store.read_segments(parent.uid), cut.step, child.uid, cut.time)
    store.create_run(child.evolve(parent_uid=parent.uid, fork_step=cut.step), segments)
    return segments


def rewind(store: Store, run: RunRecord, cut: Cut, now: float, **fields: Any) -> list[Segment]:
    """Rewind `run` to `cut`: cut its visible history, archive its own tail, open a new epoch. Returns its segments."""
    new_epoch = run.epoch + 1
    segments, cut_off = lineage.rewind(store.read_segments(run.uid), run.uid, cut.step, new_epoch, cut.time)
    archived = []
    for seg in cut_off:  # close the cut-off open segment at its last stored row; drop it if it holds none
        if seg.last_step is None:
            last = store.last_row([seg])
            if last is None:
                continue
            seg = Segment(seg.source_uid, seg.epoch, seg.first_step, last[0], seg.until_time)
        archived.append(seg)
    rw = Rewind(run.uid, cut.step, run.epoch, new_epoch, now, tuple(archived))
    store.rewind_run(run.uid, segments, rw, last_step=cut.step, **fields)
    return segments


def summary_only(store: Store, uid: str, epoch: int, segments: Sequence[Segment], before: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of `before` (a run's summary when it was rewound) that no row of the run ever held, in any
    epoch or inherited (run.summary["best"] = 42): they belong to the run, not to the history a rewind cut."""
    own = [Segment(uid, e, 0) for e in range(epoch + 1)]  # every epoch's rows, the archived ones included
    logged = set(store.read_aggregates(segments)) | set(store.read_aggregates(own))  # a key per logged key: no row read
    return {k: v for k, v in before.items() if k not in logged and not k.startswith("_")}


def next_name(store: Store, entity: str, project: str) -> str:
    """A readable display name numbered after the project's runs (a stored counter: the runs are not listed)."""
    return ids.make_name(store.runs_created(entity, project) + 1)
