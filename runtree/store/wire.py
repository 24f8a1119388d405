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
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from runtree.domain.records import Rewind, RunRecord, Segment
from runtree.store.base import ApiKey
from runtree.store.codec import dumps as dumps_exact

__all__ = [
    "EXACT_MEDIA_TYPE",
    "decode_columns",
    "dumps_exact",
    "encode_columns",
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
