"""What run.log accepts: scalars and strings, nested dicts flattened to dotted keys; anything else goes to the
caller's `convert` (the SDK's media and lists), or is a TypeError."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

_PLAIN = frozenset((float, int, bool, str, type(None)))
ALLOWED = "bool, int, float, str, None, numpy scalars and 0-d arrays, or a dict of these"
DROP = object()  # what `convert` returns for a value to leave out of the row (it has told the user why)
Convert = Callable[[str, Any], Any]


def check_row(data: Mapping[str, Any], convert: Convert | None = None) -> dict[str, Any]:
    """Return a new flat dict of loggable values from `data`. A value that is not a scalar goes to `convert(key,
    value)`, which returns what to store (or DROP); without `convert` it is a TypeError naming the key."""
    if not isinstance(data, Mapping):
        raise TypeError(f"run.log() takes a dict of metrics, got {type(data).__name__}: {data!r:.80}")
    for k, v in data.items():
        # Fast path for the common case: a flat dict of plain scalars under string keys.
        if type(v) not in _PLAIN or type(k) is not str:
            break
    else:
        return dict(data)
    out: dict[str, Any] = {}
    _flatten(data, "", out, convert)
    return out


def _flatten(data: Mapping[Any, Any], prefix: str, out: dict[str, Any], convert: Convert | None = None) -> None:
    for k, v in data.items():
        if not isinstance(k, str):
            raise TypeError(f"run.log(): keys must be strings, got {type(k).__name__} key {k!r}")
        key = prefix + k
        if type(v) in _PLAIN:
            out[key] = v
        elif isinstance(v, Mapping):
            _flatten(v, key + ".", out, convert)
        elif convert is None:
            out[key] = to_scalar(key, v)
        else:
            got = convert(key, v)  # which falls back on to_scalar for what it does not know
            if got is not DROP:
                out[key] = got


def to_scalar(key: str, v: Any) -> Any:
    """Turn a numpy scalar / 0-d array / bool-int-float subclass into a plain Python value."""
    np = sys.modules.get("numpy")  # a numpy value exists only once numpy is loaded: runtree never loads it here
    if np is not None and (isinstance(v, np.generic) or (isinstance(v, np.ndarray) and v.ndim == 0)):
        v = v.item()
    elif isinstance(v, bool):
        return bool(v)
    elif isinstance(v, int | float | str):  # subclasses such as IntEnum: store the plain value
        for plain in (int, float, str):
            if isinstance(v, plain):
                return plain(v)
    if type(v) in _PLAIN:
        return v
    raise TypeError(f"run.log(): value for key {key!r} has type {type(v).__name__}, which runtree cannot log; allowed: {ALLOWED}")
