"""Notice runs whose training process is gone and mark them crashed.

A run records the host, pid and process start time of the process logging it, and a heartbeat its
writer refreshes. A `running` run is crashed when, on this host, that process no longer exists (or the
pid now belongs to a younger process), or when, from any host, its heartbeat is older than STALE_AFTER.
"""

from __future__ import annotations

import socket
import time

import psutil

from runtree.domain.records import CRASHED, RUNNING, RunRecord
from runtree.errors import RunIsActive
from runtree.store.base import Store

STALE_AFTER = 300.0  # seconds without a heartbeat before a run on another host counts as crashed


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


def reap(store: Store, runs: list[RunRecord]) -> list[RunRecord]:
    """Mark the gone runs among `runs` crashed in the store; return the list with states updated."""
    out = []
    for run in runs:
        if is_gone(run):
            store.update_run(run.uid, state=CRASHED)
            run = run.evolve(state=CRASHED)
        out.append(run)
    return out
