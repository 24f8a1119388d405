"""The runs table's columns and how RunRecord fields map onto them; shared by every SQL backend."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from runtree.domain.records import RunRecord, Segment
from runtree.domain.steps import STEP_LIMIT
from runtree.store.codec import dumps, loads_or

JSON_FIELDS = frozenset({"config", "summary", "metric_defs", "metadata"})
RUN_COLUMNS = [
    "uid",
    "entity",
    "project",
    "id",
    "name",
    "state",
    "created_at",
    "updated_at",
    "heartbeat_at",
    "finished_at",
    "exit_code",
    "epoch",
    "parent_uid",
    "fork_step",
    "config",
    "summary",
    "metric_defs",
    "tags",
    "notes",
    "group",
    "job_type",
    "host",
    "pid",
    "pid_started",
    "last_step",
    "metadata",
]
UPDATABLE = frozenset(RUN_COLUMNS) - {"uid", "created_at"}
OPEN_END = STEP_LIMIT  # the last step of an open segment, for range scans (no step reaches it)


def check_fields(fields: Mapping[str, Any]) -> None:
    """Refuse run fields that do not exist or may not change."""
    bad = set(fields) - UPDATABLE
    if bad:
        raise ValueError(f"cannot update run fields {sorted(bad)}; updatable: {sorted(UPDATABLE)}")


def encode_field(name: str, value: Any) -> Any:
    """A RunRecord field as stored in its column."""
    if name in JSON_FIELDS:
        return dumps(value)
    if name == "tags":
        return dumps(list(value))
    return value


def run_from_columns(d: dict[str, Any]) -> RunRecord:
    """A RunRecord from a row of the runs table as a dict."""
    for f in JSON_FIELDS:
        d[f] = loads_or(d[f], {})
    d["tags"] = tuple(loads_or(d["tags"], []))
    return RunRecord(**d)


def time_windows(segments: Sequence[Segment]) -> Iterator[tuple[Segment, float, float]]:
    """(segment, after, until) for each segment: the time-keyed streams (system samples, console lines) of a
    segment's source/epoch are read with after < ts <= until. A segment ends at its until_time (the fork or
    rewind cut), and the next one starts there, since its rows are younger than that cut."""
    after = float("-inf")
    for seg in segments:
        yield seg, after, (seg.until_time if seg.until_time is not None else float("inf"))
        if seg.until_time is not None:
            after = seg.until_time


def segment_bounds(seg: Segment, min_step: int | None, max_step: int | None) -> tuple[int, int] | None:
    """The step range to scan for `seg` within [min_step, max_step]; None when they do not meet."""
    lo = seg.first_step if min_step is None else max(seg.first_step, min_step)
    hi_seg = seg.last_step if seg.last_step is not None else OPEN_END
    hi = hi_seg if max_step is None else min(hi_seg, max_step)
    return None if lo > hi else (lo, hi)
