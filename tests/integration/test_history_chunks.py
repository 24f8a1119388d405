"""History stored as columnar chunks plus an open row tail, on every backend: exact rows, step ranges, reads by
key, late and retried rows, aggregates that match the rows, the run counter."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from runtree.domain import lineage
from runtree.domain.chunks import CHUNK_ROWS, aggregate_rows
from runtree.domain.records import RunRecord, Segment
from runtree.store.base import Store
from runtree.store.codec import dumps

N = 2 * CHUNK_ROWS + 900  # two sealed chunks and an open tail
IMG = {"_type": "image-file", "path": "media/images/x.png", "sha256": "ab" * 32, "size": 12, "width": 2, "height": 3}


def _run(uid: str, run_id: str, **kw: Any) -> RunRecord:
    return RunRecord(uid=uid, entity="e", project="p", id=run_id, name=f"name-{run_id}", created_at=1.0, **kw)


def _row(s: int) -> dict[str, Any]:
    row: dict[str, Any] = {"loss": 1.0 / (s + 1), "epoch": s // 100}
    if s % 3 == 0:
        row["img"] = IMG
    if s % 7 == 0:
        row["odd"] = [math.nan, math.inf, -math.inf, 1 << 70, "x", None] if s % 2 else ("text" if s % 5 else 1 << 65)
    if s % 11 == 0:
        row["loss"] = math.nan
    row.update({"_timestamp": 1000.0 + s / 10, "_runtime": s / 10, "_step": s})
    return row


def _rows(steps: range | list[int]) -> list[tuple[int, float, dict[str, Any]]]:
    return [(s, 1000.0 + s / 10, _row(s)) for s in steps]


def _text(rows: Any) -> list[str]:
    """Rows as exact JSON text: types (1 vs 1.0), NaN, ±inf and big integers count (a row's key order does not:
    a chunk keeps its keys in order of first appearance)."""
    return [json.dumps(r, sort_keys=True) for r in rows]


def test_rows_round_trip_exactly_through_chunks_and_tail(store: Store) -> None:
    store.create_run(_run("u1", "a"), lineage.new_run("u1"))
    rows = _rows(range(N))
    for first in range(0, N, 1000):
        store.append_rows("u1", 0, rows[first : first + 1000])
    segs = store.read_segments("u1")
    assert _text(store.read_rows(segs)) == _text(r for *_, r in rows)
    # step ranges across a chunk boundary, across the last chunk and the tail, and inside one chunk
    for lo, hi in ((CHUNK_ROWS - 5, CHUNK_ROWS + 5), (2 * CHUNK_ROWS - 3, 2 * CHUNK_ROWS + 3), (10, 12), (N - 2, N + 50)):
        assert _text(store.read_rows(segs, lo, hi)) == _text(r for *_, r in rows[lo : hi + 1])
    assert store.last_row(segs) == (N - 1, 1000.0 + (N - 1) / 10)
    assert store.last_row(segs, at_or_before=CHUNK_ROWS + 7) == (CHUNK_ROWS + 7, 1000.0 + (CHUNK_ROWS + 7) / 10)


def test_reads_by_key_return_that_column_and_steps(store: Store) -> None:
    store.create_run(_run("u1", "a"), lineage.new_run("u1"))
    rows = _rows(range(N))
    store.append_rows("u1", 0, rows)
    pieces = list(store.read_pieces(store.read_segments("u1"), ["img"], 100, N))
    assert all(set(p.columns) <= {"img", "_step"} for p in pieces)  # the tail carries _step as a column
    got = [r for p in pieces for r in p.rows() if "img" in r]
    assert got == [{"_step": s, "img": IMG} for s in range(100, N) if s % 3 == 0]


def test_late_and_retried_rows_are_stored_once_in_step_order(store: Store) -> None:
    store.create_run(_run("u1", "a"), lineage.new_run("u1"))
    evens = _rows(range(0, 2 * N, 2))
    store.append_rows("u1", 0, evens)  # sealed into chunks up to about step 2N
    store.append_rows("u1", 0, evens[10:40])  # a retried batch: every row stored already
    store.append_rows("u1", 0, _rows(range(1, 300, 2)))  # late rows below sealed steps
    store.append_rows("u1", 0, _rows(range(1, 300, 2)))
    want = sorted([*range(0, 2 * N, 2), *range(1, 300, 2)])
    got = list(store.read_rows(store.read_segments("u1")))
    assert [r["_step"] for r in got] == want
    assert _text(got) == _text(_row(s) for s in want)


def test_aggregates_of_a_fork_equal_those_of_its_rows(store: Store) -> None:
    store.create_run(_run("p", "parent"), lineage.new_run("p"))
    store.append_rows("p", 0, _rows(range(N)))
    for cut in (CHUNK_ROWS + 17, 2 * CHUNK_ROWS - 1, N - 10, 5):
        segs = lineage.fork(store.read_segments("p"), cut, f"c{cut}", None)
        store.create_run(_run(f"c{cut}", f"c{cut}"), segs)
        store.append_rows(f"c{cut}", 0, _rows(range(cut + 1, cut + 40)))
        got = store.read_aggregates(store.read_segments(f"c{cut}"))
        want = aggregate_rows(store.read_rows(store.read_segments(f"c{cut}")))
        assert got.keys() == want.keys()
        for k in want:
            g, w = got[k], want[k]
            assert dumps([g.last, g.count, g.min, g.max, g.first]) == dumps([w.last, w.count, w.min, w.max, w.first]), k
            assert (g.sum == w.sum) or math.isclose(g.sum, w.sum, rel_tol=1e-12) or (g.sum != g.sum and w.sum != w.sum), k


def test_run_counter_counts_created_runs(store: Store) -> None:
    assert store.runs_created("e", "p") == 0
    for i in range(3):
        store.create_run(_run(f"u{i}", f"r{i}"), lineage.new_run(f"u{i}"))
    assert store.runs_created("e", "p") == 3
    assert store.runs_created("e", "other") == 0


def test_archived_segment_reads_inside_chunks(store: Store) -> None:
    store.create_run(_run("u1", "a"), lineage.new_run("u1"))
    store.append_rows("u1", 0, _rows(range(N)))
    seg = Segment("u1", 0, CHUNK_ROWS + 1, N - 1)
    assert [r["_step"] for r in store.read_rows([seg])] == list(range(CHUNK_ROWS + 1, N))


@pytest.mark.parametrize("keys", [None, ["loss"], ["img", "odd"], ["_step", "epoch"], ["missing"]])
def test_dataframes_from_columns_equal_dataframes_from_rows(store: Store, keys: list[str] | None) -> None:
    import pandas as pd

    from runtree.api import _frame, _sample, frame_from_pieces

    store.create_run(_run("u1", "a"), lineage.new_run("u1"))
    store.append_rows("u1", 0, _rows(range(N)))
    segs = store.read_segments("u1")
    for lo, hi, samples in ((None, None, None), (CHUNK_ROWS - 30, 2 * CHUNK_ROWS + 40, None), (None, None, 7)):
        rows = list(store.read_rows(segs, lo, hi))
        if keys is not None:
            rows = [r for r in rows if any(k in r for k in keys)]
        want = _frame(_sample(rows, samples), keys)
        wanted = None if keys is None else ["_step", *[k for k in keys if k != "_step"]]
        got = frame_from_pieces(store.read_pieces(segs, wanted, lo, hi), keys, samples)
        pd.testing.assert_frame_equal(got, want, check_dtype=True, check_like=True)  # column order aside


def test_remote_columns_come_in_pages(sqlite_server: Any) -> None:
    store = sqlite_server.fresh_store()
    try:
        store.page_rows = 1000  # a page holds whole pieces: ~1 chunk each here
        store.create_run(_run("u1", "a"), lineage.new_run("u1"))
        store.append_rows("u1", 0, _rows(range(N)))
        pieces = list(store.read_pieces(store.read_segments("u1"), ["loss"], 5, None))
        assert len(pieces) == 3
        assert [r["_step"] for p in pieces for r in p.rows()] == list(range(5, N))
    finally:
        store.close()
