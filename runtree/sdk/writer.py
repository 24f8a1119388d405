"""The background writer: batches what the training thread logs into the Store, off the training thread.

The training thread only appends to deques (lock-free in CPython); this thread wakes every
`flush_interval` seconds, or when a queue grows large, writes one batch per stream in one transaction,
folds rows into the run's summary and refreshes its heartbeat. A kill -9 loses at most the rows of the
last interval. What waits to be stored is bounded in bytes (`max_queue_bytes`): past it, log() waits
(and says so once). A store error is retried, never raised into the training loop, and never drops a
row that was valid: a batch the store refuses as invalid is split until the refused rows are found, and
finish() reports (Writer.close returns) whatever could not be stored.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runtree.domain.chunks import Agg
from runtree.domain.summary import SummaryBuilder
from runtree.errors import RuntreeWarning, UsageError
from runtree.store.base import Store

log = logging.getLogger("runtree")

Row = tuple[int, float, dict[str, Any]]
_KICK = 20_000  # rows queued before the writer is woken early
MAX_MEDIA_BYTES = 256 << 20  # what logged media objects may hold before they are encoded; log() waits beyond it
_ROW_BYTES = 240  # what a queued row costs beyond its values: the tuple, the dict, _step/_timestamp/_runtime
_VALUE_BYTES = 100  # one key and a scalar value in the row's dict (the key string, the float, the dict slot)
FINAL_RETRY = 30.0  # seconds close() goes on retrying a failing store before it reports what is left
MIN_ROW_CAP = 5_000  # rows log() may always be ahead, whatever the measured rate
WARN_AFTER = 1.0  # seconds log() waits before it says so (once per run)
MIN_SLICE = 1_000  # rows the writer stores at once before it measures the store's rate


_SCALARS = frozenset((float, int, bool, type(None)))


def row_bytes(row: Mapping[str, Any]) -> int:
    """An estimate of the memory a queued row holds; strings and other non-scalars by their length.

    A string no store can hold (a NUL, a lone surrogate) raises UsageError: log() refuses it at the call.
    """
    n = _ROW_BYTES + _VALUE_BYTES * len(row)
    for v in row.values():
        if type(v) in _SCALARS:  # the common case first: one set lookup a value
            continue
        if type(v) is str:
            if "\x00" in v or not v.isascii():
                _check_text("value", v)
            n += len(v)
        else:
            n += len(repr(v))
    return n


def _check_text(what: str, text: str) -> None:
    if "\x00" in text:
        raise UsageError(f"run.log(): a {what} with a NUL character cannot be stored: {text[:60]!r}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise UsageError(f"run.log(): a {what} with a lone surrogate cannot be stored ({e.reason} at {e.start}): {text[:60]!r}") from None


def refused(e: BaseException) -> bool:
    """Whether the store refused the data itself (retrying the same batch cannot help), rather than failing now."""
    if isinstance(e, UsageError | ValueError | TypeError | OverflowError | sqlite3.IntegrityError):
        return True
    return type(e).__name__ in ("DataError", "NumericValueOutOfRange", "IntegrityError", "UniqueViolation")


@dataclass
class Leftover:
    """What a writer could not store: counts per stream and the last reason. Empty when all was stored."""

    rows: int = 0
    system: int = 0
    logs: int = 0
    fields: list[str] = field(default_factory=list)
    refused_steps: list[int] = field(default_factory=list)
    error: BaseException | None = None

    def __bool__(self) -> bool:
        return bool(self.rows or self.system or self.logs or self.fields or self.refused_steps)

    def describe(self) -> str:
        parts = [f"{n} {what}" for n, what in ((self.rows, "rows"), (self.system, "system samples"), (self.logs, "console lines")) if n]
        if self.fields:
            parts.append(f"the run's fields {sorted(set(self.fields))}")
        if self.refused_steps:
            shown = ", ".join(map(str, self.refused_steps[:10])) + (" ..." if len(self.refused_steps) > 10 else "")
            parts.append(f"{len(self.refused_steps)} rows the store refused (steps {shown})")
        return "; ".join(parts) + (f" ({type(self.error).__name__}: {self.error})" if self.error is not None else "")


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
        max_queue_bytes: int = 256 << 20,
        max_backlog: float = 2.0,
        heartbeat_interval: float = 5.0,
        final_retry: float = FINAL_RETRY,
        base_summary: Callable[[], Mapping[str, Agg]] | None = None,
    ) -> None:
        self.store, self.uid, self.epoch = store, uid, epoch
        self.summary = summary
        self.flush_interval = flush_interval
        self.max_queue_bytes = max_queue_bytes
        self.max_backlog = max_backlog
        self._row_cap = MIN_ROW_CAP  # rows the store takes in `max_backlog` seconds, as measured (the first slice's rate)
        self._rate = 0.0  # rows/s the store took, smoothed
        self._slice = MIN_SLICE
        self.heartbeat_interval = heartbeat_interval
        self.final_retry = final_retry
        self._base_summary = base_summary
        self._rows: deque[Row] = deque()
        self._keys: set[str] = set()  # keys of logged rows, checked once each
        self._sizes: deque[int] = deque()  # row_bytes of each queued row, in the same order
        self._system: deque[tuple[float, dict[str, Any]]] = deque()
        self._logs: deque[tuple[int, float, int | None, str, str]] = deque()
        self._live: deque[tuple[int, float, int | None, str, str]] = deque()  # lines stored by replacing at their seq
        self._fields: dict[str, Any] = {}
        self._files: deque[tuple[str, bytes]] = deque()  # run.save(), log_code(), alerts: stored with the next batch
        self.has_media = False  # set once the run logs a Media object: rows are then encoded before they are stored
        self._media_held = 0  # bytes handed over in Media objects (the training thread's count)
        self._media_done = 0  # bytes of those encoded (the writer's count)
        self._media: tuple[list[Any], dict[str, bytes]] = ([], {})  # encoded files not stored yet
        self._lock = threading.Lock()  # guards summary and _fields against the training thread
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._queued = 0  # items handed over, for sync()
        self._written = 0  # rows stored or refused
        self._bytes_in = 0  # estimated bytes handed over / taken off the queue: their difference is what waits
        self._bytes_out = 0
        self._warned_full = False
        self._stop = False
        self._summary_dirty = False
        self._last_step: int | None = None
        self._last_meta = 0.0
        self.error: BaseException | None = None
        self.leftover = Leftover()
        self._thread = threading.Thread(target=self._loop, name=f"runtree-writer-{uid[:8]}", daemon=True)
        self._thread.start()

    # -- the training thread's side ----------------------------------------------------------
    def put(self, step: int, ts: float, row: dict[str, Any]) -> None:
        if not row.keys() <= self._keys:  # a key not seen before: check it once
            self._check_keys(row)
        size = row_bytes(row)  # raises for text no store can hold, before anything is queued
        self._sizes.append(size)  # before the row: the writer, taking n rows, always finds their n sizes
        q = self._rows
        q.append((step, ts, row))
        self._queued += 1
        self._bytes_in += size
        n = len(q)
        if n >= _KICK and n % _KICK == 0:
            self._wake.set()
        if self._queued - self._written >= self._row_cap or self._bytes_in - self._bytes_out >= self.max_queue_bytes:
            self._wait_for_room()

    def hold(self, nbytes: int) -> None:
        """The row just put holds Media objects of about `nbytes`: encode them; wait while too much is unencoded."""
        self.has_media = True
        self._media_held += nbytes
        if self._media_held - self._media_done > MAX_MEDIA_BYTES:
            self._wake.set()
            # Until the writer has taken what is queued (a media object replaced in a pending row is never
            # encoded: the counts may drift, so an empty queue always lets log() go on).
            while self._media_held - self._media_done > MAX_MEDIA_BYTES and self._rows and self._thread.is_alive():
                time.sleep(0.001)

    def _check_keys(self, row: Mapping[str, Any]) -> None:
        for k in row.keys() - self._keys:
            if "\x00" in k or not k.isascii():
                _check_text("key", k)
            self._keys.add(k)

    @property
    def pending_bytes(self) -> int:
        """Estimated bytes of rows handed over and not yet stored."""
        return self._bytes_in - self._bytes_out

    def put_system(self, ts: float, values: dict[str, Any]) -> None:
        self._system.append((ts, values))

    def put_log(self, seq: int, ts: float, step: int | None, stream: str, text: str, live: bool = False) -> None:
        """Queue a console line; a `live` one replaces what is stored (or queued) at its seq (Store.put_logs)."""
        (self._live if live else self._logs).append((seq, ts, step, stream, text))  # deques: no lock a print could wait on

    def put_file(self, name: str, data: bytes) -> None:
        """Queue a file of the run (run.save, log_code) to store with the next batch, replacing one of that name."""
        self._files.append((name, data))
        self._wake.set()

    def set_fields(self, **fields: Any) -> None:
        """Queue run fields (config, tags, ...) to store with the next batch."""
        with self._lock:
            self._fields.update(fields)
        self._wake.set()

    def touch_summary(self) -> None:
        """The summary was changed by hand: store it with the next batch."""
        self._summary_dirty = True
        self._wake.set()

    def _full(self) -> bool:
        return self._queued - self._written >= self._row_cap or self.pending_bytes >= self.max_queue_bytes

    def _wait_for_room(self) -> None:
        self._wake.set()
        quiet_until = time.monotonic() + WARN_AFTER
        while self._full() and self._thread.is_alive():
            if not self._warned_full and time.monotonic() > quiet_until:
                self._warned_full = True  # once per run: the training loop is being held back, and why
                why = f"; the store fails: {self.error}" if self.error is not None else ""
                warnings.warn(
                    f"runtree: log() waits for the writer of run {self.uid}: {self._queued - self._written:,} rows "
                    f"({self.pending_bytes >> 20} MiB) wait to be stored in {self.store.url}, which takes {self._rate:,.0f} rows/s "
                    f"(limits: {self.max_backlog:g} s of rows, max_queue_bytes={self.max_queue_bytes}){why}",
                    RuntreeWarning,
                    stacklevel=4,
                )
            time.sleep(0.005)

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

    def close(self, **final_fields: Any) -> Leftover:
        """Store everything left, then `final_fields` with the summary; stop the thread. Returns what could not be stored."""
        with self._lock:
            self._fields.update(final_fields)
        self._stop = True
        self._wake.set()
        self._thread.join()
        left = self.leftover
        left.rows += len(self._rows)
        left.system += len(self._system)
        left.logs += len(self._logs) + len(self._live)
        left.fields.extend(self._fields)
        if left:
            left.error = left.error or self.error
            log.error("runtree: run %s: not stored: %s", self.uid, left.describe())
        return left

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
        give_up: float | None = None
        while True:
            self._wake.wait(self.flush_interval + backoff)
            self._wake.clear()
            stopping = self._stop
            try:
                self._flush(final=stopping)
                backoff = 0.0
                if self.error is not None:
                    log.warning("runtree: run %s is stored again", self.uid)
                    self.error = None
            except Exception as e:
                first = self.error is None or str(e) != str(self.error)
                self.error = e
                backoff = min(5.0, max(0.5, backoff * 2))
                if first:
                    log.warning("runtree: storing a batch of run %s failed, retrying every few seconds: %s", self.uid, e)
                if stopping:
                    give_up = give_up if give_up is not None else time.monotonic() + self.final_retry
                    if time.monotonic() >= give_up:
                        return
                continue
            if stopping:
                return

    def _encode_media(self, rows: list[Row]) -> None:
        """Media objects in `rows` become their `_type` values; their files wait in self._media until stored."""
        from runtree.sdk.media.rows import encode_row, held_by

        files, blobs = self._media
        for step, _ts, row in rows:
            held = held_by(row)
            if not held:
                continue
            f, b = encode_row(step, row)
            files.extend(f)
            blobs.update(b)
            self._media_done += held  # the row's queued size (self._sizes) stays what log() counted in

    def _put_media_one_by_one(self) -> None:
        files, blobs = self._media
        for f in files:
            try:
                self.store.put_media(self.uid, self.epoch, [f], {f.sha256: blobs[f.sha256]})
            except UsageError as e:
                log.error("runtree: %s logged under %r at step %d was refused and is not stored: %s", f.path, f.key, f.step, e)

    def _stored(self, rows: list[Row], size: int) -> None:
        refused_steps = set(self.leftover.refused_steps)
        with self._lock:
            add = self.summary.add
            for step, _ts, row in rows:
                if step not in refused_steps:
                    add(row)
        self._bytes_out += size
        self._last_step = rows[-1][0]
        self._summary_dirty = True
        with self._idle:
            self._written += len(rows)
            self._idle.notify_all()

    def _measure(self, n: int, seconds: float) -> None:
        """Fold one batch into the store's measured rate; log() may be `max_backlog` seconds of it ahead."""
        if n < 100 or seconds <= 0:  # too small to say anything about throughput
            return
        rate = n / seconds
        self._rate = rate if self._rate == 0.0 else 0.7 * self._rate + 0.3 * rate
        self._row_cap = max(MIN_ROW_CAP, int(self._rate * self.max_backlog))
        self._slice = max(MIN_SLICE, int(self._rate / 4))

    def _store_rows(self, rows: Sequence[Row]) -> None:
        """Store `rows`; of a batch the store refuses as invalid, store every row it accepts (halving), set aside the rest."""
        try:
            self.store.append_rows(self.uid, self.epoch, rows)
        except Exception as e:
            if not refused(e):
                raise
            if len(rows) == 1:
                self.leftover.refused_steps.append(rows[0][0])
                self.leftover.error = e
                log.error("runtree: the store refused row %d of run %s: %s", rows[0][0], self.uid, e)
                return
            half = len(rows) // 2
            self._store_rows(rows[:half])
            self._store_rows(rows[half:])

    def _flush(self, final: bool) -> None:
        rows = _take(self._rows)
        pop = self._sizes.popleft
        sizes = [pop() for _ in rows]
        done = 0
        try:
            if self.has_media and rows:
                self._encode_media(rows)
            if self._media[0]:
                # The files before the rows that reference them: a reader never meets a row whose file is missing.
                try:
                    self.store.put_media(self.uid, self.epoch, *self._media)
                except UsageError:  # a file refused for good (over the server's size limit): one by one, the rest stored
                    self._put_media_one_by_one()
                self._media = ([], {})
            # In slices of about a quarter second of the store's rate: the rate (so log()'s limit) is known
            # after the first slice, not after a backlog of minutes.
            while done < len(rows):
                end = done + self._slice
                part = rows[done:end]
                t = time.perf_counter()
                self._store_rows(part)
                self._measure(len(part), time.perf_counter() - t)
                self._stored(part, sum(sizes[done:end]))
                done += len(part)
        except BaseException:
            self._rows.extendleft(reversed(rows[done:]))
            self._sizes.extendleft(reversed(sizes[done:]))
            raise
        while self._files:
            name, data = self._files[0]
            self.store.put_file(self.uid, name, data)
            self._files.popleft()
        for q, append in ((self._system, self.store.append_system), (self._logs, self.store.append_logs)):
            items = _take(q)
            try:
                append(self.uid, self.epoch, items)  # type: ignore[operator]
            except BaseException:
                q.extendleft(reversed(items))
                raise
        live = _take(self._live)
        if live:
            try:
                self.store.put_logs(self.uid, self.epoch, list({line[0]: line for line in live}.values()))  # latest per seq
            except BaseException:
                self._live.extendleft(reversed(live))
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
            except Exception as e:
                if refused(e) and fields:  # checked at the call, so a store bug: say so, keep the rows flowing
                    self.leftover.fields.extend(fields)
                    self.leftover.error = e
                    log.error("runtree: the store refused fields %s of run %s: %s", sorted(fields), self.uid, e)
                    return
                with self._lock:
                    self._fields = {**fields, **self._fields}
                raise


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
        self.has_media = False

    def put(self, step: int, ts: float, row: dict[str, Any]) -> None:
        # Nothing is stored: media are not encoded, their keys only leave the summary untouched.
        self.summary.add({k: v for k, v in row.items() if not hasattr(v, "encode")})

    def put_system(self, ts: float, values: dict[str, Any]) -> None:
        pass

    def put_log(self, seq: int, ts: float, step: int | None, stream: str, text: str, live: bool = False) -> None:
        pass

    def set_fields(self, **fields: Any) -> None:
        pass

    def hold(self, nbytes: int) -> None:
        pass

    def put_file(self, name: str, data: bytes) -> None:
        pass

    def touch_summary(self) -> None:
        pass

    def sync(self, timeout: float | None = None) -> None:
        pass

    def close(self, **final_fields: Any) -> Leftover:
        return Leftover()
