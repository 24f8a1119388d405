"""Many runs' series of a few metrics in one answer, for the workspace's panels: downsampled, optionally smoothed.

Each run's history is read once for all asked keys; per key the points are downsampled as
runtree.server.history does (min and max per bucket, `history.pick`). With `smoothing` (0 < w < 1) the
debiased exponential moving average (W&B's default smoother) is computed over the full-resolution
series and sampled at the kept points, so a long run's smoothed line does not depend on the downsample.
Values travel as 32-bit floats (7 significant digits: what a chart can show; the smoothing itself is
computed in 64 bits). Kept points carry their wall-clock time when asked (`time`), and the value of the
x-axis metric in the same row when one is named. Answers are kept in a small per-process cache keyed
like history's: by the segments and the last stored row of each, so a hit is always current.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from runtree.domain.chunks import FLOAT, INT, STEP_KEY, TIME_KEY, column_rows
from runtree.domain.records import Segment
from runtree.store.base import Store
from runtree.store.chunked import Piece

CACHE_BYTES = 64 << 20


def _numbers(values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values, where a value is a number): None and anything not a number are not present."""
    try:
        arr = np.array(values, dtype=np.float64)  # None becomes NaN; text raises
        present = np.array([v is not None and v.__class__ is not bool for v in values], dtype=bool)
        return arr, present
    except (OverflowError, TypeError, ValueError):
        arr = np.full(len(values), np.nan)
        present = np.zeros(len(values), dtype=bool)
        for i, v in enumerate(values):
            if v.__class__ is float or v.__class__ is int:
                present[i] = True
                try:
                    arr[i] = float(v)
                except OverflowError:
                    pass
        return arr, present


def _floats(values: list[Any]) -> np.ndarray:
    """Numbers (and None) as float64, NaN for None, text or an integer too large for a float."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (OverflowError, TypeError, ValueError):
        out = np.full(len(values), np.nan)
        for i, v in enumerate(values):
            if v.__class__ is float or v.__class__ is int:
                try:
                    out[i] = float(v)
                except OverflowError:
                    pass
        return out


def _pick(steps: np.ndarray, num: np.ndarray, samples: int) -> np.ndarray:
    """runtree.server.history.pick on arrays: per bucket of equal step width the points of its min and max value."""
    buckets = max(1, samples // 2)
    st = steps.astype(np.float64)
    width = st[-1] - st[0] + 1.0
    b = np.minimum(((st - st[0]) * (buckets / width)).astype(np.int64), buckets - 1)
    finite = np.flatnonzero(np.isfinite(num))
    parts = []
    covered = np.empty(0, dtype=np.int64)
    if finite.size:
        order = finite[np.lexsort((num[finite], b[finite]))]
        bo = b[order]
        starts = np.flatnonzero(np.r_[True, bo[1:] != bo[:-1]])
        ends = np.r_[starts[1:], bo.size] - 1
        parts += [order[starts], order[ends]]
        covered = bo[starts]
    ub, first = np.unique(b, return_index=True)
    parts.append(first[~np.isin(ub, covered)])
    return np.unique(np.concatenate(parts))


# -- columns of pieces, as the rows (Store.read_rows) would give them ----------------------------------
def _values(p: Piece, k: str) -> tuple[np.ndarray, np.ndarray | None] | list[Any] | None:
    """Key `k` over all of the piece's rows: (float64 with NaN where absent, presence or None: all) when the
    column is typed, else the Python values (None where absent); None when no row holds it."""
    n = len(p.steps)
    if k == STEP_KEY and "s" in p.implied:
        return np.asarray(p.steps, dtype=np.int64).astype(np.float64), None
    if k == TIME_KEY and "t" in p.implied:
        return np.asarray(p.times, dtype=np.float64), None
    col = p.columns.get(k)
    if col is None:
        return None
    if col.kind in (FLOAT, INT) and col.raw:
        got = np.frombuffer(col.raw, dtype="<f8" if col.kind == FLOAT else "<i8").astype(np.float64)
        if col.present is None:
            return got, None
        mask = np.unpackbits(np.frombuffer(col.present, dtype=np.uint8), bitorder="little")[:n].astype(bool)
        full = np.full(n, np.nan)
        full[mask] = got
        return full, mask
    out: list[Any] = [None] * n
    for i, v in zip(column_rows(col, n), col.values, strict=True):
        out[i] = v
    return out


def _stepped(p: Piece, a: int, b: int) -> np.ndarray:
    """Indices of the rows in a..b whose _step is an int (the rows a series is drawn from)."""
    got = _values(p, STEP_KEY)
    if got is None:
        return np.empty(0, dtype=np.int64)
    if isinstance(got, list):
        return np.array([i for i in range(a, b) if got[i].__class__ is int], dtype=np.int64)
    mask = got[1]
    col = p.columns.get(STEP_KEY)
    if col is not None and "s" not in p.implied and col.kind != INT:
        return np.empty(0, dtype=np.int64)  # floats are not steps
    return np.arange(a, b) if mask is None else a + np.flatnonzero(mask[a:b])


def _steps_at(p: Piece, at: np.ndarray) -> np.ndarray:
    """The _step values (int64) of the piece's rows `at` (rows whose _step is an int)."""
    if "s" in p.implied or not len(at):
        steps: np.ndarray = np.asarray(p.steps, dtype=np.int64)[at]
        return steps
    col = p.columns[STEP_KEY]
    full: list[Any] = [None] * len(p.steps)
    for i, v in zip(column_rows(col, len(p.steps)), col.values, strict=True):
        full[i] = v
    return np.fromiter((full[i] for i in at.tolist()), dtype=np.int64, count=len(at))


