"""The media of an offline W&B run as runtree keeps them: each `_type` value whole in its row, its file stored
once by sha256 and listed at the row's step.

wandb's core writes a logged dict as one history item per leaf (`img._type`, `img.path`, ...); `nest_media`
puts such a value back together. `tie_files` reads the files the value names from the run's `files/` folder.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from runtree.domain.media import FILE_TYPES, MAX_FILES, MediaFile, check_path, iter_files, nested_files
from runtree.errors import BadMediaValue

MAX_FILE_BYTES = 1 << 30


def nest_media(row: dict[str, Any]) -> dict[str, Any]:
    """`row` with every `<key>._type` group of dotted keys made one dict under `<key>` (in place)."""
    prefixes = sorted({k[: -len("._type")] for k, v in row.items() if k.endswith("._type") and isinstance(v, str)}, key=len)
    for p in prefixes:
        if p in row or not any(k.startswith(p + ".") for k in row):
            continue  # inside a value nested already (an outer prefix took it)
        value: dict[str, Any] = {}
        for k in [k for k in row if k.startswith(p + ".")]:
            *parents, leaf = k[len(p) + 1 :].split(".")
            node = value
            for part in parents:
                node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else node
            node[leaf] = row.pop(k)
        row[p] = value
    return row


def tie_files(step: int, key: str, value: dict[str, Any], files_dir: Path) -> tuple[list[MediaFile], dict[str, bytes], int]:
    """The files `value` names, read from `files_dir` (sha256 and size as stored); how many were missing.

    wandb lists an image sequence's files by name only: runtree adds their sha256s ("files"), as its SDK does."""
    if value.get("_type") == "images/separated" and "files" not in value:
        names = value.get("filenames")
        if isinstance(names, list) and len(names) <= MAX_FILES:
            value["files"] = [{"path": n, "sha256": "", "size": 0} for n in names if isinstance(n, str)]
    wanted: list[Any] = []
    if value.get("_type") in FILE_TYPES:
        wanted = [value, *nested_files(value)]
    else:
        wanted = [f for f in value.get("files") or value.get("audio") or value.get("videos") or () if isinstance(f, dict)]
    files: list[MediaFile] = []
    blobs: dict[str, bytes] = {}
    missing = 0
    for f in wanted:
        try:
            path = check_path(f.get("path"), f"value of {key!r}")
            p = files_dir / path
            if not p.is_file() or p.stat().st_size > MAX_FILE_BYTES:
                raise FileNotFoundError(path)
            data = p.read_bytes()
        except (BadMediaValue, OSError):
            missing += 1
            continue
        f["sha256"], f["size"] = hashlib.sha256(data).hexdigest(), len(data)  # what the file is, whatever was claimed
        blobs[f["sha256"]] = data
    files = [MediaFile(step, key, path, sha, size, kind) for path, sha, size, kind in iter_files(key, value) if sha in blobs]
    return files, blobs, missing
