"""How values travel into store columns: JSON that keeps NaN and ±inf exactly (Python's json does)."""

from __future__ import annotations

import json
from typing import Any

_encoder = json.JSONEncoder(allow_nan=True, separators=(",", ":"), default=str)
dumps = _encoder.encode
loads = json.loads


def dumps_row(row: dict[str, Any]) -> str:
    return _encoder.encode(row)


def loads_or(text: str | None, default: Any) -> Any:
    return default if text is None else json.loads(text)
