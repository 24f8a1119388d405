"""History reads for the server: a page of rows as columns, the keys filter, and min/max downsampling.

A page holds at most `limit` rows and names `next_min_step`, the step of the first row it left out (null
at the end); asking again from there continues, with no state kept on the server. Downsampling reads
the whole range and keeps, per key, at most `samples` points: the key's steps are cut into samples // 2
buckets of equal step width, and each bucket keeps the points of its smallest and largest finite value
(a bucket with no finite number keeps its first point). The chosen points of all keys make up the rows.

A long history has a cheaper first look, `read_preview`: the same downsampling over a few rows at the start
of evenly spaced windows of the range (at most PREVIEW_ROWS rows read, whatever the length), marked
`"preview": true`, for a chart to draw at once while it asks for the exact downsample. Downsamples that
read many rows are kept in a small per-process cache, keyed by the segments and the last stored step of
each: rows are never rewritten and a run's new rows move its last step, so a hit is always current.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any

import numpy as np

from runtree.domain.records import Segment
from runtree.store.base import Store
from runtree.store.chunked import rows_in
from runtree.store.wire import encode_columns


def _rows(
    store: Store, segments: Sequence[Segment], lo: int | None, hi: int | None, keys: Sequence[str] | None
) -> Iterator[dict[str, Any]]:
    """Visible rows in lo..hi; with `keys`, read from those keys' columns only (rows carry _step and them)."""
    if keys is None:
        return store.read_rows(segments, lo, hi)
    return rows_in(store.read_pieces(segments, ["_step", *[k for k in keys if k != "_step"]], lo, hi))


def _filter(rows: Iterator[dict[str, Any]], keys: Sequence[str] | None) -> Iterator[dict[str, Any]]:
    """Rows that hold any of `keys`, cut down to _step and those keys (as Api.scan_history); all rows when None."""
    if keys is None:
        yield from rows
        return
    wanted = ("_step", *[k for k in keys if k != "_step"])
    for r in rows:
        if any(k in r for k in keys):
            yield {k: r[k] for k in wanted if k in r}


def read_page(
    store: Store, segments: Sequence[Segment], min_step: int | None, max_step: int | None, keys: Sequence[str] | None, limit: int
) -> bytes:
    """One page of the visible history as columnar JSON with `next_min_step`."""
    out: list[dict[str, Any]] = []
    next_step = None
    it = _rows(store, segments, min_step, max_step, keys)
    try:
        for row in _filter(it, keys):
            if len(out) >= limit:
                step = row.get("_step")
                if type(step) is int:  # a page can only end where the next row has a step to resume from
                    next_step = step
                    break
            out.append(row)
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()
    return encode_columns(out, {"next_min_step": next_step})


def _number(v: Any) -> float:
    if v.__class__ is float:
        return float(v)
    if v.__class__ is int:
        try:
            return float(v)
        except OverflowError:
            return math.nan
    return math.nan


