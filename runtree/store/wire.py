"""The HTTP wire format shared by runtree.server and RemoteStore: records as JSON, history as exact columns.

Two JSON dialects travel. Strict JSON (`application/json`) writes a non-finite float as the string
"NaN", "Infinity" or "-Infinity": fit for a browser, lossy only in that such a string reads back as a
string. The exact dialect (`EXACT_MEDIA_TYPE`) is JSON plus the bare tokens NaN, Infinity and -Infinity
as Python's json module (and JSON5) write them; RemoteStore sends and asks for it, so records round-trip
exactly. Request bodies are read with Python's json, so they may use either.

History travels as columns (strict JSON in both dialects), decoded by orjson without a Python object
per row: `{"n": rows, "columns": {key: [value per row]}, "absent": {key: [row index, ...]},
"exact": {key: [[row index, text], ...]}}`. A row lacking a key has null in that column and its index
under "absent"; a value JSON cannot carry exactly (a non-finite float, an integer beyond 64 bits, a
nested value holding one) has null in the column and its exact-dialect text under "exact".
"""

from __future__ import annotations

import dataclasses
import json
import math
import struct
import sys
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson

from runtree.domain import chunks
from runtree.domain.chunks import Agg, Column
from runtree.domain.records import Rewind, RunRecord, Segment
from runtree.store.base import ApiKey
from runtree.store.chunked import Piece
from runtree.store.codec import dumps as dumps_exact

__all__ = [
    "COLUMNS_MEDIA_TYPE",
    "EXACT_MEDIA_TYPE",
    "aggregates_from_json",
    "aggregates_to_json",
    "decode_columns",
    "decode_pieces",
    "dumps_exact",
    "encode_columns",
    "encode_pieces",
    "key_from_json",
    "key_to_json",
    "loads",
    "rewind_from_json",
    "rewind_to_json",
    "run_from_json",
    "run_to_json",
    "segment_from_json",
    "segment_to_json",
    "strict",
]

EXACT_MEDIA_TYPE = "application/vnd.runtree+json"
loads = json.loads  # reads both dialects
_RUN_FIELDS = frozenset(f.name for f in dataclasses.fields(RunRecord))
_NONFINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}
_MISSING = object()


