"""Content-addressed files (media, later artifacts) behind a small interface: has, put, open, delete.

`open_blobs(url)` picks the implementation by URL, as open_store does: a directory (`file:///path` or a
bare path) today; an object store (s3://) is for issue 11. Every file is named by the sha256 of its bytes,
so one stored once serves every run, fork and rewind that references it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import BinaryIO, Protocol

from runtree.errors import StoreError

__all__ = ["BlobStore", "default_blobs_url", "digest", "open_blobs"]


class BlobStore(Protocol):
    url: str

    def has(self, sha256: str) -> bool:
        """Whether the blob is stored."""

    def put(self, data: bytes, sha256: str | None = None) -> str:
        """Store `data` once (a no-op when stored already); its sha256. A given sha256 is checked."""

    def open(self, sha256: str) -> BinaryIO:
        """The blob's bytes as a binary file; NoSuchFile when it is not stored."""

    def size(self, sha256: str) -> int:
        """The blob's size in bytes; NoSuchFile when it is not stored."""

    def delete(self, sha256: str) -> bool:
        """Remove the blob; False when there was none."""


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def default_blobs_url(store_dir: str | os.PathLike[str] | None = None) -> str:
    """$RUNTREE_BLOBS_URL, else `files/` beside the embedded store (`store_dir`, $RUNTREE_DIR or ./runtree)."""
    env = os.environ.get("RUNTREE_BLOBS_URL")
    if env and store_dir is None:
        return env
    base = Path(store_dir or os.environ.get("RUNTREE_DIR") or "runtree")
    return f"file://{(base / 'files').resolve()}"


def open_blobs(url: str) -> BlobStore:
    """The blob store for `url`: file:///dir or a directory path."""
    if url.startswith("file://"):
        url = url[len("file://") :]
    elif "://" in url:
        scheme = url.split("://", 1)[0]
        raise StoreError(
            f"cannot open blob store {url!r}: scheme {scheme!r} is not supported yet (object stores come with issue 11); use a directory"
        )
    from runtree.store.blobs.directory import DirectoryBlobs

    return DirectoryBlobs(Path(url))
