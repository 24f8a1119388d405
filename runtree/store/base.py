"""The Store protocol: what every backend (SQLite, PostgreSQL, HTTP) offers the SDK, the Api and the server.

Rows are keyed by (uid, epoch, step) and never rewritten; a run's visible history is read through its
segment list (runtree.domain.lineage), one range scan per segment.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from runtree.domain.records import Rewind, RunRecord, Segment
from runtree.domain.runfilter import Node, OrderBy

# (step, wall-clock timestamp, the whole row including _step/_timestamp/_runtime)
RowIn = tuple[int, float, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A server API key as stored: the sha256 hex digest of the key (never the key), and what it may touch.

    It may read and write runs of `entities`; an `admin` key may touch every entity and manage keys.
    `prefix` is the key's first characters, enough to tell keys apart in a listing.
    """

    key_hash: str
    entities: tuple[str, ...] = ()
    admin: bool = False
    label: str = ""
    prefix: str = ""
    created_at: float = 0.0


class Store(Protocol):
    url: str

    # -- runs ------------------------------------------------------------------------------
    def create_run(self, run: RunRecord, segments: Sequence[Segment]) -> None:
        """Insert a run and its initial segments in one transaction; RunExists if the id is taken."""

    def get_run(self, uid: str) -> RunRecord:
        """The run with this uid; NoSuchRun otherwise."""

    def find_run(self, entity: str, project: str, run_id: str) -> RunRecord | None:
        """The run named entity/project/run_id, if any."""

    def list_runs(self, entity: str | None = None, project: str | None = None, *, parent_uid: str | None = None) -> list[RunRecord]:
        """Runs, oldest first, optionally limited to an entity, a project or the children of a run."""

    def query_runs(
        self, entity: str | None, project: str | None, where: Node | None, order: list[OrderBy], limit: int | None = None, offset: int = 0
    ) -> list[RunRecord]:
        """Runs matching a parsed W&B filter (runtree.domain.runfilter), in `order`, one page; evaluated in the database."""

    def count_runs(self, entity: str | None, project: str | None, where: Node | None) -> int:
        """How many runs query_runs would find without a page limit."""

    def update_run(self, uid: str, **fields: Any) -> None:
        """Change stored fields of a run (name, config, summary, state, tags, notes, ...)."""

    def claim_run(self, uid: str, **fields: Any) -> RunRecord:
        """Take a run for writing (resume): in one transaction, RunIsActive (naming host and pid) when a live process
        logs it, else set `fields` (the new process's host, pid, state) and return the run as stored."""

    def running_runs(self) -> list[RunRecord]:
        """The runs whose state is `running` (for the reaper), by an index that holds only them."""

    def mark_crashed(self, uid: str, heartbeat_at: float, **fields: Any) -> bool:
        """Mark the run crashed with `fields` (summary, last_step) only if it is still running with this heartbeat. Atomic."""

    # -- lineage ---------------------------------------------------------------------------
    def read_segments(self, uid: str) -> list[Segment]:
        """The run's visible history as segments, in step order."""

    def rewind_run(self, uid: str, segments: Sequence[Segment], rewind: Rewind, **fields: Any) -> None:
        """Atomically: replace the run's segments, move it to rewind.to_epoch, record the rewind, update fields."""

    def list_rewinds(self, uid: str) -> list[Rewind]:
        """The run's rewinds, oldest first, each with the segments it archived."""

    # -- history ---------------------------------------------------------------------------
    def append_rows(self, uid: str, epoch: int, rows: Sequence[RowIn]) -> None:
        """Append committed rows; a row whose (uid, epoch, step) is already stored is ignored (idempotent)."""

    def read_rows(self, segments: Sequence[Segment], min_step: int | None = None, max_step: int | None = None) -> Iterator[dict[str, Any]]:
        """The rows of the visible history in step order, one range scan per segment."""

    def last_row(self, segments: Sequence[Segment], at_or_before: int | None = None) -> tuple[int, float] | None:
        """(step, timestamp) of the last visible row, or of the last one at or before a step."""

    # -- time-keyed streams: system metrics and console output -----------------------------
    def append_system(self, uid: str, epoch: int, samples: Sequence[tuple[float, dict[str, Any]]]) -> None:
        """Append system-metric samples (timestamp, values)."""

    def read_system(self, segments: Sequence[Segment]) -> Iterator[tuple[float, dict[str, Any]]]:
        """System samples of the visible history in time order, each segment cut at its until_time."""

    def append_logs(self, uid: str, epoch: int, lines: Sequence[tuple[int, float, int | None, str, str]]) -> None:
        """Append console lines (seq, timestamp, step, stream, text); seq makes a retry idempotent."""

    def put_logs(self, uid: str, epoch: int, lines: Sequence[tuple[int, float, int | None, str, str]]) -> None:
        """Store console lines, replacing any stored at the same (uid, epoch, seq): a redrawn line (a progress bar)."""

    def read_logs(self, segments: Sequence[Segment]) -> Iterator[tuple[float, int | None, str, str]]:
        """Console lines (timestamp, step, stream, text) of the visible history, in order."""

    def last_log_seq(self, uid: str, epoch: int) -> int | None:
        """The highest console-line seq stored for the run's `epoch`: a resumed run numbers on from it."""

    # -- run files (diff.patch, ...) --------------------------------------------------------
    def put_file(self, uid: str, name: str, data: bytes) -> None:
        """Store a file of the run, replacing one of the same name."""

    def read_file(self, uid: str, name: str) -> bytes:
        """A file of the run; NoSuchFile (a FileNotFoundError) when it has none of that name."""

    def list_files(self, uid: str) -> list[str]:
        """Names of the run's files, sorted."""

    # -- server API keys (runtree.server.auth) -----------------------------------------------
    def create_key(self, key: ApiKey, *, only_if_first: bool = False) -> bool:
        """Store a key; False when its hash is stored already, or (only_if_first) when any key exists. Atomic."""

    def find_key(self, key_hash: str) -> ApiKey | None:
        """The key with this sha256 hex digest, if any."""

    def list_keys(self) -> list[ApiKey]:
        """Every key, oldest first."""

    def delete_key(self, key_hash: str) -> bool:
        """Revoke a key; False when there was none with this hash."""

    # -- shared settings (a project's workspace layout, ...) ------------------------------------
    def get_setting(self, scope: str) -> Any | None:
        """The JSON value stored under `scope` ("workspace/<entity>/<project>"), or None."""

    def put_setting(self, scope: str, value: Any) -> None:
        """Store `value` (any JSON value) under `scope`, replacing what was there."""

    def close(self) -> None:
        """Release connections."""