def strict(value: Any) -> Any:
    """`value` with every non-finite float (at any depth) replaced by "NaN", "Infinity" or "-Infinity"."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if value != value else _NONFINITE[value]
    if isinstance(value, Mapping):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict(v) for v in value]
    return value


# -- records ---------------------------------------------------------------------------------
def run_to_json(run: RunRecord) -> dict[str, Any]:
    d = {f: getattr(run, f) for f in _RUN_FIELDS}
    d["tags"] = list(run.tags)
    return d


def run_from_json(d: Mapping[str, Any]) -> RunRecord:
    """A RunRecord from its JSON; fields this runtree does not know (from a newer server) are ignored."""
    fields = {k: v for k, v in d.items() if k in _RUN_FIELDS}
    fields["tags"] = tuple(fields.get("tags") or ())
    return RunRecord(**fields)


def segment_to_json(s: Segment) -> dict[str, Any]:
    return {"source_uid": s.source_uid, "epoch": s.epoch, "first_step": s.first_step, "last_step": s.last_step, "until_time": s.until_time}


def segment_from_json(d: Mapping[str, Any]) -> Segment:
    return Segment(d["source_uid"], d["epoch"], d["first_step"], d.get("last_step"), d.get("until_time"))


def rewind_to_json(r: Rewind) -> dict[str, Any]:
    return {
        "uid": r.uid,
        "at_step": r.at_step,
        "from_epoch": r.from_epoch,
        "to_epoch": r.to_epoch,
        "created_at": r.created_at,
        "archived": [segment_to_json(s) for s in r.archived],
    }


def rewind_from_json(d: Mapping[str, Any]) -> Rewind:
    return Rewind(
        d["uid"], d["at_step"], d["from_epoch"], d["to_epoch"], d["created_at"], tuple(segment_from_json(s) for s in d["archived"])
    )


def key_to_json(k: ApiKey) -> dict[str, Any]:
    return {
        "key_hash": k.key_hash,
        "entities": list(k.entities),
        "admin": k.admin,
        "label": k.label,
        "prefix": k.prefix,
        "created_at": k.created_at,
    }


def key_from_json(d: Mapping[str, Any]) -> ApiKey:
    return ApiKey(
        d["key_hash"], tuple(d.get("entities") or ()), bool(d.get("admin")), d.get("label", ""), d.get("prefix", ""), d["created_at"]
    )


# -- history columns ---------------------------------------------------------------------------
def _inexact(v: Any) -> bool:
    """True when orjson cannot write `v` so that it reads back equal (non-finite, > 64-bit ints, nested ones)."""
    if isinstance(v, float):
        return not math.isfinite(v)
    if isinstance(v, int | dict | list):
        try:
            return bool(orjson.loads(orjson.dumps(v)) != v)
        except (TypeError, orjson.JSONEncodeError):
            return True
    return False


def _column_json(col: list[Any], n_null: int) -> tuple[bytes, list[list[Any]]]:
    """The column as JSON, and [index, exact text] for the values it could not carry (nulled in `col`)."""
    try:
        data = orjson.dumps(col)
    except (TypeError, orjson.JSONEncodeError):  # an integer beyond 64 bits
        data = b""
    # orjson writes a non-finite float as null: every null beyond the real Nones (and absent rows) is one.
    if data and data.count(b"null") == n_null:
        return data, []
    exact = []
    for i, v in enumerate(col):
        if _inexact(v):
            exact.append([i, dumps_exact(v)])
            col[i] = None
    return orjson.dumps(col), exact


def encode_columns(rows: Sequence[Mapping[str, Any]], extra: Mapping[str, Any] | None = None) -> bytes:
    """`rows` as one columnar JSON object (see the module docstring); `extra` adds top-level fields."""
    n = len(rows)
    signatures = dict.fromkeys(map(tuple, rows))  # the distinct key sequences, in order of first appearance
    keys = list(dict.fromkeys(k for sig in signatures for k in sig))
    full = set(keys) if len(signatures) == 1 else set.intersection(*map(set, signatures)) if signatures else set()
    parts, absent_parts, exact_parts = [], [], []
    for k in keys:
        if k in full:
            col = [r[k] for r in rows]
            missing: list[int] = []
        else:
            col = [r.get(k, _MISSING) for r in rows]
            missing = [i for i, v in enumerate(col) if v is _MISSING]
            for i in missing:
                col[i] = None
            absent_parts.append(orjson.dumps(k) + b":" + orjson.dumps(missing))
        data, exact = _column_json(col, col.count(None))
        parts.append(orjson.dumps(k) + b":" + data)
        if exact:
            exact_parts.append(orjson.dumps(k) + b":" + orjson.dumps(exact))
    head = b'{"n":%d,"columns":{' % n + b",".join(parts) + b'},"absent":{' + b",".join(absent_parts)
    tail = b'},"exact":{' + b",".join(exact_parts) + b"}"
    for name, value in (extra or {}).items():
        tail += b"," + orjson.dumps(name) + b":" + orjson.dumps(value)
    return head + tail + b"}"


def decode_columns(page: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of a columnar page, exactly as they were encoded (values, types and key order)."""
    cols: dict[str, list[Any]] = page["columns"]
    for k, entries in (page.get("exact") or {}).items():
        col = cols[k]
        for i, text in entries:
            col[i] = loads(text)
    keys = list(cols)
    if not keys:
        return [{} for _ in range(page.get("n", 0))]
    rows = [dict(zip(keys, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]
    for k, missing in (page.get("absent") or {}).items():
        for i in missing:
            del rows[i][k]
    return rows


# -- history as binary columns -------------------------------------------------------------------
# A stream of pieces (runtree.store.chunked.Piece), each: a 4-byte little-endian header length, the header
# (JSON: lo, hi, n, implied, order, and per column [key, kind, bitmap bytes, value bytes]), then the
# buffers: steps (int64), times (float64, empty when not asked for), and per column its presence bitmap
# and values (float64 / int64 little-endian, one byte per bool, or exact-dialect JSON text of a list).
# numpy reads the typed buffers as they are: no Python object per point on either side.
COLUMNS_MEDIA_TYPE = "application/vnd.runtree.columns"
NEXT_MIN_STEP = "X-Next-Min-Step"  # header of a columns page that has a next one: its min_step
_LE = sys.byteorder == "little"


def _le(a: array[Any]) -> bytes:
    if not _LE:
        a = array(a.typecode, a)
        a.byteswap()
    return a.tobytes()


def _typed(col: Column) -> tuple[bytes, bytes]:
    """(kind, values as bytes) of a column, typing a tail's JSON column when its values allow."""
    if col.kind in (chunks.FLOAT, chunks.INT):
        return col.kind, col.raw if col.raw else _le(array("d" if col.kind == chunks.FLOAT else "q", col.values))
    if col.kind == chunks.BOOL:
        return col.kind, bytes(col.values)
    kind = chunks.column_kind(col.values)
    if kind == chunks.FLOAT:
        return kind, _le(array("d", col.values))
    if kind == chunks.INT:
        return kind, _le(array("q", col.values))
    if kind == chunks.BOOL:
        return kind, bytes(col.values)
    return chunks.JSON, dumps_exact(list(col.values)).encode()


def encode_pieces(pieces: Iterable[Piece], with_times: bool = True) -> Iterator[bytes]:
    """The pieces as binary frames (see above), one bytes object per piece."""
    for p in pieces:
        cols, bufs = [], [_le(array("q", p.steps)), _le(array("d", p.times)) if with_times else b""]
        for k, col in p.columns.items():
            kind, data = _typed(col)
            bitmap = col.present or b""
            cols.append([k, kind.decode(), len(bitmap), len(data)])
            bufs += [bitmap, data]
        head = orjson.dumps(
            {"lo": p.lo, "hi": p.hi, "n": len(p.steps), "implied": p.implied, "order": p.order, "cols": cols, "times": len(bufs[1])}
        )
        yield struct.pack("<I", len(head)) + head + b"".join(bufs)


def decode_pieces(data: bytes) -> Iterator[Piece]:
    """Read back what encode_pieces wrote."""
    view = memoryview(data)
    at = 0
    while at < len(view):
        (size,) = struct.unpack_from("<I", view, at)
        head = orjson.loads(view[at + 4 : at + 4 + size])
        at += 4 + size
        n = head["n"]
        steps = array("q")
        steps.frombytes(view[at : at + 8 * n])
        at += 8 * n
        times = array("d")
        times.frombytes(view[at : at + head["times"]])
        at += head["times"]
        if not _LE:
            steps.byteswap()
            times.byteswap()
        cols: dict[str, Column] = {}
        for key, kind, nbits, nbytes in head["cols"]:
            bitmap = bytes(view[at : at + nbits]) if nbits else None
            raw = bytes(view[at + nbits : at + nbits + nbytes])
            at += nbits + nbytes
            k = kind.encode()
            if k in (chunks.FLOAT, chunks.INT):
                a = array("d" if k == chunks.FLOAT else "q")
                a.frombytes(raw)
                if not _LE:
                    a.byteswap()
                cols[key] = Column(k, a, bitmap, raw if _LE else a.tobytes())
            elif k == chunks.BOOL:
                cols[key] = Column(k, [b != 0 for b in raw], bitmap, b"")
            else:
                cols[key] = Column(k, loads(raw), bitmap, b"")
        order = tuple(head["order"]) if head.get("order") is not None else None
        yield Piece(steps, times if head["times"] else array("d", bytes(8 * n)), head["implied"], cols, head["lo"], head["hi"], order)


def aggregates_to_json(aggs: Mapping[str, Agg]) -> str:
    """Per-key aggregates as exact-dialect JSON text (a string field of a strict JSON answer)."""
    return dumps_exact({k: [a.last, a.count, a.min, a.max, a.sum, a.first] for k, a in aggs.items()})


def aggregates_from_json(text: str) -> dict[str, Agg]:
    return {k: Agg(*v) for k, v in loads(text).items()}
