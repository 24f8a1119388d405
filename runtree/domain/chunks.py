"""The columnar chunk format of history: a few thousand rows as typed columns, compressed, with per-key aggregates.

A chunk holds consecutive rows of one (run uid, epoch). Its steps (int64) and timestamps
(float64) are columns of their own; each key is one column, encoded alone so a reader of one metric
decompresses only it. A column is typed when its values allow: all floats -> float64, all ints within
64 bits -> int64, all bools -> bytes; anything else (strings, None, > 64-bit ints, a mix of int and
float, W&B `_type` dicts, lists) goes in a side column of exact JSON (NaN, ±inf and big integers kept).
A key missing from some rows carries a presence bitmap. `_step` and `_timestamp` are not stored twice
when they equal the row's step and timestamp (the common case); a flag says so.

The encoding is Python's `array` buffers + byte shuffling + zstd: no numpy needed to write (the SDK's
writer seals chunks in the training process, which must stay light), and numpy reads a decoded buffer
with `frombuffer`, without a Python object per point.

Aggregates (`Agg`) per chunk and key follow runtree.domain.summary's rules exactly (numbers only, bools
not numbers, NaN skipped by min/max unless all are NaN, ties keep the first), so a summary can be
combined from chunks in step order instead of folding rows.
"""

from __future__ import annotations

import json
import sys
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import reduce
from operator import add
from typing import Any

CHUNK_ROWS = 2048  # rows per sealed chunk: a fork's partial chunk costs at most this many rows
STEP_KEY = "_step"
TIME_KEY = "_timestamp"
_INT64 = 1 << 63
_LITTLE = sys.byteorder == "little"
_json = json.JSONEncoder(allow_nan=True, separators=(",", ":"), default=str)
# One column blob, before compression: a type byte, a presence byte, [bitmap], payload.
FLOAT, INT, BOOL, JSON = b"f", b"i", b"b", b"j"

RowIn = tuple[int, float, Mapping[str, Any]]


def _compress(data: bytes) -> bytes:
    import zstandard  # on first seal, not on `import runtree`

    return zstandard.ZstdCompressor(level=3).compress(data)


