"""Media as history values: W&B's `_type` JSON shapes (image-file, table-file, histogram, ...) and their checks.

A media value is a dict in a row, e.g. {"_type": "image-file", "path": "media/images/img_3_ab12.png",
"sha256": "...", "size": 1234, "width": 64, "height": 64, "format": "png"}; its file is stored once by
sha256 (runtree.store.blobs) and listed as a MediaFile of the run at the row's step, so forks and rewinds
see exactly the media of their visible segments.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from runtree.errors import BadMediaValue

# `_type` of a value whose file is named by "path" (+ "sha256", "size"), with the folder wandb puts it in.
FILE_TYPES: dict[str, str] = {
    "image-file": "images",
    "table-file": "table",
    "audio-file": "audio",
    "video-file": "videos",
    "html-file": "html",
    "object3D-file": "object3D",
    "molecule-file": "molecule",
    "plotly-file": "plotly",
    "bokeh-file": "bokeh",
}
# Files inside an image value: its bounding boxes and masks ({"boxes": {name: {"_type": "boxes2D", "path", ...}}}).
NESTED_TYPES: dict[str, str] = {"boxes2D": "metadata/boxes2D", "mask": "images/mask"}
_NESTED_KEYS = ("boxes", "masks")
SEQUENCE_TYPES = frozenset(("images/separated", "audio", "videos"))  # a list of files under one key
INLINE_TYPES = frozenset(("histogram", "plotly", "wandb.Table"))
MAX_BINS = 512  # wandb.Histogram allows up to 512 bins
MAX_PATH = 512
MAX_FILES = 1024  # files one value may reference (wandb's Image.MAX_ITEMS is 108)
_SHA256 = re.compile(r"[0-9a-f]{64}")
_PATH = re.compile(r"[A-Za-z0-9_.,=+@%()\[\] /-]+")


@dataclass(frozen=True, slots=True)
class MediaFile:
    """One file a run's row references: at `step`, under `key`; its bytes are the blob `sha256`."""

    step: int
    key: str
    path: str
    sha256: str
    size: int
    type: str

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "key": self.key, "path": self.path, "sha256": self.sha256, "size": self.size, "type": self.type}

    @staticmethod
    def from_json(d: Mapping[str, Any]) -> MediaFile:
        return MediaFile(int(d["step"]), str(d["key"]), str(d["path"]), str(d["sha256"]), int(d["size"]), str(d["type"]))


_FOLDER_TYPES = {**{folder: kind for kind, folder in FILE_TYPES.items()}, **{folder: kind for kind, folder in NESTED_TYPES.items()}}
_LOGGED = re.compile(r"media/(.+)/([^/]+)_(\d+)_([0-9a-f]{20})\.[A-Za-z0-9.]+")


def file_of_path(path: str, sha256: str, size: int) -> MediaFile | None:
    """The MediaFile a file named as wandb names logged media describes (media/images/img_3_<sha[:20]>.png:
    key img, step 3), when its bytes hash to that name; None for any other file."""
    m = _LOGGED.fullmatch(path)
    if m is None or not sha256.startswith(m.group(4)):
        return None
    folder, key, step = m.group(1), m.group(2), int(m.group(3))
    kind = _FOLDER_TYPES.get(folder)
    if kind is None and "/" in folder:  # a key with slashes: media/images/val/img_3_....png
        top = next((f for f in sorted(_FOLDER_TYPES, key=len, reverse=True) if folder.startswith(f + "/")), None)
        if top is not None:
            kind, key = _FOLDER_TYPES[top], f"{folder[len(top) + 1 :]}/{key}"
    return None if kind is None else MediaFile(step, key, path, sha256, size, kind)


def is_media(value: Any) -> bool:
    """A row value that is a W&B `_type` dict."""
    return isinstance(value, dict) and isinstance(value.get("_type"), str)


def file_path(kind: str, key: str, step: int | str, sha256: str, ext: str) -> str:
    """Where wandb puts a logged file: media/<folder>/<key>_<step>_<sha256[:20]>.<ext>."""
    folder = FILE_TYPES.get(kind) or NESTED_TYPES.get(kind, "files")
    safe = re.sub(r"[^A-Za-z0-9_.\-/]", "_", key).strip("/").replace("..", "_") or "value"
    safe = re.sub(r"/+", "/", safe)[:200]  # paths stay well under MAX_PATH whatever the key
    return f"media/{folder}/{safe}_{step}_{sha256[:20]}.{ext}"


def check_path(path: Any, where: str) -> str:
    """A relative, normalised file path: no '..', no leading '/', no odd characters, bounded."""
    if not isinstance(path, str) or not path or len(path) > MAX_PATH or not _PATH.fullmatch(path):
        raise BadMediaValue(f"{where}: path must be a relative file path of at most {MAX_PATH} plain characters, got {path!r:.120}")
    if path.startswith("/") or any(part in ("", ".", "..") for part in path.split("/")):
        raise BadMediaValue(f"{where}: path {path!r:.120} must be relative, without '.' or '..' parts")
    return path


