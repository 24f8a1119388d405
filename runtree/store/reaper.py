"""Notice runs whose training process is gone, mark them crashed, and repair what the crash left stale.

A run records the host, pid and process start time of the process logging it, and a heartbeat its
writer refreshes (every 5 s from the SDK; the wandb client's file_stream posts at least every 30 s). A
`running` run is crashed when, on this host, that process no longer exists (or the pid now belongs to a
younger process), or when, from any host, its heartbeat is older than STALE_AFTER. Marking it crashed
recomputes its summary and last step from the rows that were stored (a kill -9 leaves them behind the
history), in one conditional update, so a run that finished or beat meanwhile is left alone. A server
runs `Reaper` in the background, so a killed run does not stay `running` until someone reads it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

import psutil

from runtree.domain.records import CRASHED, RUNNING, RunRecord
from runtree.domain.summary import MetricDef, SummaryBuilder
from runtree.errors import RunIsActive
from runtree.store.base import Store

log = logging.getLogger("runtree")
# Seconds without a heartbeat before a run on another host counts as crashed: three of the wandb client's
# 30 s file_stream beats missed, eighteen of the SDK's. A server outage longer than this marks a spooling
# run crashed until its spool drains (the drain writes its state back).
STALE_AFTER = float(os.environ.get("RUNTREE_STALE_AFTER") or 90.0)
REAP_INTERVAL = float(os.environ.get("RUNTREE_REAP_INTERVAL") or 15.0)  # seconds between a server's passes over its running runs


def process_start_time(pid: int) -> float | None:
    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.Error, OSError):
        return None


def is_gone(run: RunRecord, now: float | None = None) -> bool:
    """True when the process that logs `run` has certainly stopped without finishing it."""
    if run.state != RUNNING:
        return False
    now = time.time() if now is None else now
    if run.host == socket.gethostname() and run.pid is not None:
        started = process_start_time(run.pid)
        if started is None:
            return True
        # A different start time means the pid was reused by another process.
        return run.pid_started is not None and abs(started - run.pid_started) > 1.0
    return now - run.heartbeat_at > STALE_AFTER


def check_not_active(run: RunRecord, what: str) -> None:
    """Refuse to rewind or resume a run whose process is still logging it (the stores' claim_run calls this in its transaction)."""
    if run.state == RUNNING and not is_gone(run):
        raise RunIsActive(f"cannot {what} run {run.path}: it is still running (pid {run.pid} on host {run.host}); finish it first")


def stored_state(store: Store, run: RunRecord) -> dict[str, Any]:
    """The run's summary and last step as its stored rows make them (hand-set summary keys kept)."""
    segments = store.read_segments(run.uid)
    builder = SummaryBuilder({name: MetricDef.from_json(name, d) for name, d in run.metric_defs.items()})
    builder.add_all(store.read_rows(segments))
    last = store.last_row(segments)
    return {"summary": {**run.summary, **builder.result()}, "last_step": None if last is None else last[0]}


def reap(store: Store, runs: list[RunRecord]) -> list[RunRecord]:
    """Mark the gone runs among `runs` crashed in the store (summary and last step repaired); return the list updated."""
    if getattr(store, "reaps_itself", False):  # a runtree server: its own Reaper does it, next to the rows
        return runs
    out = []
    for run in runs:
        if is_gone(run):
            fields = stored_state(store, run)
            marked = store.mark_crashed(run.uid, run.heartbeat_at, **fields)
            # Not marked: it finished, beat or was resumed meanwhile; show it as it is now.
            run = run.evolve(state=CRASHED, **fields) if marked else store.get_run(run.uid)
        out.append(run)
    return out


class Reaper(threading.Thread):
    """A server's background pass every `interval` seconds over the runs still `running`."""

    def __init__(self, store: Store, interval: float = REAP_INTERVAL) -> None:
        super().__init__(name="runtree-reaper", daemon=True)
        self.store, self.interval = store, interval
        self._stop = threading.Event()
        self.reaped = 0

    def run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                for run in reap(self.store, self.store.running_runs()):
                    self.reaped += run.state == CRASHED
            except Exception as e:  # a database restart: the next pass tries again
                log.warning("runtree: the reaper's pass failed: %s", e)

    def stop(self) -> None:
        self._stop.set()
