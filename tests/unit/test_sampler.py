"""The sampler's reading step, without its thread: sources merged, a failing source warned about once."""

from __future__ import annotations

import pytest

from runtree.errors import RuntreeWarning
from runtree.system.sampler import Sampler


def test_readings_of_all_sources_are_merged_into_one_sample() -> None:
    got: list[tuple[float, dict[str, float]]] = []
    s = Sampler([lambda: {"system.a": 1.0}, lambda: {"system.b": 2.0}], lambda ts, v: got.append((ts, v)), 10)
    s.sample()
    assert [v for _, v in got] == [{"system.a": 1.0, "system.b": 2.0}] and s.samples == 1


def test_nothing_is_stored_when_every_source_is_empty() -> None:
    got: list[object] = []
    s = Sampler([dict], lambda ts, v: got.append(v), 10)
    s.sample()
    assert got == [] and s.samples == 0


def test_a_failing_source_is_warned_about_once_and_the_others_go_on() -> None:
    def broken_gpu() -> dict[str, float]:
        raise RuntimeError("NVML: GPU is lost")

    got: list[dict[str, float]] = []
    s = Sampler([broken_gpu, lambda: {"system.cpu": 5.0}], lambda ts, v: got.append(v), 10)
    with pytest.warns(RuntreeWarning, match="broken_gpu failed.*GPU is lost") as caught:
        for _ in range(3):
            s.sample()
    assert len(caught) == 1 and got == [{"system.cpu": 5.0}] * 3


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="got 0"):
        Sampler([], lambda ts, v: None, 0)
