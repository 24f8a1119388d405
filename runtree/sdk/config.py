"""run.config and run.summary: the dict-like objects users read and write, as in wandb."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from runtree.errors import ConfigError, RuntreeWarning, UsageError
from runtree.sdk.writer import NullWriter, Writer

_MAX_DEPTH = 64  # nesting a config value may have


def _plain(value: Any, key: str = "value", depth: int = 0) -> Any:
    """A config or summary value made JSON-friendly the way wandb 0.31's json_friendly_val does it.

    numpy scalars and small arrays become Python values and lists, bytes are decoded as UTF-8, sets and tuples
    become lists, dates ISO strings, enums their name, callables their qualified name, dataclasses dicts,
    slices {slice_start, slice_step, slice_stop}, NaN None; any other object becomes its str() (as wandb),
    with a warning when that is only the default '<X object at 0x...>'. Text that no store can hold (NUL,
    lone surrogates) and nesting deeper than 64 raise UsageError naming the key.
    """
    if depth > _MAX_DEPTH:
        raise UsageError(f"config {key!r} is nested deeper than {_MAX_DEPTH} levels (a value that contains itself?)")
    t = type(value)
    if t is str:
        return _text(key, value)
    if t is int or t is bool or value is None:
        return value
    if t is float:
        return None if math.isnan(value) else value
    if isinstance(value, Mapping):
        return {_text(key, str(_plain(k, key, depth + 1))): _plain(v, key, depth + 1) for k, v in value.items()}
    if isinstance(value, slice):
        return {"slice_start": value.start, "slice_step": value.step, "slice_stop": value.stop}
    if isinstance(value, np.ndarray):
        if value.size == 1:
            return _plain(value.reshape(-1)[0], key, depth + 1)
        if value.size <= 32:
            return _plain(value.tolist(), key, depth + 1)
        return _text(key, str(value))  # as wandb: a large array is not kept in a config
    if isinstance(value, np.generic):
        item = value.item()
        if isinstance(item, np.generic):  # float128, bfloat16, ...: no exact Python type
            item = float(value) if value.dtype.kind == "f" else str(value)
        return _plain(item, key, depth + 1)
    if isinstance(value, bytes | bytearray):
        try:
            return _text(key, bytes(value).decode("utf-8"))
        except UnicodeDecodeError as e:
            raise UsageError(f"config {key!r}: bytes that are not UTF-8 text cannot be stored ({e})") from None
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, bool | int | float | str):  # subclasses: the plain value
        return _plain(next(p(value) for p in (bool, int, float, str) if isinstance(value, p)), key, depth + 1)
    if callable(value) and isinstance(qual := getattr(value, "__qualname__", None), str):
        return f"{getattr(value, '__module__', None)}.{qual}"
    if isinstance(value, set | frozenset):
        return [_plain(v, key, depth + 1) for v in value]
    if isinstance(value, Sequence):
        return [_plain(v, key, depth + 1) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value), key, depth + 1)
    text = str(value)
    if " object at 0x" in text:
        warnings.warn(
            f"config {key!r} holds a {type(value).__name__} with no readable form; it is stored as {text!r}, as wandb does. "
            "Store the settings that matter as plain values instead",
            RuntreeWarning,
            stacklevel=4,
        )
    return _text(key, text)


def _text(key: str, text: str) -> str:
    if "\x00" in text:
        raise UsageError(f"config {key!r}: text with a NUL character cannot be stored: {text[:60]!r}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise UsageError(f"config {key!r}: text with a lone surrogate cannot be stored ({e.reason} at {e.start}): {text[:60]!r}") from None
    return text


def config_dict(obj: Any) -> dict[str, Any]:
    """Turn what users pass as config (dict, argparse Namespace, dataclass-like, None) into a dict."""
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return {_text(str(k), str(k)): _plain(v, str(k)) for k, v in obj.items()}
    if hasattr(obj, "__dict__"):
        return {k: _plain(v, k) for k, v in vars(obj).items() if not k.startswith("_")}
    raise UsageError(f"config must be a dict or an object with attributes (e.g. argparse.Namespace), got {type(obj).__name__}")


class Config:
    """The run's config: attribute and item access, update(); changes are stored in the background."""

    def __init__(self, items: dict[str, Any], on_change: Callable[[dict[str, Any]], None]) -> None:
        object.__setattr__(self, "_items", dict(items))
        object.__setattr__(self, "_on_change", on_change)

    def _set(self, key: str, value: Any, allow_val_change: bool | None) -> None:
        key = _text(str(key), str(key).strip("-"))
        value = _plain(value, key)
        if not allow_val_change and key in self._items and self._items[key] != value:
            raise ConfigError(
                f'Attempted to change value of key "{key}" from {self._items[key]!r} to {value!r}. '
                "If you really want to do this, pass allow_val_change=True to config.update()"
            )
        self._items[key] = value

    def __setitem__(self, key: str, value: Any) -> None:
        self._set(key, value, None)
        self._on_change(dict(self._items))

    __setattr__ = __setitem__

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __getattr__(self, key: str) -> Any:
        try:
            return self._items[key]
        except KeyError:
            raise AttributeError(f"config has no key {key!r}") from None

    def __delitem__(self, key: str) -> None:
        del self._items[key]
        self._on_change(dict(self._items))

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Config({self._items!r})"

    def keys(self) -> list[str]:
        return list(self._items)

    def items(self) -> list[tuple[str, Any]]:
        return list(self._items.items())

    def values(self) -> list[Any]:
        return list(self._items.values())

    def get(self, key: str, default: Any = None) -> Any:
        return self._items.get(key, default)

    def update(self, d: Any, allow_val_change: bool | None = None) -> None:
        for k, v in config_dict(d).items():
            self._set(k, v, allow_val_change)
        self._on_change(dict(self._items))

    def setdefaults(self, d: Mapping[str, Any]) -> None:
        for k, v in config_dict(d).items():
            self._items.setdefault(k, v)
        self._on_change(dict(self._items))

    def as_dict(self) -> dict[str, Any]:
        return dict(self._items)


class Summary:
    """run.summary: the last value of each metric (or define_metric's min/max/mean/...), settable by hand."""

    def __init__(self, writer: Writer | NullWriter) -> None:
        self._writer = writer

    def _current(self) -> dict[str, Any]:
        self._writer.sync()
        with self._writer._lock:
            return self._writer.summary.result()

    def __getitem__(self, key: str) -> Any:
        return self._current()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._writer.sync()
        with self._writer._lock:
            self._writer.summary.set(key, _plain(value, key))
        self._writer.touch_summary()

    def __delitem__(self, key: str) -> None:
        self._writer.sync()
        with self._writer._lock:
            self._writer.summary.remove(key)
        self._writer.touch_summary()

    def __contains__(self, key: object) -> bool:
        return key in self._current()

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())

    def __repr__(self) -> str:
        return f"Summary({self._current()!r})"

    def keys(self) -> list[str]:
        return list(self._current())

    def items(self) -> list[tuple[str, Any]]:
        return list(self._current().items())

    def get(self, key: str, default: Any = None) -> Any:
        return self._current().get(key, default)

    def update(self, d: Mapping[str, Any]) -> None:
        self._writer.sync()
        with self._writer._lock:
            for k, v in d.items():
                self._writer.summary.set(k, _plain(v, k))
        self._writer.touch_summary()

    def as_dict(self) -> dict[str, Any]:
        return self._current()
