"""The `.wandb` framing on bytes built here: header, full/first/middle/last chunks, block padding, damage."""

from __future__ import annotations

import io
import struct

import pytest

from runtree.importers.wandb_log import BLOCK_SIZE, FIRST, FULL, HEADER, LAST, MIDDLE, LogScan, chunk


def frame(records: list[bytes]) -> bytes:
    """Frame records as the W&B writer does: split at block ends, pad a block with < 7 bytes left."""
    out = bytearray(HEADER)
    for rec in records:
        rest = rec
        first = True
        while True:
            left = BLOCK_SIZE - len(out) % BLOCK_SIZE
            if left < 7:
                out += bytes(left)
                left = BLOCK_SIZE
            room = left - 7
            piece, rest = rest[:room], rest[room:]
            last = not rest
            kind = FULL if first and last else FIRST if first else LAST if last else MIDDLE
            out += chunk(kind, piece)
            first = False
            if last:
                break
    return bytes(out)


def scan(data: bytes) -> tuple[list[bytes], LogScan]:
    s = LogScan(io.BytesIO(data))
    return list(s), s


def test_header_and_full_chunks() -> None:
    records = [b"a", b"", b"hello" * 10]
    got, s = scan(frame(records))
    assert got == records
    assert s.problem is None and s.records == 3


def test_header_layout() -> None:
    assert HEADER == b":W&B\xe1\xbe\x00"


def test_crc_covers_the_type_byte_unmasked() -> None:
    import zlib

    c = chunk(FULL, b"xyz")
    crc, length, kind = struct.unpack("<IHB", c[:7])
    assert (length, kind) == (3, FULL)
    assert crc == zlib.crc32(b"\x01xyz")


def test_a_record_spanning_blocks_uses_first_middle_last() -> None:
    big = bytes(range(256)) * 300  # 76800 bytes: three blocks
    data = frame([b"before", big, b"after"])
    kinds = []
    pos = len(HEADER)
    while pos < len(data):
        if BLOCK_SIZE - pos % BLOCK_SIZE < 7:
            pos += BLOCK_SIZE - pos % BLOCK_SIZE
            continue
        _crc, length, kind = struct.unpack_from("<IHB", data, pos)
        kinds.append(kind)
        pos += 7 + length
    assert kinds == [FULL, FIRST, MIDDLE, LAST, FULL]
    got, s = scan(data)
    assert got == [b"before", big, b"after"]
    assert s.problem is None


def test_fewer_than_seven_bytes_left_in_a_block_are_padding() -> None:
    # The first record fills block 0 up to 3 bytes before its end: those 3 bytes are padding.
    first = b"x" * (BLOCK_SIZE - len(HEADER) - 7 - 3)
    data = frame([first, b"next"])
    assert data[BLOCK_SIZE - 3 : BLOCK_SIZE] == b"\0\0\0"
    got, s = scan(data)
    assert got == [first, b"next"] and s.problem is None


def test_exactly_seven_bytes_left_hold_an_empty_first_chunk() -> None:
    first = b"y" * (BLOCK_SIZE - len(HEADER) - 7 - 7)
    second = b"z" * 100
    data = frame([first, second])
    _crc, length, kind = struct.unpack_from("<IHB", data, BLOCK_SIZE - 7)
    assert (length, kind) == (0, FIRST)
    got, s = scan(data)
    assert got == [first, second] and s.problem is None


def test_a_file_cut_at_a_block_end_inside_padding_is_clean() -> None:
    first = b"x" * (BLOCK_SIZE - len(HEADER) - 7 - 3)
    data = frame([first])[: BLOCK_SIZE - 3]
    got, s = scan(data)
    assert got == [first] and s.problem is None


def test_zero_filled_rest_of_a_block_is_padding() -> None:
    data = frame([b"one"])
    data += bytes(BLOCK_SIZE - len(data))  # a writer that zero-fills the block
    data += chunk(FULL, b"two")
    got, s = scan(data)
    assert got == [b"one", b"two"] and s.problem is None