def pick(steps: Sequence[int], values: Sequence[Any], samples: int) -> list[int]:
    """Indices of the points one key keeps when downsampled to at most `samples` (see the module docstring)."""
    n = len(steps)
    if n <= samples:
        return list(range(n))
    buckets = max(1, samples // 2)
    st = np.asarray(steps, dtype=np.float64)
    width = st[-1] - st[0] + 1.0
    b = np.minimum(((st - st[0]) * (buckets / width)).astype(np.int64), buckets - 1)
    num = np.fromiter((_number(v) for v in values), dtype=np.float64, count=n)
    finite = np.flatnonzero(np.isfinite(num))
    parts = []
    covered = np.empty(0, dtype=np.int64)
    if finite.size:
        order = finite[np.lexsort((num[finite], b[finite]))]  # by bucket, then value; stable for ties
        bo = b[order]
        starts = np.flatnonzero(np.r_[True, bo[1:] != bo[:-1]])
        ends = np.r_[starts[1:], bo.size] - 1
        parts += [order[starts], order[ends]]
        covered = bo[starts]
    ub, first = np.unique(b, return_index=True)
    parts.append(first[~np.isin(ub, covered)])
    return [int(i) for i in np.unique(np.concatenate(parts))]


PREVIEW_ROWS = 10_000  # rows a preview reads at most
CACHE_MIN_ROWS = 50_000  # a downsample that read fewer rows is quick to redo, and is not kept
CACHE_BYTES = 64 << 20  # per server process


def _downsample(rows: Iterable[Mapping[str, Any]], keys: Sequence[str] | None, samples: int) -> tuple[list[Mapping[str, Any]], int]:
    """The rows that per-key downsampling keeps (see the module docstring), and how many rows it read."""
    series: dict[str, tuple[list[int], list[Any]]] = {}
    wanted = None if keys is None else set(keys)
    n = 0
    for row in rows:
        n += 1
        step = row.get("_step")
        if type(step) is not int:
            continue
        for k, v in row.items():
            if k == "_step" or (wanted is not None and k not in wanted):
                continue
            s = series.get(k)
            if s is None:
                s = series[k] = ([], [])
            s[0].append(step)
            s[1].append(v)
    chosen: dict[int, dict[str, Any]] = {}
    for k, (steps, values) in series.items():
        for i in pick(steps, values, samples):
            chosen.setdefault(steps[i], {"_step": steps[i]})[k] = values[i]
    return [chosen[s] for s in sorted(chosen)], n


class _Cache:
    """Encoded downsamples by key, least recently used dropped first, at most `limit` bytes in all."""

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
        if len(data) > self.limit // 4:
            return
        with self.lock:
            old = self.items.pop(key, None)
            self.size += len(data) - (len(old) if old is not None else 0)
            self.items[key] = data
            while self.size > self.limit:
                _, dropped = self.items.popitem(last=False)
                self.size -= len(dropped)


_cache = _Cache(CACHE_BYTES)


def _cache_key(store: Store, segments: Sequence[Segment], *query: Any) -> tuple[Any, ...]:
    # The last stored row of each segment pins its content: rows are only ever added, at higher steps.
    lasts = tuple(store.last_row([seg]) for seg in segments)
    return (store.url, tuple(segments), lasts, *query)


def read_sampled(
    store: Store, segments: Sequence[Segment], min_step: int | None, max_step: int | None, keys: Sequence[str] | None, samples: int
) -> bytes:
    """The visible history downsampled per key, as columnar JSON (no next page)."""
    key = _cache_key(store, segments, "sampled", min_step, max_step, None if keys is None else tuple(keys), samples)
    data = _cache.get(key)
    if data is None:
        rows, n = _downsample(_rows(store, segments, min_step, max_step, keys), keys, samples)
        data = encode_columns(rows, {"next_min_step": None, "samples": samples})
        if n >= CACHE_MIN_ROWS:
            _cache.put(key, data)
    return data


def read_preview(
    store: Store, segments: Sequence[Segment], min_step: int | None, max_step: int | None, keys: Sequence[str] | None, samples: int
) -> bytes:
    """A quick downsample of a long history from evenly spaced windows, marked "preview": true; exact when cheap.

    When the range spans at most PREVIEW_ROWS steps, or a cached exact downsample exists, or every window
    was read whole, the answer is the exact downsample (no "preview" mark) and needs no second request.
    """
    key = _cache_key(store, segments, "sampled", min_step, max_step, None if keys is None else tuple(keys), samples)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    if not segments:
        return read_sampled(store, segments, min_step, max_step, keys, samples)
    first = max(min_step if min_step is not None else 0, segments[0].first_step)
    last = store.last_row(segments, max_step)
    if last is None or last[0] - first + 1 <= PREVIEW_ROWS:
        return read_sampled(store, segments, min_step, max_step, keys, samples)
    windows = max(1, min(samples // 2, PREVIEW_ROWS))
    per = max(2, PREVIEW_ROWS // windows)
    width = (last[0] - first + 1) / windows
    rows: list[dict[str, Any]] = []
    whole = True
    for w in range(windows):
        lo, hi = first + int(w * width), first + int((w + 1) * width) - 1
        if hi < lo:
            continue
        it = _rows(store, segments, lo, hi, keys)
        try:
            got = list(islice(_filter(it, keys), per + 1))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()
        whole = whole and len(got) <= per
        rows.extend(got[:per])
    chosen, _ = _downsample(rows, keys, samples)
    return encode_columns(chosen, {"next_min_step": None, "samples": samples, **({} if whole else {"preview": True})})