def _gather(pieces: Sequence[tuple[Piece, int, int]], keeps: Sequence[np.ndarray], k: str) -> tuple[np.ndarray, np.ndarray] | list[Any]:
    """Key `k` at the kept rows of all pieces: (float64, presence) when every piece's column is typed, else
    the Python values (what the rows hold: the caller converts them as it did rows' values)."""
    got = [_values(p, k) for p, _, _ in pieces]
    if not pieces:
        return np.empty(0), np.zeros(0, bool)
    if all(not isinstance(g, list) for g in got):
        vals = [np.full(len(at), np.nan) if g is None else g[0][at] for g, at in zip(got, keeps, strict=True)]
        present = [
            np.zeros(len(at), bool) if g is None else np.ones(len(at), bool) if g[1] is None else g[1][at]
            for g, at in zip(got, keeps, strict=True)
        ]
        return np.concatenate(vals), np.concatenate(present)
    out: list[Any] = []
    for g, at, (p, _, _) in zip(got, keeps, pieces, strict=True):
        if g is None:
            out += [None] * len(at)
        elif isinstance(g, list):
            out += [g[i] for i in at.tolist()]
        else:  # the exact stored values (ints stay ints), as the rows would hold them
            col = p.columns.get(k)
            if col is None:
                src: Sequence[Any] = p.steps if k == STEP_KEY else p.times
                out += [src[i] for i in at.tolist()]
            else:
                full: list[Any] = [None] * len(p.steps)
                for i, v in zip(column_rows(col, len(p.steps)), col.values, strict=True):
                    full[i] = v
                out += [full[i] for i in at.tolist()]
    return out


def _numbers_of(pieces: Sequence[tuple[Piece, int, int]], keys: Sequence[np.ndarray], k: str) -> tuple[np.ndarray, np.ndarray]:
    got = _gather(pieces, keys, k)
    return _numbers(got) if isinstance(got, list) else got


def _floats_of(pieces: Sequence[tuple[Piece, int, int]], keeps: Sequence[np.ndarray], k: str) -> np.ndarray:
    got = _gather(pieces, keeps, k)
    return _floats(got) if isinstance(got, list) else got[0]


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """The debiased EMA of `values` (NaN skipped and kept NaN): W&B's and TensorBoard's default smoothing."""
    out = np.full(values.shape, np.nan)
    last, count = 0.0, 0
    for i, v in enumerate(values.tolist()):
        if v == v and v not in (math.inf, -math.inf):
            last = last * weight + (1.0 - weight) * v
            count += 1
            out[i] = last / (1.0 - weight**count)
    return out


class _Cache:
    """Encoded answers per run, least recently used dropped first, at most `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit, self.size = limit, 0
        self.items: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        with self.lock:
            data = self.items.get(key)
            if data is not None:
                self.items.move_to_end(key)
            return data

    def put(self, key: tuple[Any, ...], data: bytes) -> None:
        with self.lock:
            old = self.items.pop(key, None)
            self.size += len(data) - (len(old) if old is not None else 0)
            self.items[key] = data
            while self.size > self.limit:
                _, dropped = self.items.popitem(last=False)
                self.size -= len(dropped)


_cache = _Cache(CACHE_BYTES)


def read_series(
    store: Store,
    segments: Sequence[Segment],
    keys: Sequence[str],
    x: str | None,
    samples: int,
    smoothing: float | None,
    with_time: bool = False,
) -> bytes:
    """One run's series of `keys` as JSON: {key: {points, steps, values, time?, smooth?, x?}}."""
    lasts = tuple(store.last_row([seg]) for seg in segments)
    cache_key = (store.url, tuple(segments), lasts, tuple(keys), x, samples, smoothing, with_time)
    data = _cache.get(cache_key)
    if data is not None:
        return data
    # Only the asked columns are decoded; each key then goes through numpy (a Python loop per value is the cost here).
    wanted = dict.fromkeys([STEP_KEY, *keys, *([x] if x is not None else []), *([TIME_KEY] if with_time else [])])
    pieces = [(p, *p.span()) for p in store.read_pieces(segments, list(wanted))]
    keeps = [_stepped(p, a, b) for p, a, b in pieces]
    steps_all = np.concatenate([_steps_at(p, at) for (p, _, _), at in zip(pieces, keeps, strict=True)] or [np.empty(0, np.int64)])
    times_all = _floats_of(pieces, keeps, TIME_KEY) if with_time else None
    xs_all = _floats_of(pieces, keeps, x) if x is not None else None
    out: dict[str, Any] = {}
    for k in keys:
        vals, present = _numbers_of(pieces, keeps, k)
        at = np.flatnonzero(present)  # rows where the key is a number: text, media, lists are not points on a line
        st, vals = steps_all[at], vals[at]
        idx = _pick(st, vals, samples) if len(st) > samples else np.arange(len(st))
        entry: dict[str, Any] = {"points": len(st), "steps": st[idx], "values": vals[idx].astype(np.float32)}
        if times_all is not None:
            entry["time"] = times_all[at][idx]
        if smoothing is not None and len(st):
            entry["smooth"] = ema(vals, smoothing)[idx].astype(np.float32)
        if xs_all is not None:
            entry["x"] = [None if v != v else v for v in xs_all[at][idx].tolist()]
        out[k] = entry
    data = orjson.dumps(out, option=orjson.OPT_SERIALIZE_NUMPY)  # NaN and ±inf become null: a gap in the line
    if len(data) <= CACHE_BYTES // 8:
        _cache.put(cache_key, data)
    return data
