"""How values travel into store columns: JSON that keeps NaN, ±inf and big integers exactly.

`dumps`/`loads` (config, summaries, lineage) are Python's json: its NaN/Infinity tokens and arbitrary
integers read back equal. History rows and system samples, the bulk of a store, take a faster path:
`dumps_row` writes with orjson unless a value is one orjson cannot keep (a non-finite float, which it
would turn into null; an integer beyond 64 bits, which it would read back as a float; any other type);
such a row is written by json behind a leading MARK, so `loads_row` knows to read it with json too.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

_encoder = json.JSONEncoder(allow_nan=True, separators=(",", ":"), default=str)
dumps = _encoder.encode
loads = json.loads
MARK = "~"  # cannot start a JSON text: a row written by json, to be read by json
_INT64 = 1 << 63
_PLAIN = (str, bool, type(None))


def _orjson_exact(row: dict[str, Any]) -> bool:
    for v in row.values():
        t = type(v)
        if t is float:
            if not math.isfinite(v):
                return False
        elif t is int:
            if not -_INT64 <= v < _INT64:
                return False
        elif t not in _PLAIN:
            return False
    return True


def dumps_row(row: dict[str, Any]) -> str:
    """One history row or system sample (a flat dict of scalars, as run.log makes them) as stored text."""
    if _orjson_exact(row):
        try:
            return orjson.dumps(row).decode()
        except TypeError:  # a non-string key
            pass
    return MARK + _encoder.encode(row)


def loads_row(text: str) -> Any:
    """Read back what dumps_row wrote (and plain json text from stores written before the fast path)."""
    if text[:1] == MARK:
        return json.loads(text[1:])
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # NaN/Infinity tokens
        return json.loads(text)


def loads_or(text: str | None, default: Any) -> Any:
    return default if text is None else json.loads(text)
