"""Copy runs from one Store into another (an offline or spooled store into a server), idempotently.

The destination is its own watermark: for every (run, epoch) only rows above its last stored step,
system samples after its last sample and console lines after its last seq are sent, so a sync that is
interrupted and run again neither loses nor resends anything. A run is created `running` under the
syncing process and gets its own state (finished, ...) only after its last row, so an interrupted sync
shows it crashed, never finished with part of its history. Parents go before their forks; a run's
rewinds are replayed in order. Runs keep their uid, so lineage survives the copy without translation.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeVar

from runtree.domain.records import RUNNING, RunRecord, Segment
from runtree.errors import NoSuchRun, RunExists
from runtree.store.base import Store
from runtree.store.columns import UPDATABLE
from runtree.store.reaper import process_start_time

T = TypeVar("T")
BATCH = 5000
HEARTBEAT = 20.0  # seconds between heartbeats of a run being copied (the reaper's STALE_AFTER is 90)
_COPIED_FIELDS = sorted(UPDATABLE - {"epoch"})  # epoch moves only through rewinds


@dataclass
class SyncReport:
    """What one sync did."""

    runs_created: int = 0
    runs_updated: int = 0
    rows: int = 0
    samples: int = 0
    lines: int = 0
    files: int = 0
    skipped: list[str] = field(default_factory=list)


def parents_first(runs: Sequence[RunRecord]) -> list[RunRecord]:
    """`runs` ordered so that a run comes after the run it was forked from (when both are in the list)."""
    by_uid = {r.uid: r for r in runs}
    out: list[RunRecord] = []
    seen: set[str] = set()

    def visit(r: RunRecord) -> None:
        if r.uid in seen:
            return
        seen.add(r.uid)
        if r.parent_uid in by_uid:
            visit(by_uid[r.parent_uid])
        out.append(r)

    for r in runs:
        visit(r)
    return out


def _batches(items: Iterable[T], size: int = BATCH) -> Iterable[list[T]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def _this_process() -> dict[str, Any]:
    now = time.time()
    pid = os.getpid()
    return {"state": RUNNING, "host": socket.gethostname(), "pid": pid, "pid_started": process_start_time(pid),
            "heartbeat_at": now, "finished_at": None, "exit_code": None}  # fmt: skip


def sync_run(src: Store, dst: Store, run: RunRecord, report: SyncReport) -> None:
    """Bring `run` (and all its epochs, archived ones included) in `dst` up to date with `src`."""
    try:
        have: RunRecord | None = dst.get_run(run.uid)
    except NoSuchRun:
        have = None
    segments = src.read_segments(run.uid)
    if have is None:
        other = dst.find_run(run.entity, run.project, run.id)
        if other is not None:
            report.skipped.append(f"{run.path}: the destination has another run with this id (uid {other.uid})")
            return
        # Until its last row is there the copy is `running` under this process: an interrupted sync leaves it
        # to be marked crashed (its summary repaired from what arrived), never `finished` with partial history.
        copy = run.evolve(epoch=0) if run.state == RUNNING else run.evolve(epoch=0, **_this_process())
        dst.create_run(copy, [Segment(run.uid, 0, 0)] if src.list_rewinds(run.uid) else segments)
        report.runs_created += 1
        have = dst.get_run(run.uid)
        beat = run.state != RUNNING
    else:
        report.runs_updated += 1
        beat = False
    last_beat = time.monotonic()
    # Rewinds the destination has not seen yet, in order; each leaves the final segments in place.
    done = len(dst.list_rewinds(run.uid))
    for rw in src.list_rewinds(run.uid)[done:]:
        dst.rewind_run(run.uid, segments, rw)
    for epoch in range(run.epoch + 1):
        whole = [Segment(run.uid, epoch, 0)]
        last = dst.last_row(whole)
        start = 0 if last is None else last[0] + 1
        for batch in _batches(src.read_rows([Segment(run.uid, epoch, start)])):
            rows = [(int(r["_step"]), float(r.get("_timestamp", 0.0)), r) for r in batch]
            dst.append_rows(run.uid, epoch, rows)
            report.rows += len(rows)
            if beat and time.monotonic() - last_beat > HEARTBEAT:
                dst.update_run(run.uid, heartbeat_at=time.time())  # a long copy is alive, not crashed
                last_beat = time.monotonic()
        last_ts = max((ts for ts, _ in dst.read_system(whole)), default=float("-inf"))
        samples = [(ts, v) for ts, v in src.read_system(whole) if ts > last_ts]
        for sample_batch in _batches(samples):
            dst.append_system(run.uid, epoch, sample_batch)
            report.samples += len(sample_batch)
        last_seq = dst.last_log_seq(run.uid, epoch)
        have_lines = -1 if last_seq is None else last_seq
        src_seq = src.last_log_seq(run.uid, epoch)
        if src_seq is not None and src_seq > have_lines:
            lines = list(src.read_logs(whole))
            # Console seqs number the lines of an epoch from 0 without gaps, so a line's seq is its index.
            first = src_seq + 1 - len(lines)
            new = [(first + i, *line) for i, line in enumerate(lines) if first + i > have_lines]
            for line_batch in _batches(new):
                dst.append_logs(run.uid, epoch, line_batch)
                report.lines += len(line_batch)
    have_files = set(dst.list_files(run.uid))
    for name in src.list_files(run.uid):
        if name not in have_files:
            dst.put_file(run.uid, name, src.read_file(run.uid, name))
            report.files += 1
    # Last, the run's fields: state, summary, config... as the source has them now.
    fresh = src.get_run(run.uid)
    dst.update_run(run.uid, **{f: getattr(fresh, f) for f in _COPIED_FIELDS})


def sync(
    src: Store,
    dst: Store,
    runs: Sequence[RunRecord] | None = None,
    progress: Callable[[RunRecord], None] | None = None,
) -> SyncReport:
    """Copy `runs` (default: every run of `src`) into `dst`; safe to repeat."""
    report = SyncReport()
    for run in parents_first(list(runs) if runs is not None else src.list_runs()):
        try:
            sync_run(src, dst, run, report)
        except (RunExists, NoSuchRun) as e:
            report.skipped.append(f"{run.path}: {e}")
        if progress is not None:
            progress(run)
    return report
