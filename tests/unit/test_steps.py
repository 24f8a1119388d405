import pytest

from runtree.domain.steps import StepCounter, first_decrease, step_for_metric_value
from runtree.errors import StepNotMonotonic, StepOutOfRange


def test_plain_logs_commit_and_increment() -> None:
    c = StepCounter()
    assert c.log({"a": 1}, None, None) == [(0, {"a": 1})]
    assert c.log({"a": 2}, None, None) == [(1, {"a": 2})]
    assert c.step == 2


def test_commit_false_merges_into_pending_row() -> None:
    c = StepCounter()
    assert c.log({"a": 1}, None, False) == []
    assert c.log({"b": 2}, None, None) == [(0, {"a": 1, "b": 2})]


def test_explicit_step_stays_pending_until_a_higher_step() -> None:
    c = StepCounter()
    assert c.log({"x": 1}, 10, None) == []
    assert c.log({"y": 2}, 10, None) == []
    assert c.log({"z": 3}, 12, None) == [(10, {"x": 1, "y": 2})]
    assert c.flush() == [(12, {"z": 3})]
    assert c.step == 13


def test_explicit_step_with_commit_true_commits() -> None:
    c = StepCounter()
    assert c.log({"x": 1}, 5, True) == [(5, {"x": 1})]
    assert c.step == 6


def test_lower_step_is_dropped() -> None:
    c = StepCounter(10)
    assert c.log({"x": 1}, 3, None) is None
    assert c.step == 10 and c.pending == {}


def test_plain_log_after_pending_explicit_step_commits_it() -> None:
    c = StepCounter()
    c.log({"x": 1}, 4, None)
    assert c.log({"v": 5}, None, None) == [(4, {"x": 1, "v": 5})]
    assert c.step == 5


def test_starting_step() -> None:
    c = StepCounter(201)
    assert c.log({"m": 1}, None, None) == [(201, {"m": 1})]


def test_first_decrease() -> None:
    assert first_decrease([(0, 1), (1, 1), (2, 3)]) is None
    d = first_decrease([(0, 1), (1, 2), (2, 1.5)])
    assert d is not None and (d.step, d.previous, d.value) == (2, 2, 1.5)


def test_step_for_metric_value() -> None:
    pts = [(0, 0), (5, 0), (10, 1), (15, 1), (20, 2), (25, 3), (30, 3)]
    assert step_for_metric_value("r", "epoch", 1, pts) == 15
    assert step_for_metric_value("r", "epoch", 2.5, pts) == 20
    assert step_for_metric_value("r", "epoch", 3, pts) == 30


def test_step_for_metric_value_refuses_a_decreasing_metric() -> None:
    with pytest.raises(StepNotMonotonic, match="went down from 2 to 1 at _step 20"):
        step_for_metric_value("r", "epoch", 1, [(0, 0), (10, 2), (20, 1)])


def test_step_for_metric_value_out_of_range() -> None:
    with pytest.raises(StepOutOfRange, match="never logged epoch"):
        step_for_metric_value("r", "epoch", 1, [])
    with pytest.raises(StepOutOfRange, match="already greater"):
        step_for_metric_value("r", "epoch", 1, [(0, 5)])
