"""Read W&B's `.wandb` transaction log: the 7-byte header, LevelDB-log framing, one Record protobuf per record.

Layout, checked against files written by the wandb 0.31 client:

- a 7-byte header: `:W&B`, 0xBEE1 as uint16 little-endian, version byte 0;
- then 32 KiB blocks counted from file offset 0 (the header sits in block 0), each holding chunks
  `crc32 uint32 LE | length uint16 LE | type uint8 | payload`, type 1 full, 2 first, 3 middle, 4 last;
  fewer than 7 bytes left in a block are padding. The CRC is the plain (unmasked, unlike LevelDB's)
  IEEE CRC-32 of the type byte followed by the payload;
- each reassembled record is one `wandb_internal.Record` protobuf (`wandb.proto.wandb_internal_pb2`).

The client's writer flushes whole blocks, so a run whose process died usually ends inside a record.
Reading stops at the first chunk that is damaged or cut short; what came before is yielded and the
scan's `problem` says where it stopped and how much was left unread.
"""

from __future__ import annotations

import importlib
import io
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, BinaryIO

from runtree.errors import RuntreeError

MAGIC = b":W&B"
IDENT = 0xBEE1
VERSION = 0
HEADER = MAGIC + struct.pack("<HB", IDENT, VERSION)
BLOCK_SIZE = 32 * 1024
CHUNK_HEADER_SIZE = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4

_CHUNK = struct.Struct("<IHB")
_TYPE_CRC = [zlib.crc32(bytes([t])) for t in range(256)]  # the CRC of the type byte, continued over the payload
_ZERO_HEADER = bytes(CHUNK_HEADER_SIZE)


class WandbNotInstalled(RuntreeError):
    """The wandb package, which holds the Record schema, is not installed."""


def load_proto() -> ModuleType:
    """The `wandb_internal_pb2` module of the installed wandb; WandbNotInstalled when there is none."""
    try:
        return importlib.import_module("wandb.proto.wandb_internal_pb2")
    except ImportError as e:
        raise WandbNotInstalled(
            f"reading W&B run files needs the wandb package, which holds their record schema: pip install wandb ({e})"
        ) from e


def chunk(kind: int, payload: bytes) -> bytes:
    """One framed chunk: header (CRC, length, type) and payload. Used to write test files."""
    crc = zlib.crc32(payload, _TYPE_CRC[kind])
    return _CHUNK.pack(crc, len(payload), kind) + payload


@dataclass(frozen=True, slots=True)
class LogProblem:
    """Why a scan stopped before the end of the file, and what it left unread."""

    offset: int  # where the unread data starts: the first chunk of the record that could not be read
    records: int  # whole records read before it
    skipped_bytes: int  # bytes from `offset` to the end of the file
    reason: str

    def __str__(self) -> str:
        return f"{self.reason} (at byte {self.offset}; {self.records} records read, {self.skipped_bytes} bytes from there on skipped)"


