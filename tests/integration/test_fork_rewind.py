"""Fork and rewind through the SDK on the embedded store: lineage, not copies."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import runtree
from runtree.errors import RunIsActive, StepNotMonotonic, StepOutOfRange, UsageError
from tests.integration.server_fixture import Server


def _logged(n: int, project: str = "p", **kw: object) -> runtree.Run:
    run = runtree.init(project=project, **kw)  # type: ignore[arg-type]
    for i in range(n):
        run.log({"x": i, "loss": 1.0 / (i + 1)})
    run.finish()
    return run


def _steps_and_x(path: str) -> list[tuple[int, float]]:
    h = runtree.Api().run(path).history(keys=["x"])
    return list(zip(h["_step"], h["x"], strict=True))


def test_fork_inherits_history_and_config_not_summary(rt_dir: Path) -> None:
    parent = _logged(300, config={"lr": 0.1, "bs": 32})
    child = runtree.init(project="p", fork_from=f"{parent.id}?_step=200", config={"lr": 0.01})
    assert child.starting_step == 201 and child.step == 201
    assert child.id != parent.id and child.uid != parent.uid
    assert dict(child.config.items()) == {"lr": 0.01, "bs": 32}
    child.log({"x": -1})
    child.finish()
    api = runtree.Api()
    c = api.run(child.path)
    assert c.forked_from == {"uid": parent.uid, "step": 200}
    assert _steps_and_x(child.path) == [(i, i) for i in range(201)] + [(201, -1)]
    assert c.summary["x"] == -1 and c.summary["loss"] == 1.0 / 201
    assert api.run(parent.path).summary["x"] == 299  # parent untouched
    assert [r.uid for r in api.run(parent.path).children()] == [child.uid]
    assert c.parent is not None and c.parent.uid == parent.uid


def test_fork_by_uid_and_across_projects(rt_dir: Path) -> None:
    parent = _logged(20, project="a")
    child = runtree.init(project="b", fork_from=f"{parent.uid}?_step=5")
    child.finish()
    assert _steps_and_x(child.path) == [(i, i) for i in range(6)]


def test_fork_of_fork_of_fork(rt_dir: Path) -> None:
    a = _logged(100)
    b = runtree.init(project="p", fork_from=f"{a.id}?_step=50")
    for i in range(50):
        b.log({"x": 1000 + i})
    b.finish()
    c = runtree.init(project="p", fork_from=f"{b.id}?_step=80")
    for i in range(10):
        c.log({"x": 2000 + i})
    c.finish()
    d = runtree.init(project="p", fork_from=f"{c.id}?_step=85")
    d.log({"x": 3000})
    d.finish()
    expected = [(i, i) for i in range(51)] + [(51 + i, 1000 + i) for i in range(30)] + [(81 + i, 2000 + i) for i in range(5)]
    assert _steps_and_x(d.path) == [*expected, (86, 3000)]
    assert len(runtree.Api().run(d.path).segments) == 4


def test_fork_of_running_run_uses_logged_steps(rt_dir: Path) -> None:
    parent = runtree.init(project="p")
    for i in range(50):
        parent.log({"x": i})
    parent._writer.sync()
    child = runtree.init(project="p", fork_from=f"{parent.id}?_step=40", reinit="create_new")
    child.finish()
    with pytest.raises(StepOutOfRange, match="beyond the last logged step 49"):
        runtree.init(project="p", fork_from=f"{parent.id}?_step=60", reinit="create_new")
    parent.finish()
    assert _steps_and_x(child.path) == [(i, i) for i in range(41)]


def test_rewind_keeps_id_archives_tail_and_continues(rt_dir: Path) -> None:
    run = _logged(300, config={"lr": 0.1})
    again = runtree.init(project="p", resume_from=f"{run.id}?_step=150", config={"wd": 0.5})
    assert (again.id, again.uid) == (run.id, run.uid)
    assert again.step == 151 and again.resumed
    assert dict(again.config.items()) == {"lr": 0.1, "wd": 0.5}
    again.log({"x": -151})
    again.finish()
    api_run = runtree.Api().run(run.path)
    assert _steps_and_x(run.path) == [(i, i) for i in range(151)] + [(151, -151)]
    assert api_run.summary["x"] == -151 and api_run.summary["loss"] == 1.0 / 151
    (arch,) = api_run.archived_segments()
    assert (arch.first_step, arch.last_step, arch.rewound_at) == (151, 299, 150)
    old = arch.history()
    assert list(old["_step"]) == list(range(151, 300)) and list(old["x"]) == list(range(151, 300))


def _check_summary_only_keys_kept() -> None:
    run = runtree.init(project="p")
    for i in range(10):
        run.log({"x": i})
    run.summary["best"] = 42
    run.summary["x"] = 99  # a logged key set by hand: the rewind's history decides it again
    run.summary.update({"cfg": {"depth": 3}})
    run.finish()
    again = runtree.init(project="p", resume_from=f"{run.id}?_step=4")
    assert again.summary["best"] == 42 and again.summary["cfg"] == {"depth": 3}
    again.log({"x": -5})
    again.finish()
    s = runtree.Api().run(run.path).summary
    assert (s["best"], s["cfg.depth"], s["x"]) == (42, 3, -5)  # stored flat
    resumed = runtree.init(project="p", id=run.id, resume="allow")
    assert resumed.summary["best"] == 42
    resumed.log({"x": 7})
    resumed.finish()
    s = runtree.Api().run(run.path).summary
    assert (s["best"], s["x"]) == (42, 7)


def test_rewind_and_resume_keep_summary_only_keys(rt_dir: Path) -> None:
    _check_summary_only_keys_kept()


def test_rewind_and_resume_keep_summary_only_keys_through_a_server(
    postgres_server: Server, rt_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    postgres_server.fresh_store().close()
    monkeypatch.setenv("RUNTREE_BASE_URL", postgres_server.url)
    monkeypatch.setenv("RUNTREE_API_KEY", postgres_server.admin_key)
    _check_summary_only_keys_kept()


def test_fork_of_rewound_run_and_rewind_of_forked_run(rt_dir: Path) -> None:
    run = _logged(100)
    rw = runtree.init(project="p", resume_from=f"{run.id}?_step=50")
    for i in range(20):
        rw.log({"x": 500 + i})
    rw.finish()
    fork = runtree.init(project="p", fork_from=f"{run.id}?_step=60")
    fork.finish()
    assert _steps_and_x(fork.path) == [(i, i) for i in range(51)] + [(51 + i, 500 + i) for i in range(10)]

    # Rewind a forked run below its fork point: the parent's rows above are not archived, its own are.
    f2 = runtree.init(project="p", fork_from=f"{run.id}?_step=60")
    for i in range(10):
        f2.log({"x": 900 + i})
    f2.finish()
    back = runtree.init(project="p", resume_from=f"{f2.id}?_step=40")
    back.log({"x": -1})
    back.finish()
    assert _steps_and_x(f2.path) == [(i, i) for i in range(41)] + [(41, -1)]
    (arch,) = runtree.Api().run(f2.path).archived_segments()
    assert list(arch.history()["x"]) == [900 + i for i in range(10)]


def test_rewind_of_a_running_run_is_refused(rt_dir: Path) -> None:
    run = runtree.init(project="p")
    run.log({"x": 1})
    run._writer.sync()
    with pytest.raises(RunIsActive, match="still running"):
        runtree.init(project="p", resume_from=f"{run.id}?_step=0", reinit="create_new")
    run.finish()


def test_custom_step_metric_fork(rt_dir: Path) -> None:
    run = runtree.init(project="p")
    run.define_metric("val/*", step_metric="epoch")
    for step in range(40):
        run.log({"x": step, "epoch": step // 10})
    run.finish()
    child = runtree.init(project="p", fork_from=f"{run.id}?epoch=2")
    assert child.starting_step == 30  # last row with epoch <= 2 is step 29
    child.finish()
    with pytest.raises(StepOutOfRange, match="already greater"):
        runtree.init(project="p", fork_from=f"{run.id}?epoch=-1")


def test_custom_step_metric_that_goes_down_is_refused(rt_dir: Path) -> None:
    run = runtree.init(project="p")
    run.define_metric("acc", step_metric="epoch")
    for epoch in [0, 0, 1, 1, 2, 1, 3]:
        run.log({"epoch": epoch})
    run.finish()
    with pytest.raises(StepNotMonotonic, match=r"went down from 2 to 1 at _step 5"):
        runtree.init(project="p", fork_from=f"{run.id}?epoch=1")
    assert len(runtree.Api().runs("p")) == 1


def test_metric_not_declared_as_step_is_refused(rt_dir: Path) -> None:
    run = _logged(5)
    with pytest.raises(UsageError, match="'x' is not a step metric"):
        runtree.init(project="p", fork_from=f"{run.id}?x=2")


def test_fork_cost_does_not_depend_on_history_length(rt_dir: Path) -> None:
    """Forking reads O(segments) rows, never the history: count the rows the store hands out."""
    big = runtree.init(project="p")
    for i in range(20_000):
        big.log({"x": i})
    big.finish()
    store = runtree.Api().store
    calls: list[int] = []
    original = store.read_rows

    def counting(*args: object, **kw: object):  # type: ignore[no-untyped-def]
        for row in original(*args, **kw):  # type: ignore[arg-type]
            if threading.current_thread() is threading.main_thread():  # not the writer's summary catch-up
                calls.append(1)
            yield row

    store.read_rows = counting  # type: ignore[method-assign]
    try:
        child = runtree.init(project="p", fork_from=f"{big.id}?_step=15000")
        n_on_init = len(calls)
        child.finish()
    finally:
        store.read_rows = original  # type: ignore[method-assign]
    assert n_on_init <= 1  # only the fork step's row, for its _runtime
    assert runtree.Api().run(child.path).summary["x"] == 15000  # the summary caught up in the background
