"""id, uid and name: the uid survives rename and move, and is accepted wherever an id is."""

from __future__ import annotations

import re
from pathlib import Path

import runtree


def test_defaults(rt_dir: Path) -> None:
    run = runtree.init(project="p")
    assert re.fullmatch(r"[0-9a-z]{8}", run.id)
    assert re.fullmatch(r"[0-9a-f]{32}", run.uid) and run.storage_id == run.uid
    assert re.fullmatch(r"[a-z]+-[a-z]+-1", run.name)
    assert run.path == f"tester/p/{run.id}"
    run.finish()


def test_uid_survives_rename_and_move(rt_dir: Path) -> None:
    run = runtree.init(project="p", name="first")
    run.log({"x": 1})
    run.name = "second"
    run.finish()
    api = runtree.Api()
    assert api.run(run.path).name == "second"
    got = api.run(run.uid)
    assert got.id == run.id and got.name == "second"
    got.name = "third"
    got.move(project="q")
    moved = api.run(run.uid)
    assert (moved.project, moved.name, moved.uid) == ("q", "third", run.uid)
    assert api.run(f"tester/q/{run.id}").uid == run.uid
    # A fork names its parent by uid after the move.
    child = runtree.init(project="q", fork_from=f"{run.uid}?_step=0")
    child.finish()
    assert api.run(child.path).parent_uid == run.uid


def test_runs_filters(rt_dir: Path) -> None:
    a = runtree.init(project="p", tags=["base"], config={"lr": 0.1})
    a.finish()
    b = runtree.init(project="p", config={"lr": 0.2})
    b.finish(exit_code=3)
    api = runtree.Api()
    assert [r.id for r in api.runs("p", filters={"tags": "base"})] == [a.id]
    assert [r.id for r in api.runs("p", filters={"config.lr": 0.2})] == [b.id]
    assert [r.id for r in api.runs("tester/p", filters={"state": "failed"})] == [b.id]
