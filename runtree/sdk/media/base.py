"""What every logged media object is: cheap to make and to log on the training thread, encoded later.

A Media object keeps a private copy of what it was given (so the caller may reuse its buffers); `encode`
runs on the run's writer thread and returns the row value (W&B's `_type` dict) and the files it names.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from runtree.domain.media import file_path


@dataclass
class Encoded:
    """A media value ready for its row: the `_type` dict and the bytes of the files it references, by sha256."""

    value: dict[str, Any]
    files: list[tuple[str, str, int, str]] = field(default_factory=list)  # (path, sha256, size, _type)
    blobs: dict[str, bytes] = field(default_factory=dict)


class Media:
    """Base of Image, Table, Histogram, Audio, Video, Html, Object3D, Molecule and Plotly."""

    _log_type = "file"
    nbytes = 1024  # about what the object holds until it is encoded (the writer bounds the total)

    def encode(self, key: str, step: int) -> Encoded:  # pragma: no cover - every subclass has its own
        raise NotImplementedError

    def snapshot(self) -> Media:
        """What to queue at log(): self, or a copy when the object may still change (a Table)."""
        return self

    def to_json(self, key: str = "value", step: int = 0) -> dict[str, Any]:
        """The row value this object becomes (encodes it now, on the calling thread)."""
        return self.encode(key, step).value


def file_value(kind: str, key: str, step: int, data: bytes, ext: str, **fields: Any) -> Encoded:
    """An Encoded value for one file of `kind` (image-file, ...), named as wandb names it."""
    sha = hashlib.sha256(data).hexdigest()
    path = file_path(kind, key, step, sha, ext)
    value = {"_type": kind, "path": path, "sha256": sha, "size": len(data), **{k: v for k, v in fields.items() if v is not None}}
    return Encoded(value, [(path, sha, len(data), kind)], {sha: data})


def read_path(path: Any) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def extension(path: Any, default: str) -> str:
    name = str(path)
    return name.rsplit(".", 1)[-1].lower() if "." in name.rsplit("/", 1)[-1] else default
