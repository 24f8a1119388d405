"""What a fork and an init cost, counted rather than timed: a fork's finish reads at most one chunk's rows of its
parent whatever the parent's length, and init names a run from a counter without listing the project's runs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import runtree
from runtree.domain import lineage
from runtree.domain.chunks import CHUNK_ROWS
from runtree.domain.records import RunRecord
from runtree.domain.summary import MetricDef, SummaryBuilder
from runtree.sdk import start as start_mod
from runtree.store.chunked import Reads
from runtree.store.sqlite import SqliteStore


def _parent(n: int) -> runtree.Run:
    run = runtree.init(project="cost")
    run.define_metric("loss", summary="min,mean,first")
    for i in range(n):
        run.log({"loss": 1.0 / (i + 1) if i % 17 else math.nan, "acc": i % 100, "tag": "a" if i % 2 else "b"})
    run.finish()
    return run


@pytest.mark.slow
def test_a_forks_finish_reads_one_chunk_of_its_parent_whatever_its_length(rt_dir: Path) -> None:
    read: dict[int, int] = {}
    for chunks in (2, 8):
        parent = _parent(chunks * CHUNK_ROWS + 100)
        cut = chunks * CHUNK_ROWS - 500  # inside the parent's last sealed chunk
        Reads.rows = Reads.aggregates = 0
        child = runtree.init(project="cost", fork_from=f"{parent.id}?_step={cut}")
        child.log({"acc": -1})
        child.finish()
        read[chunks] = Reads.rows
        assert Reads.aggregates >= 1  # the chunks before the cut came as one cumulative aggregate
        rows = runtree.Api().run(child.path).history(pandas=False)
        want = SummaryBuilder({"loss": MetricDef("loss", summary=("min", "mean", "first"))})
        want.add_all(rows)
        got = runtree.Api().run(child.path).summary
        w = want.result()
        assert got["loss"]["min"] == w["loss"]["min"] and math.isnan(got["loss"]["first"]) and math.isnan(got["loss"]["mean"])
        assert got["acc"] == -1 and got["tag"] == w["tag"] and got["_step"] == cut + 1
    # the rows of the one partial chunk (up to the cut) and the row at the cut; not the parent's other rows
    assert read[2] == read[8] <= CHUNK_ROWS + 1


def test_init_names_a_run_from_the_counter_without_listing_runs(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    try:
        for i in range(5):
            store.create_run(RunRecord(f"u{i}", "e", "p", f"r{i}", f"n{i}", created_at=float(i)), lineage.new_run(f"u{i}"))
        statements: list[str] = []
        store._wconn.set_trace_callback(statements.append)
        store._reader().set_trace_callback(statements.append)
        req = start_mod.Request("e", "p", None, None, {}, (), None, None, None, None, None, None)
        start = start_mod.open_run(store, req, None)
        assert start.record.name.endswith("-6")
        assert statements and not [s for s in statements if "FROM runs" in s and "ORDER BY" in s], statements
    finally:
        store.close()