def _decompress(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdDecompressor().decompress(data)


def _shuffle(raw: bytes, width: int = 8) -> bytes:
    """Byte planes of fixed-width values, most alike bytes together: floats compress several times better."""
    return b"".join(raw[i::width] for i in range(width))


def _unshuffle(data: bytes, width: int = 8) -> bytes:
    n = len(data) // width
    out = bytearray(len(data))
    for i in range(width):
        out[i::width] = data[i * n : (i + 1) * n]
    return bytes(out)


def _typed_bytes(a: array[Any]) -> bytes:
    if not _LITTLE:
        a = array(a.typecode, a)
        a.byteswap()
    return _shuffle(a.tobytes(), a.itemsize)


def _typed_array(typecode: str, data: bytes) -> array[Any]:
    a = array(typecode)
    a.frombytes(_unshuffle(data, a.itemsize))
    if not _LITTLE:
        a.byteswap()
    return a


# -- aggregates ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Agg:
    """What a chunk (or several, combined) says about one key: its last value of any type, and over its
    numeric values (bools excluded) their count, min, max, sum and first, as SummaryBuilder folds them."""

    last: Any
    count: int = 0
    min: Any = None
    max: Any = None
    sum: Any = None
    first: Any = None

    def to_json(self) -> str:
        return _json.encode([self.last, self.count, self.min, self.max, self.sum, self.first])

    @staticmethod
    def from_json(text: str | bytes) -> Agg:
        v = json.loads(text)
        return Agg(v[0], v[1], v[2], v[3], v[4], v[5])


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _lowest(values: Sequence[Any]) -> Any:
    clean = [v for v in values if v == v]  # NaN is skipped unless every value is NaN
    return min(clean) if clean else values[0]


def _highest(values: Sequence[Any]) -> Any:
    clean = [v for v in values if v == v]
    return max(clean) if clean else values[0]


def aggregate(values: Sequence[Any], numeric: bool | None = None) -> Agg:
    """The Agg of one key's values in step order (at least one). `numeric` True: all are numbers already."""
    nums = values if numeric else [v for v in values if _is_number(v)]
    if not nums:
        return Agg(values[-1])
    return Agg(values[-1], len(nums), _lowest(nums), _highest(nums), reduce(add, nums), nums[0])


def combine(a: Agg | None, b: Agg) -> Agg:
    """`a` then `b` (b's values come after a's): as if one SummaryBuilder had seen them all."""
    if a is None:
        return b
    if a.count == 0:
        return Agg(b.last, b.count, b.min, b.max, b.sum, b.first)
    if b.count == 0:
        return Agg(b.last, a.count, a.min, a.max, a.sum, a.first)
    lo = b.min if b.min == b.min and (b.min < a.min or a.min != a.min) else a.min
    hi = b.max if b.max == b.max and (b.max > a.max or a.max != a.max) else a.max
    return Agg(b.last, a.count + b.count, lo, hi, a.sum + b.sum, a.first)


def combine_all(parts: Iterable[Mapping[str, Agg]], into: dict[str, Agg] | None = None) -> dict[str, Agg]:
    """Per-key aggregates of consecutive pieces of history, in step order, combined."""
    out = {} if into is None else into
    for part in parts:
        for k, agg in part.items():
            out[k] = combine(out.get(k), agg)
    return out


def aggregate_rows(rows: Iterable[Mapping[str, Any]]) -> dict[str, Agg]:
    """Per-key aggregates of rows in step order (a partial chunk, the open tail)."""
    values: dict[str, list[Any]] = {}
    for row in rows:
        for k, v in row.items():
            got = values.get(k)
            if got is None:
                values[k] = [v]
            else:
                got.append(v)
    return {k: aggregate(vs) for k, vs in values.items()}


# -- columns -------------------------------------------------------------------------------------
def _bitmap(n: int, present: Sequence[int]) -> bytes:
    bm = bytearray((n + 7) // 8)
    for i in present:
        bm[i >> 3] |= 1 << (i & 7)
    return bytes(bm)


def present_rows(bitmap: bytes, n: int) -> list[int]:
    """Row indices a presence bitmap marks (bit i of byte i//8, least significant first)."""
    return [i for i in range(n) if bitmap[i >> 3] >> (i & 7) & 1]


def column_kind(values: Sequence[Any]) -> bytes:
    """The column type `values` allow: FLOAT, INT (within 64 bits), BOOL, else JSON."""
    types = set(map(type, values))
    if types == {float}:
        return FLOAT
    if types == {int} and min(values) >= -_INT64 and max(values) < _INT64:
        return INT
    if types == {bool}:
        return BOOL
    return JSON


def encode_column(values: Sequence[Any], n: int, present: Sequence[int] | None) -> tuple[bytes, Agg]:
    """One key's values (at rows `present` of n, or all n rows when None), compressed, and their Agg."""
    kind = column_kind(values)
    head = kind + (b"\x00" if present is None else b"\x01" + _bitmap(n, present))
    if kind == FLOAT:
        body = _typed_bytes(array("d", values))
    elif kind == INT:
        body = _typed_bytes(array("q", values))
    elif kind == BOOL:
        body = bytes(values)
    else:
        body = _json.encode(list(values)).encode()
    return _compress(head + body), aggregate(values, numeric=kind in (FLOAT, INT))


@dataclass(frozen=True, slots=True)
class Column:
    """A decoded column: its kind, the values of the rows that have the key, and which rows (None: all)."""

    kind: bytes
    values: Sequence[Any]  # array('d') / array('q') for typed columns, a list otherwise
    present: bytes | None  # the presence bitmap
    raw: bytes  # FLOAT/INT: the little-endian buffer numpy can read as is (empty otherwise)


def decode_column(blob: bytes, n: int) -> Column:
    data = _decompress(blob)
    kind, has_bitmap = data[:1], data[1]
    at = 2
    bitmap = None
    if has_bitmap:
        bitmap = data[at : at + (n + 7) // 8]
        at += len(bitmap)
    body = data[at:]
    if kind in (FLOAT, INT):
        raw = _unshuffle(body)
        a = array("d" if kind == FLOAT else "q")
        a.frombytes(raw)
        if not _LITTLE:
            a.byteswap()
        return Column(kind, a, bitmap, raw)
    if kind == BOOL:
        return Column(kind, [b != 0 for b in body], bitmap, b"")
    return Column(kind, json.loads(body), bitmap, b"")


def make_column(values: Sequence[Any], present: bytes | None) -> Column:
    """A decoded-form Column of plain values (an open tail's), typed when the values allow."""
    kind = column_kind(values)
    if kind in (FLOAT, INT):
        a = array("d" if kind == FLOAT else "q", values)
        raw = a.tobytes()
        if not _LITTLE:
            b = array(a.typecode, a)
            b.byteswap()
            raw = b.tobytes()
        return Column(kind, a, present, raw)
    return Column(kind, list(values), present, b"")


def column_rows(col: Column, n: int) -> list[int] | range:
    return range(n) if col.present is None else present_rows(col.present, n)


def encode_steps(steps: Sequence[int]) -> bytes:
    # Shuffled, not delta-coded: ~0.15 B a row either way after zstd, and decoding stays one buffer copy.
    return _compress(_typed_bytes(array("q", steps)))


def decode_steps(blob: bytes) -> array[int]:
    return _typed_array("q", _decompress(blob))


def encode_times(times: Sequence[float]) -> bytes:
    return _compress(_typed_bytes(array("d", times)))


def decode_times(blob: bytes) -> array[float]:
    return _typed_array("d", _decompress(blob))


# -- chunks --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Chunk:
    """Consecutive rows of one (uid, epoch), encoded: what a store keeps per chunk and per key."""

    first_step: int
    last_step: int
    n: int
    steps: bytes
    times: bytes
    implied: str  # "s" when every row's _step is its step, "t" when every _timestamp is its timestamp
    order: tuple[str, ...]  # every key in order of first appearance, implied ones included
    keys: tuple[str, ...]  # the keys with a column, in that order
    columns: tuple[bytes, ...]  # one blob per key
    aggs: tuple[Agg, ...]  # one per key


def encode_chunk(rows: Sequence[RowIn]) -> Chunk:
    """Rows (step, timestamp, row) in increasing step order as one chunk."""
    n = len(rows)
    steps = [r[0] for r in rows]
    times = [r[1] for r in rows]
    idx: dict[str, list[int]] = {}
    vals: dict[str, list[Any]] = {}
    for i, (_s, _t, row) in enumerate(rows):
        for k, v in row.items():
            got = vals.get(k)
            if got is None:
                vals[k] = [v]
                idx[k] = [i]
            else:
                got.append(v)
                idx[k].append(i)
    order = tuple(vals)
    implied = ""
    sv = vals.get(STEP_KEY)
    if sv is not None and len(sv) == n and sv == steps and set(map(type, sv)) == {int}:
        implied += "s"
        del vals[STEP_KEY]
    tv = vals.get(TIME_KEY)
    if tv is not None and len(tv) == n and set(map(type, tv)) == {float} and array("d", tv).tobytes() == array("d", times).tobytes():
        implied += "t"  # compared bit for bit: -0.0 and NaN stay what they were
        del vals[TIME_KEY]
    keys = tuple(vals)
    cols, aggs = [], []
    for k in keys:
        blob, agg = encode_column(vals[k], n, None if len(vals[k]) == n else idx[k])
        cols.append(blob)
        aggs.append(agg)
    return Chunk(steps[0], steps[-1], n, encode_steps(steps), encode_times(times), implied, order, keys, tuple(cols), tuple(aggs))


def chunk_aggs(chunk: Chunk, steps: Sequence[int] | None = None, times: Sequence[float] | None = None) -> dict[str, Agg]:
    """Every key's Agg in a chunk, the implied _step/_timestamp included."""
    out: dict[str, Agg] = {}
    if "s" in chunk.implied:
        s = decode_steps(chunk.steps) if steps is None else steps
        out[STEP_KEY] = aggregate(s, numeric=True)
    if "t" in chunk.implied:
        t = decode_times(chunk.times) if times is None else times
        out[TIME_KEY] = aggregate(list(t), numeric=True)
    out.update(zip(chunk.keys, chunk.aggs, strict=True))
    return out


def rows_of(
    steps: Sequence[int],
    times: Sequence[float],
    implied: str,
    columns: Mapping[str, Column],
    lo: int | None = None,
    hi: int | None = None,
    order: Sequence[str] | None = None,
) -> list[tuple[int, dict[str, Any]]]:
    """(step, row) for the rows of a decoded chunk with lo <= step <= hi, each row holding the given columns
    (and the implied _step/_timestamp), keys in `order` (the chunk's order of first appearance)."""
    n = len(steps)
    rows: list[dict[str, Any]] = [{} for _ in range(n)]
    if order is None:
        order = [STEP_KEY, *columns, TIME_KEY]
    for k in order:
        if k == STEP_KEY and "s" in implied:
            for r, s in zip(rows, steps, strict=True):
                r[k] = s
        elif k == TIME_KEY and "t" in implied:
            for r, t in zip(rows, times, strict=True):
                r[k] = t
        else:
            col = columns.get(k)
            if col is not None:
                for i, v in zip(column_rows(col, n), col.values, strict=True):
                    rows[i][k] = v
    if lo is None and hi is None:
        return list(zip(steps, rows, strict=True))
    return [(s, r) for s, r in zip(steps, rows, strict=True) if (lo is None or s >= lo) and (hi is None or s <= hi)]
