"""Fork and rewind cut the time-keyed streams (system metrics, console lines) at the fork step's timestamp."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

import runtree
from runtree.domain.records import Segment

LIVE = {"console": "auto", "system_sample_interval": 0.05}


def _train(run: runtree.Run, label: str, steps: int) -> runtree.Run:
    """Print a line, then log, once per step: the line of step i is printed just before step i's row."""
    for _ in range(steps):
        print(f"{label} {run.step}")
        run.log({"x": run.step})
        time.sleep(0.03)
    run.finish()
    return run


def _timestamp(path: str, step: int) -> float:
    h = runtree.Api().run(path).history()
    return float(h.loc[h["_step"] == step, "_timestamp"].iloc[0])


def _own_times(uid: str, epoch: int = 0) -> list[float]:
    """Timestamps of the samples stored for one uid/epoch, whatever any lineage shows."""
    return [ts for ts, _ in runtree.Api().store.read_system([Segment(uid, epoch, 0)])]


def _times(path: str) -> list[float]:
    df: pd.DataFrame = runtree.Api().run(path).system_metrics()
    return list(df["_timestamp"])


def _lines(path: str) -> list[tuple[int | None, str]]:
    return [(x["step"], x["text"]) for x in runtree.Api().run(path).logs()]


def test_fork_inherits_streams_up_to_the_fork_step(rt_dir: Path) -> None:
    parent = _train(runtree.init(project="fr", id="parent", settings=LIVE), "parent", 20)
    child = _train(runtree.init(project="fr", fork_from="parent?_step=10", settings=LIVE), "child", 10)
    cut = _timestamp(parent.path, 10)

    mine = _own_times(parent.uid)
    before, after = [t for t in mine if t <= cut], [t for t in mine if t > cut]
    assert before and after  # the parent sampled on both sides of the fork moment
    own = _own_times(child.uid)
    assert own and min(own) > cut
    assert _times(child.path) == before + own  # the parent's samples up to the fork, then the child's
    assert _times(parent.path) == mine  # the parent is untouched

    assert _lines(child.path) == [(i, f"parent {i}") for i in range(11)] + [(i, f"child {i}") for i in range(11, 21)]
    assert _lines(parent.path) == [(i, f"parent {i}") for i in range(20)]


def test_rewind_archives_the_tail_of_both_streams(rt_dir: Path) -> None:
    first = _train(runtree.init(project="fr", id="r", settings=LIVE), "first", 20)
    cut = _timestamp(first.path, 10)
    epoch0 = _own_times(first.uid, 0)
    assert [t for t in epoch0 if t > cut]

    again = _train(runtree.init(project="fr", resume_from="r?_step=10", settings=LIVE), "second", 5)
    assert again.uid == first.uid
    epoch1 = _own_times(first.uid, 1)
    assert epoch1 and min(epoch1) > cut
    assert _times("fr/r") == [t for t in epoch0 if t <= cut] + epoch1
    assert _lines("fr/r") == [(i, f"first {i}") for i in range(11)] + [(i, f"second {i}") for i in range(11, 16)]

    # The cut-off tail is archived, not deleted: epoch 0 still holds every sample and line.
    store = runtree.Api().store
    assert _own_times(first.uid, 0) == epoch0
    assert [t for _, _, _, t in store.read_logs([Segment(first.uid, 0, 0)])] == [f"first {i}" for i in range(20)]


def test_fork_of_a_fork_cuts_each_ancestor_at_its_own_moment(rt_dir: Path) -> None:
    p = _train(runtree.init(project="fr", id="p", settings=LIVE), "p", 15)
    c = _train(runtree.init(project="fr", id="c", fork_from="p?_step=5", settings=LIVE), "c", 12)
    g = _train(runtree.init(project="fr", id="g", fork_from="c?_step=12", settings=LIVE), "g", 8)
    cut_p = _timestamp(p.path, 5)
    cut_c = _timestamp(c.path, 12)
    assert cut_p < cut_c

    from_p = [t for t in _own_times(p.uid) if t <= cut_p]
    from_c = [t for t in _own_times(c.uid) if cut_p < t <= cut_c]
    own = _own_times(g.uid)
    assert from_p and from_c and own
    assert _times(g.path) == from_p + from_c + own
    assert len(_own_times(c.uid)) > len(from_c)  # c sampled after step 12 too: not inherited

    assert _lines(g.path) == (
        [(i, f"p {i}") for i in range(6)] + [(i, f"c {i}") for i in range(6, 13)] + [(i, f"g {i}") for i in range(13, 21)]
    )
