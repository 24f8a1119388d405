"""W&B's step rules for run.log, and the monotonic check a custom step metric needs to name a fork point.

`StepCounter.log` mirrors wandb's handler: `_step` starts at the run's starting step and increments on
each committed log; `commit=False` merges into the pending row; an explicit step below the current one is
dropped (the caller warns); an explicit higher step first commits the pending row, then jumps; an explicit
step leaves the row pending unless `commit=True`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from runtree.errors import StepNotMonotonic, StepOutOfRange

# Steps are below 2**62 on every store: both keep steps as 64-bit integers and read an open segment up to
# this bound, so a step at or above it could be stored but never read. log() refuses it.
STEP_LIMIT = 1 << 62


class StepCounter:
    """The pending row and the current step of one run; no clocks, no I/O."""

    __slots__ = ("pending", "step")

    def __init__(self, starting_step: int = 0) -> None:
        self.step = starting_step
        self.pending: dict[str, Any] = {}

    def log(self, row: dict[str, Any], step: int | None, commit: bool | None) -> list[tuple[int, dict[str, Any]]] | None:
        """Apply one log call; return the rows it commits as (step, data), or None if it was dropped."""
        committed: list[tuple[int, dict[str, Any]]] = []
        if step is not None:
            if step < self.step:
                return None
            if step > self.step:
                if self.pending:
                    committed.append((self.step, self.pending))
                    self.pending = {}
                self.step = step
        elif commit is None:
            commit = True
        if self.pending:
            self.pending.update(row)
        else:
            self.pending = row
        if commit:
            committed.append((self.step, self.pending))
            self.pending = {}
            self.step += 1
        return committed

    def flush(self) -> list[tuple[int, dict[str, Any]]]:
        """Commit the pending row, if any (at finish)."""
        if not self.pending:
            return []
        out = [(self.step, self.pending)]
        self.pending = {}
        self.step += 1
        return out


@dataclass(frozen=True, slots=True)
class Decrease:
    step: int
    previous: float
    value: float


def first_decrease(points: Iterable[tuple[int, Any]]) -> Decrease | None:
    """The first (step, value) whose value is below the one before it; None when they never decrease."""
    prev: float | None = None
    for step, value in points:
        if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
            continue
        if prev is not None and value < prev:
            return Decrease(step, prev, value)
        prev = value
    return None


def step_for_metric_value(run_label: str, metric: str, value: float, points: Iterable[tuple[int, Any]]) -> int:
    """The _step of the last row whose `metric` is <= value, checking the metric never decreases."""
    found: int | None = None
    prev: float | None = None
    count = 0
    for step, v in points:
        if not isinstance(v, int | float) or isinstance(v, bool) or math.isnan(v):
            continue
        count += 1
        if prev is not None and v < prev:
            raise StepNotMonotonic(
                f"cannot fork {run_label} at {metric}={value:g}: {metric} is not monotonic, "
                f"it went down from {prev:g} to {v:g} at _step {step}"
            )
        prev = v
        if v <= value:
            found = step
    if count == 0:
        raise StepOutOfRange(f"cannot fork {run_label} at {metric}={value:g}: the run never logged {metric}")
    if found is None:
        raise StepOutOfRange(f"cannot fork {run_label} at {metric}={value:g}: its first logged {metric} is already greater")
    return found
