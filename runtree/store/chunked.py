"""History as columnar chunks in SQL, shared by the SQLite and PostgreSQL stores: the open row tail, sealing, reads.

A (uid, epoch)'s rows live in two places. `history` holds the open tail, one JSON text per row, so live
readers see every committed row. When the tail reaches CHUNK_ROWS rows, its lowest rows are sealed into
chunks (runtree.domain.chunks): a `history_chunks` row (steps, timestamps, the keys, and the cumulative
aggregates of every key from the epoch's first chunk to this one's end) and one `history_columns` row
per key (its encoded column and aggregate). Reading a key touches its column only; a step range maps
to whole chunks plus at most two partial ones; a segment's summary is one cumulative aggregate, one
partial chunk and the tail: O(chunk size), never O(rows).

Invariants: chunks of a (uid, epoch) never overlap, and every tail row's step is above every chunk's last
step. A row appended at or below the last sealed step (a retried or late batch) is dropped when that step
is stored, and otherwise first moves the chunks above it back into the tail. Writers hold the backend's
per-(uid, epoch) lock (SQLite: the file's write lock); every read works inside one snapshot.
"""

from __future__ import annotations

import json
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from runtree.domain.chunks import (
    CHUNK_ROWS,
    STEP_KEY,
    TIME_KEY,
    Agg,
    Chunk,
    Column,
    aggregate_rows,
    chunk_aggs,
    combine_all,
    decode_column,
    decode_steps,
    decode_times,
    encode_chunk,
    make_column,
    rows_of,
)
from runtree.domain.records import Segment
from runtree.store.codec import dumps_row, loads_row
from runtree.store.columns import segment_bounds

PAGE_CHUNKS = 16  # chunks per read snapshot: ~32k rows, then the next page starts a fresh snapshot
_json = json.JSONEncoder(allow_nan=True, separators=(",", ":"))
RowIn = tuple[int, float, dict[str, Any]]