class LogScan:
    """The record payloads of one `.wandb` stream, in order.

    Iterate once. Afterwards `problem` is None when the file ended cleanly, else a LogProblem;
    `records` counts the payloads yielded and `position` the bytes examined so far (for progress).
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.records = 0
        self.position = 0
        self.problem: LogProblem | None = None

    def _stop(self, offset: int, reason: str) -> None:
        size = self._size()
        self.problem = LogProblem(offset, self.records, max(0, size - offset), reason)

    def _size(self) -> int:
        try:
            here = self._stream.tell()
            size = self._stream.seek(0, io.SEEK_END)
            self._stream.seek(here)
            return size
        except (OSError, ValueError):
            return self.position

    def __iter__(self) -> Iterator[bytes]:
        data = self._stream.read(BLOCK_SIZE)
        if len(data) < len(HEADER):
            self._stop(0, "the file is empty" if not data else f"the file is {len(data)} bytes, shorter than the 7-byte W&B header")
            return
        if data[:4] != MAGIC:
            self._stop(0, f"not a W&B transaction log: it starts with {data[:4]!r}, not {MAGIC!r}")
            return
        ident, version = struct.unpack_from("<HB", data, 4)
        if ident != IDENT or version != VERSION:
            self._stop(0, f"unsupported W&B log header: ident 0x{ident:04X} version {version} (expected 0x{IDENT:04X} version {VERSION})")
            return
        block_start = 0
        pos = len(HEADER)
        parts: list[bytes] = []
        record_start = 0  # file offset of the first chunk of the record being reassembled
        while True:
            n = len(data)
            while BLOCK_SIZE - pos >= CHUNK_HEADER_SIZE and pos < n:
                at = block_start + pos
                self.position = at
                if n - pos < CHUNK_HEADER_SIZE:
                    self._stop(record_start if parts else at, f"the file ends inside a chunk header ({n - pos} of 7 bytes)")
                    return
                crc, length, kind = _CHUNK.unpack_from(data, pos)
                if kind == 0 and length == 0 and crc == 0:
                    # zero fill: the rest of the block is padding (LevelDB's zero type)
                    break
                end = pos + CHUNK_HEADER_SIZE + length
                if end > n:
                    if n < BLOCK_SIZE:
                        reason = f"the file ends inside a chunk ({length} bytes announced, {n - pos - CHUNK_HEADER_SIZE} present)"
                    else:
                        reason = f"a chunk of {length} bytes runs past the end of its 32 KiB block"
                    self._stop(record_start if parts else at, reason)
                    return
                payload = data[pos + CHUNK_HEADER_SIZE : end]
                if zlib.crc32(payload, _TYPE_CRC[kind]) != crc:
                    self._stop(record_start if parts else at, f"checksum mismatch in a chunk at byte {at}")
                    return
                if kind in (FULL, FIRST):
                    if parts:
                        self._stop(record_start, f"a record starts at byte {at} before the one at byte {record_start} ended")
                        return
                    if kind == FULL:
                        pos = end
                        self.records += 1
                        self.position = block_start + end
                        yield payload
                        continue
                    parts = [payload]
                    record_start = at
                elif kind in (MIDDLE, LAST):
                    if not parts:
                        self._stop(at, f"a {'middle' if kind == MIDDLE else 'last'} chunk at byte {at} continues no record")
                        return
                    parts.append(payload)
                    if kind == LAST:
                        record = b"".join(parts)
                        parts = []
                        pos = end
                        self.records += 1
                        self.position = block_start + end
                        yield record
                        continue
                else:
                    self._stop(record_start if parts else at, f"unknown chunk type {kind} at byte {at}")
                    return
                pos = end
            if n < BLOCK_SIZE:
                break
            block_start += BLOCK_SIZE
            self.position = block_start
            data = self._stream.read(BLOCK_SIZE)
            pos = 0
            if not data:
                break
        self.position = block_start + len(data)
        if parts:
            self._stop(record_start, "the file ends inside a record (its last chunk is missing)")


class RecordScan:
    """The `wandb_internal.Record` protobufs of one `.wandb` file, in order; see LogScan for `problem`."""

    def __init__(self, path: str | os.PathLike[str], proto: ModuleType | None = None) -> None:
        self.path = os.fspath(path)
        self._pb = proto or load_proto()
        self.size = os.path.getsize(self.path)
        self._log: LogScan | None = None
        self._problem: LogProblem | None = None

    @property
    def records(self) -> int:
        return 0 if self._log is None else self._log.records

    @property
    def position(self) -> int:
        return 0 if self._log is None else self._log.position

    @property
    def problem(self) -> LogProblem | None:
        if self._problem is not None:
            return self._problem
        return None if self._log is None else self._log.problem

    def __iter__(self) -> Iterator[Any]:
        with open(self.path, "rb") as f:
            self._log = log = LogScan(f)
            start = 0
            for payload in log:
                record = self._pb.Record()
                try:
                    record.ParseFromString(payload)
                except Exception as e:  # google.protobuf.message.DecodeError, without importing protobuf here
                    n = log.records - 1
                    self._problem = LogProblem(start, n, max(0, self.size - start), f"record {n + 1} is not a W&B Record protobuf ({e})")
                    return
                start = log.position
                yield record
