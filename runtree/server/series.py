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

from runtree.domain.records import Segment
from runtree.server.history import pick
from runtree.store.base import Store

CACHE_BYTES = 64 << 20


def _number(v: Any) -> float | None:
    if v.__class__ is float:
        return float(v)
    if v.__class__ is int:
        try:
            return float(v)
        except OverflowError:
            return None
    return None


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
    cols: dict[str, tuple[list[int], list[float], list[float], list[float | None]]] = {k: ([], [], [], []) for k in keys}
    for row in store.read_rows(segments):
        step = row.get("_step")
        if type(step) is not int:
            continue
        for k in keys:
            v = row.get(k)
            if v is None:
                continue
            num = _number(v)
            if num is None:  # text, media, lists: shown in the table, not on a line
                continue
            c = cols[k]
            c[0].append(step)
            ts = row.get("_timestamp")
            c[1].append(float(ts) if isinstance(ts, (int, float)) else math.nan)
            c[2].append(num)
            if x is not None:
                c[3].append(_number(row.get(x)) if x in row else None)
    out: dict[str, Any] = {}
    for k, (steps, times, values, xs) in cols.items():
        keep = pick(steps, values, samples) if len(steps) > samples else range(len(steps))
        idx = np.fromiter(keep, dtype=np.int64)
        vals = np.asarray(values, dtype=np.float64)
        entry: dict[str, Any] = {
            "points": len(steps),
            "steps": np.asarray(steps, dtype=np.int64)[idx],
            "values": vals[idx].astype(np.float32),
        }
        if with_time:
            entry["time"] = np.asarray(times, dtype=np.float64)[idx]
        if smoothing is not None and len(steps):
            entry["smooth"] = ema(vals, smoothing)[idx].astype(np.float32)
        if x is not None:
            entry["x"] = [xs[i] for i in idx.tolist()]
        out[k] = entry
    data = orjson.dumps(out, option=orjson.OPT_SERIALIZE_NUMPY)  # NaN and ±inf become null: a gap in the line
    if len(data) <= CACHE_BYTES // 8:
        _cache.put(cache_key, data)
    return data