class Tx(Protocol):
    """One transaction (or read snapshot) of a SQL backend; SQL is written with `?` placeholders."""

    def q(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def bulk(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert rows none of whose keys is stored (the fast path: COPY on PostgreSQL)."""


class Reads:
    """Counts what history reads touch, for tests that prove a fork's finish reads no parent rows."""

    rows = 0  # rows decoded from the tail or from chunks
    aggregates = 0  # cumulative aggregates read


@dataclass(frozen=True, slots=True)
class Piece:
    """A decoded chunk or tail of one (uid, epoch), cut to lo <= step <= hi: what reads return."""

    steps: Sequence[int]
    times: Sequence[float]
    implied: str
    columns: dict[str, Column]
    lo: int
    hi: int
    order: tuple[str, ...] | None = None  # key order of the rows (None: _step, the columns, _timestamp)

    def rows(self) -> list[dict[str, Any]]:
        out = [r for _, r in rows_of(self.steps, self.times, self.implied, self.columns, self.lo, self.hi, self.order)]
        Reads.rows += len(out)
        return out

    def span(self) -> tuple[int, int]:
        """Indices [a, b) of the rows within lo..hi (steps are increasing)."""
        return bisect_left(self.steps, self.lo), bisect_right(self.steps, self.hi)


def _tail_piece(rows: Sequence[tuple[int, float, str]], keys: Sequence[str] | None, lo: int, hi: int) -> Piece:
    """The tail's rows (step, ts, JSON text) as a Piece with one column per key (typed when its values allow)."""
    return rows_piece([r[0] for r in rows], [r[1] for r in rows], [loads_row(d) for _, _, d in rows], keys, lo, hi)


def rows_piece(
    steps: Sequence[int], times: Sequence[float], rows: Sequence[dict[str, Any]], keys: Sequence[str] | None, lo: int, hi: int
) -> Piece:
    """Rows (dicts, in step order) as a Piece with one column per key (typed when its values allow)."""
    n = len(rows)
    values: dict[str, list[Any]] = {}
    where: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        for k, v in row.items():
            if keys is not None and k not in keys and k != STEP_KEY:
                continue
            if k not in values:
                values[k], where[k] = [], []
            values[k].append(v)
            where[k].append(i)
    cols = {}
    for k, vs in values.items():
        bitmap = None
        if len(vs) != n:
            bm = bytearray((n + 7) // 8)
            for i in where[k]:
                bm[i >> 3] |= 1 << (i & 7)
            bitmap = bytes(bm)
        cols[k] = make_column(vs, bitmap)
    return Piece(list(steps), list(times), "", cols, lo, hi, tuple(values))


# -- writing ---------------------------------------------------------------------------------------
def append(tx: Tx, uid: str, epoch: int, rows: Sequence[RowIn]) -> None:
    """Store rows of (uid, epoch); a row whose step is stored already is ignored (the first of a step wins).

    The common case, rows above everything stored: when tail and batch make a whole chunk, the chunks are
    sealed from the tail and the batch in memory, and only the remainder is written to the tail."""
    by_step: dict[int, RowIn] = {}
    for r in rows:
        by_step.setdefault(r[0], r)
    if not by_step:
        return
    top = tx.q("SELECT MAX(last_step) FROM history_chunks WHERE uid=? AND epoch=?", (uid, epoch))[0][0]
    if top is not None:
        low = sorted(s for s in by_step if s <= top)
        if low:
            holes = _drop_sealed(tx, uid, epoch, low, by_step)
            if holes:
                _unseal(tx, uid, epoch, holes[0])
    steps = sorted(by_step)
    if not steps:
        return
    n_tail, tail_max = tx.q("SELECT COUNT(*), MAX(step) FROM history WHERE uid=? AND epoch=?", (uid, epoch))[0]
    above = tail_max is None or steps[0] > tail_max
    if not above:
        stored = {
            r[0]
            for r in tx.q("SELECT step FROM history WHERE uid=? AND epoch=? AND step BETWEEN ? AND ?", (uid, epoch, steps[0], steps[-1]))
        }
        steps = [s for s in steps if s not in stored]
    fresh = [by_step[s] for s in steps]
    if not fresh:
        return
    if above and n_tail < CHUNK_ROWS <= n_tail + len(fresh):
        tail = [(int(st), float(t), loads_row(d)) for st, t, d in tx.q(_TAIL_ROWS, (uid, epoch))] if n_tail else []
        merged = [*tail, *fresh]
        sealed = _seal_rows(tx, uid, epoch, merged)  # >= CHUNK_ROWS > n_tail: the whole tail is sealed
        if n_tail:
            tx.q("DELETE FROM history WHERE uid=? AND epoch=?", (uid, epoch))
        fresh = merged[sealed:]
    if fresh:
        tx.bulk("history", ("uid", "epoch", "step", "ts", "data"), [(uid, epoch, s, t, dumps_row(d)) for s, t, d in fresh])
    if not above:
        seal(tx, uid, epoch)


_TAIL_ROWS = "SELECT step, ts, data FROM history WHERE uid=? AND epoch=? ORDER BY step"


def _drop_sealed(tx: Tx, uid: str, epoch: int, low: list[int], by_step: dict[int, RowIn]) -> list[int]:
    """Drop from `by_step` the rows whose step a chunk holds; return the other low steps, sorted."""
    sealed: set[int] = set()
    for (blob,) in tx.q(
        "SELECT steps FROM history_chunks WHERE uid=? AND epoch=? AND first_step <= ? AND last_step >= ?", (uid, epoch, low[-1], low[0])
    ):
        sealed.update(decode_steps(blob))
    holes = []
    for s in low:
        if s in sealed:
            del by_step[s]
        else:
            holes.append(s)
    return holes


def _unseal(tx: Tx, uid: str, epoch: int, from_step: int) -> None:
    """Move the chunks whose last step is >= from_step back into the tail (a late row belongs among them)."""
    metas = tx.q(
        "SELECT first_step, last_step, n, implied, keys, steps, times FROM history_chunks WHERE uid=? AND epoch=? AND last_step >= ?"
        " ORDER BY first_step",
        (uid, epoch, from_step),
    )
    back: list[tuple[Any, ...]] = []
    for meta in metas:
        piece = _load(tx, uid, epoch, meta, None, meta[0], meta[1])
        back.extend((uid, epoch, s, t, dumps_row(r)) for s, t, r in zip(piece.steps, piece.times, piece.rows(), strict=True))
    if back:
        tx.bulk("history", ("uid", "epoch", "step", "ts", "data"), back)
    first = metas[0][0]
    tx.q("DELETE FROM history_columns WHERE uid=? AND epoch=? AND first_step >= ?", (uid, epoch, first))
    tx.q("DELETE FROM history_chunks WHERE uid=? AND epoch=? AND first_step >= ?", (uid, epoch, first))


def _cum(text: str | None) -> dict[str, Agg]:
    if not text:
        return {}
    return {k: Agg(*v) for k, v in json.loads(text).items()}


def _cum_text(cum: dict[str, Agg]) -> str:
    return _json.encode({k: [a.last, a.count, a.min, a.max, a.sum, a.first] for k, a in cum.items()})


def seal(tx: Tx, uid: str, epoch: int, *, at_least: int = CHUNK_ROWS) -> int:
    """Seal the tail's lowest rows into whole chunks once it holds `at_least` rows; return how many chunks."""
    if tx.q("SELECT COUNT(*) FROM history WHERE uid=? AND epoch=?", (uid, epoch))[0][0] < at_least:
        return 0
    rows = [(int(s), float(t), loads_row(d)) for s, t, d in tx.q(_TAIL_ROWS, (uid, epoch))]
    full = _seal_rows(tx, uid, epoch, rows)
    if full:
        tx.q("DELETE FROM history WHERE uid=? AND epoch=? AND step <= ?", (uid, epoch, rows[full - 1][0]))
    return full // CHUNK_ROWS


def _seal_rows(tx: Tx, uid: str, epoch: int, rows: Sequence[RowIn]) -> int:
    """Store the first whole chunks of `rows` (in step order, above every chunk); return how many rows they hold."""
    full = len(rows) // CHUNK_ROWS * CHUNK_ROWS
    if not full:
        return 0
    prev = tx.q("SELECT cum FROM history_chunks WHERE uid=? AND epoch=? ORDER BY first_step DESC LIMIT 1", (uid, epoch))
    cum = _cum(prev[0][0] if prev else None)
    for i in range(0, full, CHUNK_ROWS):
        part = rows[i : i + CHUNK_ROWS]
        ch = encode_chunk(part)
        cum = combine_all([chunk_aggs(ch, [p[0] for p in part], [p[1] for p in part])], into=dict(cum))
        _put_chunk(tx, uid, epoch, ch, cum)
    return full


def _put_chunk(tx: Tx, uid: str, epoch: int, ch: Chunk, cum: dict[str, Agg]) -> None:
    tx.many(
        "INSERT INTO history_chunks (uid, epoch, first_step, last_step, n, implied, keys, cum, steps, times) VALUES (?,?,?,?,?,?,?,?,?,?)",
        [(uid, epoch, ch.first_step, ch.last_step, ch.n, ch.implied, _json.encode(list(ch.order)), _cum_text(cum), ch.steps, ch.times)],
    )
    tx.many(
        "INSERT INTO history_columns (uid, epoch, key, first_step, agg, data) VALUES (?,?,?,?,?,?)",
        [(uid, epoch, k, ch.first_step, a.to_json(), blob) for k, a, blob in zip(ch.keys, ch.aggs, ch.columns, strict=True)],
    )


def tails_to_seal(tx: Tx) -> list[tuple[str, int]]:
    """Every (uid, epoch) whose tail holds a whole chunk or more: what a converted store still has to seal."""
    return [(r[0], int(r[1])) for r in tx.q("SELECT uid, epoch FROM history GROUP BY uid, epoch HAVING COUNT(*) >= ?", (CHUNK_ROWS,))]


# -- reading ---------------------------------------------------------------------------------------
_META = "SELECT first_step, last_step, n, implied, keys, steps, times FROM history_chunks"


def _load(tx: Tx, uid: str, epoch: int, meta: Sequence[Any], keys: Sequence[str] | None, lo: int, hi: int) -> Piece:
    first, _last, n, implied, keys_json, steps_blob, times_blob = meta
    order = tuple(json.loads(keys_json))
    if keys is None:
        got = tx.q("SELECT key, data FROM history_columns WHERE uid=? AND epoch=? AND first_step=?", (uid, epoch, first))
    else:
        got = []
        for k in keys:
            if k in order and not (k == STEP_KEY and "s" in implied) and not (k == TIME_KEY and "t" in implied):
                got += tx.q(
                    "SELECT key, data FROM history_columns WHERE uid=? AND epoch=? AND key=? AND first_step=?", (uid, epoch, k, first)
                )
        if "t" in implied and TIME_KEY not in keys:
            implied = implied.replace("t", "")
    cols = {k: decode_column(bytes(blob), n) for k, blob in got}
    need_times = keys is None or TIME_KEY in keys
    times = decode_times(bytes(times_blob)) if need_times else array("d", bytes(8 * n))
    if keys is not None:
        order = tuple(k for k in order if k in keys or k == STEP_KEY)
    return Piece(decode_steps(bytes(steps_blob)), times, implied, cols, lo, hi, order)


def read_page(tx: Tx, uid: str, epoch: int, lo: int, hi: int, keys: Sequence[str] | None) -> tuple[list[Piece], int | None]:
    """Pieces of (uid, epoch) within lo..hi, at most PAGE_CHUNKS chunks (then the tail); and where the next page starts."""
    start = tx.q("SELECT MAX(first_step) FROM history_chunks WHERE uid=? AND epoch=? AND first_step <= ?", (uid, epoch, lo))[0][0]
    metas = tx.q(
        _META + " WHERE uid=? AND epoch=? AND first_step >= ? AND first_step <= ? ORDER BY first_step LIMIT ?",
        (uid, epoch, lo if start is None else start, hi, PAGE_CHUNKS),
    )
    pieces = [_load(tx, uid, epoch, m, keys, lo, hi) for m in metas if m[1] >= lo]
    if len(metas) == PAGE_CHUNKS:
        nxt = metas[-1][1] + 1
        return pieces, (nxt if nxt <= hi else None)
    after = lo if not metas else max(lo, metas[-1][1] + 1)
    tail = tx.q(
        "SELECT step, ts, data FROM history WHERE uid=? AND epoch=? AND step BETWEEN ? AND ? ORDER BY step", (uid, epoch, after, hi)
    )
    if tail:
        piece = _tail_piece(tail, keys, lo, hi)
        pieces.append(piece)
    return pieces, None


def segment_aggregates(tx: Tx, uid: str, epoch: int, lo: int, hi: int) -> dict[str, Agg] | None:
    """Per-key aggregates of (uid, epoch)'s rows in lo..hi from one cumulative aggregate, at most one partial
    chunk and the tail; None when lo cuts into the epoch's first chunk (then the caller folds rows)."""
    first = tx.q("SELECT MIN(first_step) FROM history_chunks WHERE uid=? AND epoch=?", (uid, epoch))[0][0]
    out: dict[str, Agg] = {}
    top = lo - 1
    if first is not None:
        if lo > first:
            return None
        found = tx.q(_META + " WHERE uid=? AND epoch=? AND first_step <= ? ORDER BY first_step DESC LIMIT 1", (uid, epoch, hi))
        if found:
            c = found[0]
            whole = c if c[1] <= hi else None
            if whole is None:
                before = tx.q(
                    "SELECT cum FROM history_chunks WHERE uid=? AND epoch=? AND first_step < ? ORDER BY first_step DESC LIMIT 1",
                    (uid, epoch, c[0]),
                )
                if before:
                    out = _cum(before[0][0])
                    Reads.aggregates += 1
                partial = _load(tx, uid, epoch, c, None, lo, hi)
                out = combine_all([aggregate_rows(partial.rows())], into=out)
            else:
                out = _cum(tx.q("SELECT cum FROM history_chunks WHERE uid=? AND epoch=? AND first_step=?", (uid, epoch, c[0]))[0][0])
                Reads.aggregates += 1
            top = c[1]
    if hi > top:
        tail = tx.q(
            "SELECT step, ts, data FROM history WHERE uid=? AND epoch=? AND step BETWEEN ? AND ? ORDER BY step",
            (uid, epoch, max(lo, top + 1), hi),
        )
        if tail:
            out = combine_all([aggregate_rows(_tail_piece(tail, None, lo, hi).rows())], into=out)
    return out


def last_row(tx: Tx, uid: str, epoch: int, lo: int, hi: int) -> tuple[int, float] | None:
    """(step, timestamp) of the last row of (uid, epoch) within lo..hi."""
    r = tx.q(
        "SELECT step, ts FROM history WHERE uid=? AND epoch=? AND step BETWEEN ? AND ? ORDER BY step DESC LIMIT 1", (uid, epoch, lo, hi)
    )
    if r:
        return int(r[0][0]), float(r[0][1])
    found = tx.q(
        "SELECT last_step, steps, times FROM history_chunks WHERE uid=? AND epoch=? AND first_step <= ? ORDER BY first_step DESC LIMIT 1",
        (uid, epoch, hi),
    )
    if not found or found[0][0] < lo:
        return None
    steps = decode_steps(bytes(found[0][1]))
    i = bisect_right(steps, hi) - 1
    if i < 0 or steps[i] < lo:
        return None
    return steps[i], float(decode_times(bytes(found[0][2]))[i])


def aggregates(
    snapshot: Callable[[], AbstractContextManager[Tx]],
    read_rows: Callable[[Sequence[Segment]], Iterable[dict[str, Any]]],
    segments: Sequence[Segment],
) -> dict[str, Agg]:
    """Per-key aggregates of a visible history, in one snapshot: O(depth + chunk size) (see segment_aggregates)."""
    parts: list[dict[str, Agg] | Segment] = []
    with snapshot() as tx:
        for seg in segments:
            bounds = segment_bounds(seg, None, None)
            if bounds is not None:
                part = segment_aggregates(tx, seg.source_uid, seg.epoch, *bounds)
                parts.append(seg if part is None else part)
    out: dict[str, Agg] = {}
    for p in parts:  # a segment that starts inside its epoch's first chunk is folded from its rows (never by lineage)
        combine_all([aggregate_rows(read_rows([p])) if isinstance(p, Segment) else p], into=out)
    return out


def rows_in(pieces: Iterable[Piece]) -> Iterator[dict[str, Any]]:
    for p in pieces:
        yield from p.rows()
