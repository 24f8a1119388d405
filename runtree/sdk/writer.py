"""The background writer: batches what the training thread logs into the Store, off the training thread.

The training thread only appends to deques (lock-free in CPython); this thread wakes every
`flush_interval` seconds, or when a queue grows large, writes one batch per stream in one transaction,
folds rows into the run's summary and refreshes its heartbeat. A kill -9 loses at most the rows of the
last interval; a store error is retried, never raised into the training loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from runtree.domain.chunks import Agg
from runtree.domain.summary import SummaryBuilder
from runtree.store.base import Store

log = logging.getLogger("runtree")

Row = tuple[int, float, dict[str, Any]]
_KICK = 20_000  # rows queued before the writer is woken early


class Writer:
    """Owns a run's pending rows, system samples and console lines until they are stored."""

    def __init__(
        self,
        store: Store,
        uid: str,
        epoch: int,
        summary: SummaryBuilder,
        *,
        flush_interval: float = 0.2,
        max_queue: int = 200_000,
        heartbeat_interval: float = 5.0,
        base_summary: Callable[[], Mapping[str, Agg]] | None = None,
    ) -> None:
        self.store, self.uid, self.epoch = store, uid, epoch
        self.summary = summary
        self.flush_interval = flush_interval
        self.max_queue = max_queue
        self.heartbeat_interval = heartbeat_interval
        self._base_summary = base_summary
        self._rows: deque[Row] = deque()
        self._system: deque[tuple[float, dict[str, Any]]] = deque()
        self._logs: deque[tuple[int, float, int | None, str, str]] = deque()
        self._fields: dict[str, Any] = {}
        self._lock = threading.Lock()  # guards summary and _fields against the training thread
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._queued = 0  # items handed over, for sync()
        self._written = 0
        self._stop = False
        self._summary_dirty = False
        self._last_step: int | None = None
        self._last_meta = 0.0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name=f"runtree-writer-{uid[:8]}", daemon=True)
        self._thread.start()

    # -- the training thread's side ----------------------------------------------------------
    def put(self, step: int, ts: float, row: dict[str, Any]) -> None:
        q = self._rows
        q.append((step, ts, row))
        self._queued += 1
        n = len(q)
        if n >= _KICK and n % _KICK == 0:
            self._wake.set()
        if n >= self.max_queue:
            self._wait_for_room()

    def put_system(self, ts: float, values: dict[str, Any]) -> None:
        self._system.append((ts, values))

    def put_log(self, seq: int, ts: float, step: int | None, stream: str, text: str) -> None:
        self._logs.append((seq, ts, step, stream, text))

    def set_fields(self, **fields: Any) -> None:
        """Queue run fields (config, tags, ...) to store with the next batch."""
        with self._lock:
            self._fields.update(fields)
        self._wake.set()

    def touch_summary(self) -> None:
        """The summary was changed by hand: store it with the next batch."""
        self._summary_dirty = True
        self._wake.set()

    def _wait_for_room(self) -> None:
        self._wake.set()
        while len(self._rows) >= self.max_queue and self._thread.is_alive():
            time.sleep(0.001)

    def sync(self, timeout: float | None = None) -> None:
        """Wait until everything handed over so far is stored and folded into the summary."""
        target = self._queued
        deadline = None if timeout is None else time.monotonic() + timeout
        self._wake.set()
        with self._idle:
            while self._written < target and self._thread.is_alive():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return
                self._idle.wait(0.05 if left is None else min(left, 0.05))
                self._wake.set()

    def close(self, **final_fields: Any) -> None:
        """Store everything left, then `final_fields` with the summary; stop the thread."""
        with self._lock:
            self._fields.update(final_fields)
        self._stop = True
        self._wake.set()
        self._thread.join()
        if self.error is not None and (self._rows or self._system or self._logs):
            log.error("runtree: could not store %d rows of run %s: %s", len(self._rows), self.uid, self.error)

    # -- the writer thread -----------------------------------------------------------------
    def _loop(self) -> None:
        if self._base_summary is not None:
            try:
                aggs = self._base_summary()  # per-key aggregates of the inherited history: no parent row is read
                with self._lock:
                    self.summary.absorb(aggs)
                self._summary_dirty = True
            except Exception as e:  # the summary is then built from this run's own rows only
                log.warning("runtree: could not read inherited history for the summary of %s: %s", self.uid, e)
        backoff = 0.0
        while True:
            self._wake.wait(self.flush_interval + backoff)
            self._wake.clear()
            stopping = self._stop
            try:
                self._flush(final=stopping)
                backoff = 0.0
            except Exception as e:
                self.error = e
                backoff = min(5.0, max(0.5, backoff * 2))
                log.warning("runtree: storing a batch of run %s failed, retrying in %.1fs: %s", self.uid, backoff, e)
                if stopping and backoff >= 5.0:
                    return
                continue
            if stopping:
                return

    def _flush(self, final: bool) -> None:
        rows = _take(self._rows)
        try:
            if rows:
                self.store.append_rows(self.uid, self.epoch, rows)
        except BaseException:
            self._rows.extendleft(reversed(rows))
            raise
        if rows:
            with self._lock:
                add = self.summary.add
                for _step, _ts, row in rows:
                    add(row)
            self._last_step = rows[-1][0]
            self._summary_dirty = True
        for q, append in ((self._system, self.store.append_system), (self._logs, self.store.append_logs)):
            items = _take(q)
            try:
                append(self.uid, self.epoch, items)  # type: ignore[operator]
            except BaseException:
                q.extendleft(reversed(items))
                raise
        now = time.time()
        with self._lock:
            fields = self._fields
            self._fields = {}
            if self._summary_dirty and (final or now - self._last_meta >= 1.0):
                fields["summary"] = self.summary.result()
                self._summary_dirty = False
        if self._last_step is not None and "summary" in fields:
            fields["last_step"] = self._last_step
        if fields or now - self._last_meta >= self.heartbeat_interval:
            if "summary" in fields or now - self._last_meta >= self.heartbeat_interval:
                self._last_meta = now
            try:
                self.store.update_run(self.uid, heartbeat_at=now, **fields)
            except BaseException:
                with self._lock:
                    self._fields = {**fields, **self._fields}
                raise
        with self._idle:
            self._written += len(rows)
            self._idle.notify_all()


def _take(q: deque[Any]) -> list[Any]:
    out = []
    pop = q.popleft
    try:
        for _ in range(len(q)):
            out.append(pop())
    except IndexError:
        pass
    return out


class NullWriter:
    """The writer of a mode='disabled' run: rows only update the summary, nothing is stored."""

    def __init__(self, summary: SummaryBuilder) -> None:
        self.summary = summary
        self._lock = threading.Lock()
        self.error: BaseException | None = None

    def put(self, step: int, ts: float, row: dict[str, Any]) -> None:
        self.summary.add(row)

    def put_system(self, ts: float, values: dict[str, Any]) -> None:
        pass

    def put_log(self, seq: int, ts: float, step: int | None, stream: str, text: str) -> None:
        pass

    def set_fields(self, **fields: Any) -> None:
        pass

    def touch_summary(self) -> None:
        pass

    def sync(self, timeout: float | None = None) -> None:
        pass

    def close(self, **final_fields: Any) -> None:
        pass