def check_sha256(sha: Any, where: str) -> str:
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise BadMediaValue(f"{where}: sha256 must be 64 lowercase hex digits, got {sha!r:.80}")
    return sha


def _check_size(size: Any, where: str) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise BadMediaValue(f"{where}: size must be a non-negative integer, got {size!r:.40}")
    return size


def _numbers(xs: Any, where: str, field: str, limit: int) -> list[float]:
    if not isinstance(xs, list) or len(xs) > limit:
        raise BadMediaValue(f"{where}: {field} must be a list of at most {limit} numbers")
    for x in xs:
        if isinstance(x, bool) or not isinstance(x, int | float):
            raise BadMediaValue(f"{where}: {field} must hold numbers only, got {x!r:.40}")
    return xs


def check_value(key: str, value: Mapping[str, Any]) -> None:
    """Raise BadMediaValue when a `_type` value's shape is wrong (a file without path or sha256, bins that
    do not fit their values, ...). Unknown `_type`s pass: they are kept as the JSON they are."""
    kind = value.get("_type")
    where = f"value of {key!r} ({kind})"
    if kind in FILE_TYPES:
        check_path(value.get("path"), where)
        check_sha256(value.get("sha256"), where)
        _check_size(value.get("size"), where)
        for f in nested_files(value):
            check_path(f.get("path"), where)
            check_sha256(f.get("sha256"), where)
            _check_size(f.get("size"), where)
    elif kind == "histogram":
        bins = value.get("bins")
        if isinstance(bins, dict) and bins.get("_type") == "histogram-bins":  # wandb's compact form
            return
        counts = _numbers(value.get("values"), where, "values", MAX_BINS)
        edges = _numbers(bins, where, "bins", MAX_BINS + 1)
        if len(edges) != len(counts) + 1:
            raise BadMediaValue(f"{where}: bins must have one more edge than values ({len(edges)} edges, {len(counts)} values)")
        if any(not math.isfinite(e) for e in edges):
            raise BadMediaValue(f"{where}: bin edges must be finite")
    elif kind in SEQUENCE_TYPES:
        names = value.get("filenames")
        if names is not None:
            if not isinstance(names, list) or len(names) > MAX_FILES:
                raise BadMediaValue(f"{where}: filenames must be a list of at most {MAX_FILES} paths")
            for p in names:
                check_path(p, where)
        items = _items(value)
        if not isinstance(items, list) or len(items) > MAX_FILES:
            raise BadMediaValue(f"{where}: {_ITEMS[kind]} must be a list of at most {MAX_FILES} files")
        for f in items:
            if not isinstance(f, Mapping):
                raise BadMediaValue(f"{where}: {_ITEMS[kind]} must be a list of {{path, sha256, size}}")
            check_path(f.get("path"), where)
            check_sha256(f.get("sha256"), where)
            _check_size(f.get("size"), where)


# Where a sequence value lists its files: wandb's own "audio"/"videos" lists of file values; for images wandb
# writes only "filenames", so runtree adds "files" ({path, sha256, size} each) beside them.
_ITEMS = {"images/separated": "files", "audio": "audio", "videos": "videos"}


def _items(value: Mapping[str, Any]) -> Any:
    return value.get(_ITEMS[value["_type"]]) or []


def nested_files(value: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The file values inside an image value: its boxes and masks."""
    out: list[Mapping[str, Any]] = []
    for name in _NESTED_KEYS:
        group = value.get(name)
        if isinstance(group, Mapping):
            out.extend(v for v in group.values() if isinstance(v, Mapping) and v.get("_type") in NESTED_TYPES)
    return out[:MAX_FILES]


def iter_files(key: str, value: Any) -> Iterator[tuple[str, str, int, str]]:
    """(path, sha256, size, _type) of each stored file a row value references (none for inline values)."""
    if not is_media(value):
        return
    kind = value["_type"]
    if kind in FILE_TYPES and isinstance(value.get("sha256"), str):
        yield value["path"], value["sha256"], int(value.get("size") or 0), kind
        for f in nested_files(value):
            if isinstance(f.get("sha256"), str):
                yield f["path"], f["sha256"], int(f.get("size") or 0), str(f["_type"])
    elif kind in SEQUENCE_TYPES:
        item_kind = "image-file" if kind == "images/separated" else None
        for f in _items(value):
            if isinstance(f, Mapping) and isinstance(f.get("sha256"), str):
                yield f["path"], f["sha256"], int(f.get("size") or 0), str(item_kind or f.get("_type") or kind)


def media_files(step: int, row: Mapping[str, Any]) -> list[MediaFile]:
    """The MediaFiles a committed row references, checked (BadMediaValue names the bad key)."""
    out: list[MediaFile] = []
    for key, value in row.items():
        if is_media(value):
            check_value(key, value)
            out.extend(MediaFile(step, key, p, sha, size, kind) for p, sha, size, kind in iter_files(key, value))
    return out