def test_corrupted_crc_stops_the_read_and_says_where() -> None:
    records = [b"r0", b"r1-damaged", b"r2"]
    data = bytearray(frame(records))
    second = len(HEADER) + 7 + 2
    data[second + 7] ^= 0xFF  # a payload byte of the second record
    got, s = scan(bytes(data))
    assert got == [b"r0"]
    assert s.problem is not None
    assert s.problem.offset == second
    assert s.problem.records == 1
    assert s.problem.skipped_bytes == len(data) - second
    assert "checksum" in s.problem.reason


def test_a_truncated_tail_yields_the_whole_records_before_it() -> None:
    records = [b"a" * 10, b"b" * 10, b"c" * 10]
    data = frame(records)
    cut = data[:-4]  # the last chunk's payload is cut short
    got, s = scan(cut)
    assert got == records[:2]
    assert s.problem is not None
    assert s.problem.offset == len(data) - (7 + 10)
    assert s.problem.skipped_bytes == 7 + 10 - 4
    assert "ends inside a chunk" in s.problem.reason


def test_a_truncated_chunk_header() -> None:
    data = frame([b"a", b"b"])
    got, s = scan(data[: -(7 + 1) + 3])  # 3 bytes of the last chunk header
    assert got == [b"a"]
    assert s.problem is not None and "chunk header" in s.problem.reason


def test_a_record_missing_its_last_chunk() -> None:
    big = b"q" * (BLOCK_SIZE + 100)
    data = frame([b"ok", big])
    cut = data[:BLOCK_SIZE]  # whole blocks only, as a killed W&B writer leaves them
    got, s = scan(cut)
    assert got == [b"ok"]
    assert s.problem is not None
    assert s.problem.offset == len(HEADER) + 7 + 2
    assert "last chunk is missing" in s.problem.reason


def test_a_chunk_running_past_its_block_is_corruption() -> None:
    data = bytearray(frame([b"x" * 100] * 400))  # more than one block
    data[len(HEADER) + 4 : len(HEADER) + 6] = struct.pack("<H", BLOCK_SIZE)  # first chunk's length
    got, s = scan(bytes(data))
    assert got == []
    assert s.problem is not None and "past the end of its 32 KiB block" in s.problem.reason


@pytest.mark.parametrize(
    ("kind", "words"),
    [(MIDDLE, "middle chunk"), (LAST, "last chunk")],
)
def test_a_continuation_without_a_first_chunk(kind: int, words: str) -> None:
    data = HEADER + chunk(FULL, b"a") + chunk(kind, b"orphan")
    got, s = scan(data)
    assert got == [b"a"]
    assert s.problem is not None and words in s.problem.reason


def test_a_first_chunk_while_a_record_is_open() -> None:
    data = HEADER + chunk(FIRST, b"a") + chunk(FULL, b"b")
    got, s = scan(data)
    assert got == []
    assert s.problem is not None and s.problem.offset == len(HEADER)


def test_unknown_chunk_type() -> None:
    got, s = scan(HEADER + chunk(FULL, b"a") + chunk(9, b"b"))
    assert got == [b"a"]
    assert s.problem is not None and "unknown chunk type 9" in s.problem.reason


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b":W&B", "shorter than the 7-byte"),
        (b"PK\x03\x04 not wandb", "not a W&B transaction log"),
        (b":W&B\xe1\xbe\x01" + chunk(FULL, b"a"), "unsupported W&B log header"),
    ],
)
def test_bad_headers_read_nothing(data: bytes, words: str) -> None:
    got, s = scan(data)
    assert got == []
    assert s.problem is not None and words in s.problem.reason
    assert s.problem.offset == 0 and s.problem.skipped_bytes == len(data)


def test_header_only_is_a_clean_empty_log() -> None:
    got, s = scan(HEADER)
    assert got == [] and s.problem is None


def test_without_wandb_the_error_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from runtree.errors import RuntreeError
    from runtree.importers.wandb_log import WandbNotInstalled, load_proto

    monkeypatch.setitem(sys.modules, "wandb.proto.wandb_internal_pb2", None)  # makes the import fail
    with pytest.raises(WandbNotInstalled, match="pip install wandb") as e:
        load_proto()
    assert isinstance(e.value, RuntreeError)  # the CLI prints it as one line
