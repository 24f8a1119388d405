"""Blobs as files in a directory: <root>/<sha[:2]>/<sha>, written to a temporary name and renamed into place."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from runtree.domain.media import check_sha256
from runtree.errors import NoSuchFile, StoreError
from runtree.store.blobs import digest


class DirectoryBlobs:
    """Content-addressed files under one directory; safe for several threads and processes at once."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.url = f"file://{self.root.resolve()}"

    def _path(self, sha256: str) -> Path:
        try:
            check_sha256(sha256, "blob")
        except ValueError as e:
            raise NoSuchFile(str(e)) from None
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self._path(sha256).is_file()

    def put(self, data: bytes, sha256: str | None = None) -> str:
        actual = digest(data)
        if sha256 is not None and sha256 != actual:
            raise StoreError(f"blob sha256 mismatch: expected {sha256}, the bytes hash to {actual}")
        path = self._path(actual)
        if path.is_file():
            return actual
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)  # atomic: a reader sees the whole blob or none
        except OSError as e:
            raise StoreError(f"cannot store a blob under {self.root}: {e}") from e
        return actual

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self._path(sha256).open("rb")
        except FileNotFoundError:
            raise NoSuchFile(f"no stored file has sha256 {sha256}") from None

    def size(self, sha256: str) -> int:
        try:
            return self._path(sha256).stat().st_size
        except FileNotFoundError:
            raise NoSuchFile(f"no stored file has sha256 {sha256}") from None

    def delete(self, sha256: str) -> bool:
        try:
            self._path(sha256).unlink()
            return True
        except FileNotFoundError:
            return False
