"""A SQL store's media: the `media` table (which file each row references, at which step) and its blobs.

Shared by SqliteStore and PostgresStore; a row's media files are read through the run's segments, one range
scan per segment as for rows, so a fork or a rewind sees exactly the media of its visible history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from runtree.domain.media import MediaFile, check_sha256
from runtree.domain.records import Segment
from runtree.errors import NoSuchFile, StoreError
from runtree.store.blobs import BlobStore
from runtree.store.columns import segment_bounds

Execute = Callable[[str, list[tuple[Any, ...]]], None]
Query = Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]]
_COLS = "step, key, path, sha256, size, type"


class MediaRecords:
    """The media table behind `execute` (many rows, one transaction) and `query`, with `?` or `%s` parameters."""

    def __init__(self, blobs: BlobStore, execute: Execute, query: Query, param: str = "?") -> None:
        self.blobs, self._execute, self._query, self._p = blobs, execute, query, param

    def put(self, uid: str, epoch: int, files: Sequence[MediaFile], data: Mapping[str, bytes]) -> None:
        """Store each blob not stored yet, then record the files (idempotent: a retried batch adds nothing)."""
        for f in files:
            if not self.blobs.has(f.sha256):
                blob = data.get(f.sha256)
                if blob is None:
                    raise StoreError(f"media file {f.path!r} of run {uid}: its bytes (sha256 {f.sha256}) were not sent")
                self.blobs.put(blob, f.sha256)
        if files:
            p = self._p
            self._execute(
                f"INSERT INTO media (uid, epoch, {_COLS}) VALUES ({','.join([p] * 8)}) ON CONFLICT (uid, epoch, path) DO NOTHING",
                [(uid, epoch, f.step, f.key, f.path, f.sha256, f.size, f.type) for f in files],
            )

    def list(self, segments: Sequence[Segment], path: str | None = None, sha256: str | None = None) -> list[MediaFile]:
        p = self._p
        extra: str = ""
        args: tuple[Any, ...] = ()
        if path is not None:
            extra, args = f" AND path={p}", (path,)
        elif sha256 is not None:
            extra, args = f" AND sha256={p}", (sha256,)
        out: list[MediaFile] = []
        for seg in segments:
            bounds = segment_bounds(seg, None, None)
            if bounds is None:
                continue
            rows = self._query(
                f"SELECT {_COLS} FROM media WHERE uid={p} AND epoch={p} AND step BETWEEN {p} AND {p}{extra} ORDER BY step, key, path",
                (seg.source_uid, seg.epoch, *bounds, *args),
            )
            out.extend(MediaFile(int(r[0]), r[1], r[2], r[3], int(r[4]), r[5]) for r in rows)
        return out

    def read_blob(self, sha256: str) -> bytes:
        try:
            check_sha256(sha256, "read_blob")
        except ValueError as e:
            raise NoSuchFile(str(e)) from None
        with self.blobs.open(sha256) as f:
            return f.read()
