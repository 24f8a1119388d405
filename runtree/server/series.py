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
from itertools import repeat
from typing import Any

import numpy as np
import orjson

from runtree.domain.records import Segment
from runtree.store.base import Store

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
    # Rows once, then each key by list comprehensions and numpy (a Python loop per value is the cost here).
    rows = [r for r in store.read_rows(segments) if r.get("_step").__class__ is int]
    steps_all = np.fromiter((r["_step"] for r in rows), dtype=np.int64, count=len(rows))
    times_all = _floats(list(map(dict.get, rows, repeat("_timestamp")))) if with_time else None
    xs_all = _floats(list(map(dict.get, rows, repeat(x)))) if x is not None else None
    out: dict[str, Any] = {}
    for k in keys:
        raw = list(map(dict.get, rows, repeat(k)))  # no Python frame per row
        vals, present = _numbers(raw)
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
