"""The frozen records the layers exchange: a run, a lineage segment, a rewind."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

RUNNING = "running"
FINISHED = "finished"
FAILED = "failed"
CRASHED = "crashed"
STATES = (RUNNING, FINISHED, FAILED, CRASHED)


@dataclass(frozen=True, slots=True)
class Segment:
    """One piece of a run's visible history: rows of `source_uid`/`epoch` with first_step <= _step <= last_step.

    `last_step` None means open (the run's own, still growing segment). `until_time` bounds the
    time-keyed streams (system metrics, console logs) of that source/epoch; None means unbounded.
    """

    source_uid: str
    epoch: int
    first_step: int
    last_step: int | None = None
    until_time: float | None = None

    def covers(self, step: int) -> bool:
        return self.first_step <= step and (self.last_step is None or step <= self.last_step)


@dataclass(frozen=True, slots=True)
class Rewind:
    """A rewind of run `uid` to `at_step`: `archived` are the segments it cut off, still in the store."""

    uid: str
    at_step: int
    from_epoch: int
    to_epoch: int
    created_at: float
    archived: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run as stored: identity, state, config, summary and lineage head."""

    uid: str
    entity: str
    project: str
    id: str
    name: str
    state: str = RUNNING
    created_at: float = 0.0
    updated_at: float = 0.0
    heartbeat_at: float = 0.0
    finished_at: float | None = None
    exit_code: int | None = None
    epoch: int = 0
    parent_uid: str | None = None
    fork_step: int | None = None
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    metric_defs: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    notes: str | None = None
    group: str | None = None
    job_type: str | None = None
    host: str | None = None
    pid: int | None = None
    pid_started: float | None = None
    last_step: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.id}"

    def evolve(self, **changes: Any) -> RunRecord:
        return replace(self, **changes)
