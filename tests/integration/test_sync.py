"""sync copies runs between stores (embedded SQLite -> PostgreSQL here): lineage intact, nothing twice."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import runtree
from runtree.store import open_store
from runtree.store.sync import sync


def _make_runs(rt_dir: Path) -> tuple[runtree.Run, runtree.Run]:
    base = runtree.init(project="s", config={"lr": 0.1})
    for i in range(100):
        base.log({"x": i})
    base.finish()
    fork = runtree.init(project="s", fork_from=f"{base.id}?_step=60", config={"lr": 0.01})
    for i in range(20):
        fork.log({"x": 1000 + i})
    fork.finish()
    again = runtree.init(project="s", resume_from=f"{base.id}?_step=30")
    for i in range(5):
        again.log({"x": -i})
    again.finish()
    store = runtree.Api().store
    store.append_system(base.uid, 0, [(float(t), {"system.cpu": float(t)}) for t in range(5)])
    store.append_logs(base.uid, 0, [(i, float(i), i, "stdout", f"line {i}") for i in range(3)])
    store.put_file(base.uid, "diff.patch", b"--- a\n+++ b\n")
    return base, fork


def _same(src: runtree.Api, dst: runtree.Api, path: str) -> None:
    a, b = src.run(path), dst.run(path)
    assert (a.uid, a.parent_uid, a.fork_step, a.config, a.summary, a.state, a.epoch) == (
        b.uid, b.parent_uid, b.fork_step, b.config, b.summary, b.state, b.epoch
    )
    pd.testing.assert_frame_equal(a.history(), b.history())
    assert [s.history().to_dict() for s in a.archived_segments()] == [s.history().to_dict() for s in b.archived_segments()]
    assert a.logs() == b.logs()
    pd.testing.assert_frame_equal(a.system_metrics(), b.system_metrics())


def test_sync_into_postgres_twice(rt_dir: Path, pg_url: str) -> None:
    base, fork = _make_runs(rt_dir)
    src_api = runtree.Api()
    src, dst = src_api.store, open_store(pg_url)
    seen: list[str] = []
    report = sync(src, dst, progress=lambda r: seen.append(r.id))
    assert seen.index(base.id) < seen.index(fork.id)  # the parent first
    files = sum(len(src.list_files(r.uid)) for r in (base, fork))  # diff.patch and the runs' requirements.txt
    assert (report.runs_created, report.rows, report.samples, report.lines, report.files) == (2, 100 + 5 + 20, 5, 3, files)
    dst_api = runtree.Api(store=pg_url)
    for run in (base, fork):
        _same(src_api, dst_api, run.path)
    assert dst_api.run(base.path).file("diff.patch") == b"--- a\n+++ b\n"
    assert dst_api.run(base.path).files() == src_api.run(base.path).files()

    # More logging at the source, then sync again: only what is new travels.
    more = runtree.init(project="s", id=fork.id, resume="allow")
    for i in range(7):
        more.log({"x": 5000 + i})
    more.finish()
    report = sync(src, dst)
    assert (report.runs_created, report.runs_updated, report.rows, report.samples, report.lines, report.files) == (0, 2, 7, 0, 0, 0)
    _same(src_api, dst_api, fork.path)
    assert sync(src, dst).rows == 0


def test_sync_refuses_an_id_taken_by_another_run(rt_dir: Path, tmp_path: Path) -> None:
    run = runtree.init(project="s", id="same")
    run.log({"x": 1})
    run.finish()
    other = open_store(str(tmp_path / "other"))
    runtree.init(project="s", id="same", dir=str(tmp_path / "other")).finish()
    report = sync(runtree.Api().store, other)
    assert report.runs_created == 0 and "another run with this id" in report.skipped[0]
    assert runtree.Api(store=str(tmp_path / "other")).run("s/same").history().empty
