"""History reads for the server: a page of rows as columns, the keys filter, and min/max downsampling.

A page holds at most `limit` rows and names `next_min_step`, the step of the first row it left out (null
at the end); asking again from there continues, with no state kept on the server. Downsampling reads
the whole range and keeps, per key, at most `samples` points: the key's steps are cut into samples // 2
buckets of equal step width, and each bucket keeps the points of its smallest and largest finite value
(a bucket with no finite number keeps its first point). The chosen points of all keys make up the rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from runtree.domain.records import Segment
from runtree.store.base import Store
from runtree.store.wire import encode_columns


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
    it = store.read_rows(segments, min_step, max_step)
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


def read_sampled(
    store: Store, segments: Sequence[Segment], min_step: int | None, max_step: int | None, keys: Sequence[str] | None, samples: int
) -> bytes:
    """The visible history downsampled per key, as columnar JSON (no next page)."""
    series: dict[str, tuple[list[int], list[Any]]] = {}
    wanted = None if keys is None else set(keys)
    for row in store.read_rows(segments, min_step, max_step):
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
    rows: list[Mapping[str, Any]] = [chosen[s] for s in sorted(chosen)]
    return encode_columns(rows, {"next_min_step": None, "samples": samples})
