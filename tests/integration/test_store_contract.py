"""The Store contract: every backend passes the same tests. A new backend only adds a fixture param."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtree.domain import lineage
from runtree.domain.records import Rewind, RunRecord, Segment
from runtree.errors import NoSuchRun, RunExists
from runtree.store.base import Store
from runtree.store.sqlite import SqliteStore


@pytest.fixture(params=["sqlite", "postgres", "remote(sqlite)", "remote(postgres)"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s: Store
    if request.param.startswith("remote("):  # a real server subprocess (server_fixture.py), emptied for this test
        s = request.getfixturevalue(f"{request.param[7:-1]}_server").fresh_store()
    elif request.param == "postgres":
        from runtree.store.postgres import PostgresStore

        s = PostgresStore(request.getfixturevalue("pg_url"))
    else:
        s = SqliteStore(tmp_path / "contract.db")
    yield s
    s.close()


def _run(uid: str, run_id: str, **kw: object) -> RunRecord:
    return RunRecord(uid=uid, entity="e", project="p", id=run_id, name=f"name-{run_id}", created_at=1.0, **kw)  # type: ignore[arg-type]


def _rows(first: int, last: int, t0: float = 100.0) -> list[tuple[int, float, dict[str, object]]]:
    return [(s, t0 + s, {"_step": s, "_timestamp": t0 + s, "x": float(s)}) for s in range(first, last + 1)]


def test_create_get_find_list(store: Store) -> None:
    store.create_run(_run("u1", "a", config={"lr": 0.1}, tags=("t",)), lineage.new_run("u1"))
    got = store.get_run("u1")
    assert (got.id, got.name, got.config, got.tags) == ("a", "name-a", {"lr": 0.1}, ("t",))
    assert store.find_run("e", "p", "a") == got
    assert store.find_run("e", "p", "zz") is None
    assert [r.uid for r in store.list_runs("e", "p")] == ["u1"]
    assert store.list_runs("e", "other") == []


def test_unknown_uid(store: Store) -> None:
    with pytest.raises(NoSuchRun, match="'nope'"):
        store.get_run("nope")
    with pytest.raises(NoSuchRun):
        store.read_segments("nope")
    with pytest.raises(NoSuchRun):
        store.update_run("nope", name="x")


def test_duplicate_id_in_project(store: Store) -> None:
    store.create_run(_run("u1", "a"), lineage.new_run("u1"))
    with pytest.raises(RunExists, match="'a' is already taken in e/p"):
        store.create_run(_run("u2", "a"), lineage.new_run("u2"))


def test_update_fields(store: Store) -> None:
    store.create_run(_run("u1", "a"), lineage.new_run("u1"))
    store.update_run("u1", name="renamed", summary={"x": math.inf}, tags=("a", "b"), state="finished")
    got = store.get_run("u1")
    assert (got.name, got.summary, got.tags, got.state) == ("renamed", {"x": math.inf}, ("a", "b"), "finished")


def test_append_is_idempotent_and_ordered(store: Store) -> None:
    store.create_run(_run("u1", "a"), lineage.new_run("u1"))
    store.append_rows("u1", 0, _rows(0, 9))
    store.append_rows("u1", 0, _rows(5, 14))  # a retried, overlapping batch
    steps = [r["_step"] for r in store.read_rows(lineage.new_run("u1"))]
    assert steps == list(range(15))


def test_values_round_trip_exactly(store: Store) -> None:
    store.create_run(_run("u1", "a"), lineage.new_run("u1"))
    row = {"_step": 0, "nan": math.nan, "inf": math.inf, "ninf": -math.inf, "s": "text", "b": True, "n": None, "big": 2**53 + 1}
    store.append_rows("u1", 0, [(0, 1.0, row)])
    (got,) = store.read_rows(lineage.new_run("u1"))
    assert math.isnan(got.pop("nan")) and got == {k: v for k, v in row.items() if k != "nan"}


def test_read_through_segments_and_bounds(store: Store) -> None:
    store.create_run(_run("p", "a"), lineage.new_run("p"))
    store.append_rows("p", 0, _rows(0, 299))
    segs = lineage.fork(store.read_segments("p"), 200, "c", 300.0)
    store.create_run(_run("c", "b", parent_uid="p", fork_step=200), segs)
    store.append_rows("c", 0, [(s, 1000.0 + s, {"_step": s, "y": 1.0}) for s in range(201, 260)])
    rows = list(store.read_rows(store.read_segments("c")))
    assert [r["_step"] for r in rows] == list(range(260))
    assert "x" in rows[200] and "y" in rows[201]
    assert [r["_step"] for r in store.read_rows(segs, min_step=195, max_step=205)] == list(range(195, 206))
    assert store.last_row(segs) == (259, 1259.0)
    assert store.last_row(segs, at_or_before=200) == (200, 300.0)
    assert store.last_row(segs, at_or_before=-1) is None
    assert [r.uid for r in store.list_runs(parent_uid="p")] == ["c"]


def test_rewind_replaces_segments_and_keeps_the_archive(store: Store) -> None:
    store.create_run(_run("r", "a"), lineage.new_run("r"))
    store.append_rows("r", 0, _rows(0, 299))
    segs, archived = lineage.rewind(store.read_segments("r"), "r", 150, 1, 250.0)
    store.rewind_run("r", segs, Rewind("r", 150, 0, 1, 5.0, tuple(archived)), state="running")
    assert store.get_run("r").epoch == 1
    assert store.read_segments("r") == segs
    store.append_rows("r", 1, [(151, 9.0, {"_step": 151, "x": -1.0})])
    visible = list(store.read_rows(segs))
    assert [r["_step"] for r in visible] == list(range(152)) and visible[-1]["x"] == -1.0
    (rw,) = store.list_rewinds("r")
    assert (rw.at_step, rw.from_epoch, rw.to_epoch, rw.archived) == (150, 0, 1, (Segment("r", 0, 151, None, None),))
    assert [r["_step"] for r in store.read_rows(list(rw.archived))] == list(range(151, 300))


def test_time_streams_are_cut_by_segment_time(store: Store) -> None:
    store.create_run(_run("p", "a"), lineage.new_run("p"))
    store.append_system("p", 0, [(float(t), {"cpu": t}) for t in range(10)])
    store.append_logs("p", 0, [(i, float(i), i, "stdout", f"line {i}") for i in range(10)])
    store.append_logs("p", 0, [(3, 3.0, 3, "stdout", "line 3")])  # retried: ignored
    segs = lineage.fork(store.read_segments("p"), 4, "c", 4.5)
    store.create_run(_run("c", "b"), segs)
    store.append_system("c", 0, [(20.0, {"cpu": 99})])
    store.append_logs("c", 0, [(0, 20.0, 5, "stderr", "child")])
    assert [v["cpu"] for _, v in store.read_system(segs)] == [0, 1, 2, 3, 4, 99]
    assert [t for _, _, _, t in store.read_logs(segs)] == [f"line {i}" for i in range(5)] + ["child"]
    assert len(list(store.read_logs(store.read_segments("p")))) == 10


def test_put_logs_replaces_lines_of_the_same_seq(store: Store) -> None:
    store.create_run(_run("p", "a"), lineage.new_run("p"))
    store.put_logs("p", 0, [(0, 1.0, None, "stdout", "start"), (1, 2.0, None, "stdout", "10%")])
    store.put_logs("p", 0, [(1, 3.0, 4, "stdout", "50%"), (2, 3.5, None, "stderr", "warn"), (1, 4.0, 5, "stdout", "100%")])
    store.append_logs("p", 0, [(2, 9.0, None, "stdout", "ignored: seq 2 is stored")])
    assert list(store.read_logs(store.read_segments("p"))) == [
        (1.0, None, "stdout", "start"),
        (4.0, 5, "stdout", "100%"),
        (3.5, None, "stderr", "warn"),
    ]
    assert store.last_log_seq("p", 0) == 2


def test_rewind_of_an_unknown_run_changes_nothing(store: Store) -> None:
    with pytest.raises(NoSuchRun):
        store.rewind_run("ghost", [Segment("ghost", 1, 5)], Rewind("ghost", 4, 0, 1, 1.0, ()))
    with pytest.raises(ValueError, match="cannot update run fields"):
        store.rewind_run("ghost", [], Rewind("ghost", 4, 0, 1, 1.0, ()), bogus=1)
    assert store.list_rewinds("ghost") == []
