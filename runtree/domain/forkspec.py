"""Parse a fork/rewind moment such as "abc123?_step=200" or "abc123?epoch=3" into a ForkSpec."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from runtree.errors import BadForkSpec

STEP = "_step"
_METRIC_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_./\-]*$")


@dataclass(frozen=True, slots=True)
class ForkSpec:
    """A run reference and the moment in it: `metric` is '_step' or a custom step metric."""

    run: str
    metric: str
    value: float

    @property
    def step(self) -> int:
        """The step, when the moment is named by `_step`."""
        return int(self.value)


def parse_forkspec(text: str, option: str = "fork_from") -> ForkSpec:
    """Parse `text`; raise BadForkSpec quoting it and naming `option` when it is malformed."""
    example = f"{option}='<run id>?_step=200'"
    if not isinstance(text, str):
        raise BadForkSpec(f"{option} must be a string like {example!r}, got {type(text).__name__} {text!r}")
    run, sep, query = text.partition("?")
    if not run:
        raise BadForkSpec(f"{option}={text!r} names no run; expected {example}")
    if not sep:
        raise BadForkSpec(f"{option}={text!r} has no '?metric=value' moment; expected {example}")
    key, eq, raw = query.partition("=")
    if not eq or not key:
        raise BadForkSpec(f"{option}={text!r}: the moment {query!r} must be 'metric=value', e.g. '_step=200'")
    if not _METRIC_RE.match(key):
        raise BadForkSpec(f"{option}={text!r}: {key!r} is not a metric name")
    if raw == "":
        raise BadForkSpec(f"{option}={text!r}: {key} has no value; expected a number such as {key}=200")
    if key == STEP:
        if not re.fullmatch(r"\+?\d+", raw):
            if re.fullmatch(r"-\d+", raw):
                raise BadForkSpec(f"{option}={text!r}: _step must be >= 0, got {raw}")
            raise BadForkSpec(f"{option}={text!r}: _step must be a non-negative integer, got {raw!r}")
        return ForkSpec(run, STEP, int(raw))
    try:
        value = float(raw)
    except ValueError:
        raise BadForkSpec(f"{option}={text!r}: {key} must be a number, got {raw!r}") from None
    if math.isnan(value):
        raise BadForkSpec(f"{option}={text!r}: {key} cannot be NaN")
    return ForkSpec(run, key, value)
