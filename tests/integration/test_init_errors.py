"""Each init error is raised before any run is created, and says what was wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

import runtree
from runtree.errors import BadForkSpec, ConflictingOptions, NoSuchRun, RunExists, StepOutOfRange, UsageError


@pytest.fixture
def parent(rt_dir: Path) -> runtree.Run:
    run = runtree.init(project="p", id="parent1")
    for i in range(10):
        run.log({"x": i})
    run.finish()
    return run


def _count() -> int:
    return len(runtree.Api().runs("p"))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"fork_from": "nosuch?_step=1"}, NoSuchRun, "no run 'nosuch' in tester/p"),
        ({"resume_from": "nosuch?_step=1"}, NoSuchRun, "no run 'nosuch'"),
        ({"fork_from": "parent1?_step=10"}, StepOutOfRange, "step 10 is beyond the last logged step 9"),
        ({"resume_from": "parent1?_step=99"}, StepOutOfRange, "step 99 is beyond the last logged step 9"),
        ({"fork_from": "parent1"}, BadForkSpec, "fork_from='parent1' has no '?metric=value'"),
        ({"fork_from": "parent1?_step=x"}, BadForkSpec, "non-negative integer, got 'x'"),
        ({"fork_from": "parent1?_step="}, BadForkSpec, "_step has no value"),
        ({"fork_from": "parent1?_step=-3"}, BadForkSpec, "_step must be >= 0, got -3"),
        ({"resume_from": "abc"}, BadForkSpec, "resume_from='abc'"),
        ({"fork_from": "parent1?_step=1", "resume": "allow"}, ConflictingOptions, "mutually exclusive"),
        ({"fork_from": "parent1?_step=1", "resume_from": "parent1?_step=1"}, ConflictingOptions, "mutually exclusive"),
        ({"fork_from": "parent1?_step=1", "id": "parent1"}, ConflictingOptions, "use resume_from instead"),
        ({"resume_from": "parent1?_step=1", "id": "other"}, ConflictingOptions, "name different runs"),
        ({"id": "parent1"}, RunExists, "'parent1' is already taken in tester/p"),
        ({"id": "bad/id"}, UsageError, "'bad/id' contains '/'"),
        ({"resume": "must", "id": "ghost"}, NoSuchRun, "resume='must' but there is no run 'ghost'"),
        ({"resume": "never", "id": "parent1"}, RunExists, "resume='never'"),
        ({"resume": "sometimes"}, UsageError, "resume='sometimes' is not valid"),
        ({"mode": "cloud"}, UsageError, "mode='cloud' is not valid"),
        ({"tags": "notalist"}, UsageError, "tags must be a list"),
    ],
)
def test_init_errors(parent: runtree.Run, kwargs: dict[str, object], error: type[Exception], message: str) -> None:
    before = _count()
    with pytest.raises(error) as e:
        runtree.init(project="p", **kwargs)  # type: ignore[arg-type]
    assert message in str(e.value)
    assert _count() == before
    assert runtree.Api().run("p/parent1").state == "finished"
    assert len(runtree.Api().run("p/parent1").history()) == 10


def test_resume_allow_continues_at_next_step(parent: runtree.Run) -> None:
    run = runtree.init(project="p", id="parent1", resume="allow")
    assert run.step == 10 and run.uid == parent.uid
    run.log({"x": 10})
    run.finish()
    h = runtree.Api().run("p/parent1").history()
    assert list(h["x"]) == list(range(11))
    assert runtree.Api().run("p/parent1").summary["x"] == 10


def test_resume_allow_creates_when_missing(rt_dir: Path) -> None:
    run = runtree.init(project="p", id="fresh", resume="allow")
    assert run.id == "fresh" and run.step == 0
    run.finish()
