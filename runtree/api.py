"""The public read API: Api().runs(), Api().run(path).history() as pandas, lineage-aware."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pandas as pd

from runtree.domain import ids
from runtree.domain.records import Rewind, RunRecord, Segment
from runtree.errors import NoSuchRun, UsageError
from runtree.store import default_entity, is_server_url, open_store, resolve_store_url
from runtree.store.base import Store
from runtree.store.reaper import reap


def _frame(rows: list[dict[str, Any]], keys: Sequence[str] | None) -> pd.DataFrame:
    if keys is not None:
        cols = ["_step", *[k for k in keys if k != "_step"]]
        rows = [{k: r[k] for k in cols if k in r} for r in rows if any(k in r for k in keys)]
        df = pd.DataFrame.from_records(rows, columns=cols)
    else:
        df = pd.DataFrame.from_records(rows)
    if "_step" in df.columns:
        df = df.sort_values("_step", kind="stable").reset_index(drop=True)
    return df


def _sample(rows: list[dict[str, Any]], samples: int | None) -> list[dict[str, Any]]:
    if samples is None or samples <= 0 or len(rows) <= samples:
        return rows
    if samples == 1:
        return [rows[-1]]
    stride = (len(rows) - 1) / (samples - 1)
    return [rows[round(i * stride)] for i in range(samples)]


class ArchivedSegment:
    """History a rewind cut off: still stored, readable here."""

    def __init__(self, store: Store, rewind: Rewind, segment: Segment) -> None:
        self._store, self.rewind, self.segment = store, rewind, segment

    @property
    def first_step(self) -> int:
        return self.segment.first_step

    @property
    def last_step(self) -> int | None:
        return self.segment.last_step

    @property
    def epoch(self) -> int:
        return self.segment.epoch

    @property
    def rewound_at(self) -> int:
        return self.rewind.at_step

    def history(self, keys: Sequence[str] | None = None, pandas: bool = True) -> Any:
        rows = list(self._store.read_rows([self.segment]))
        return _frame(rows, keys) if pandas else rows

    def __repr__(self) -> str:
        return f"<ArchivedSegment epoch={self.epoch} steps={self.first_step}..{self.last_step} rewound_at={self.rewound_at}>"


class ApiRun:
    """A stored run, read back: history, config, summary, lineage."""

    def __init__(self, api: Api, record: RunRecord) -> None:
        self._api = api
        self._record = record

    @property
    def _store(self) -> Store:
        return self._api.store

    # identity
    id = property(lambda self: self._record.id)
    uid = property(lambda self: self._record.uid)
    storage_id = uid
    entity = property(lambda self: self._record.entity)
    project = property(lambda self: self._record.project)
    path = property(lambda self: self._record.path)
    state = property(lambda self: self._record.state)
    config = property(lambda self: dict(self._record.config))
    summary = property(lambda self: dict(self._record.summary))
    tags = property(lambda self: list(self._record.tags))
    notes = property(lambda self: self._record.notes)
    group = property(lambda self: self._record.group)
    job_type = property(lambda self: self._record.job_type)
    created_at = property(lambda self: self._record.created_at)
    heartbeat_at = property(lambda self: self._record.heartbeat_at)
    last_step = property(lambda self: self._record.last_step)
    metadata = property(lambda self: dict(self._record.metadata))
    parent_uid = property(lambda self: self._record.parent_uid)
    fork_step = property(lambda self: self._record.fork_step)
    epoch = property(lambda self: self._record.epoch)

    @property
    def name(self) -> str:
        return self._record.name

    @name.setter
    def name(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise UsageError(f"run name must be a non-empty string, got {value!r}")
        self._store.update_run(self.uid, name=value)
        self._record = self._record.evolve(name=value)

    display_name = name

    def update(self) -> None:
        """Store changes made to name, tags or notes (wandb's Run.update); name is stored on assignment."""

    def refresh(self) -> ApiRun:
        self._record = self._store.get_run(self.uid)
        return self

    def move(self, project: str, entity: str | None = None) -> None:
        """Move the run to another project; its uid stays the same."""
        ids.validate_scope_name("project", project)
        fields: dict[str, Any] = {"project": project}
        if entity is not None:
            fields["entity"] = ids.validate_scope_name("entity", entity)
        self._store.update_run(self.uid, **fields)
        self.refresh()

    # lineage
    @property
    def segments(self) -> list[Segment]:
        return self._store.read_segments(self.uid)

    @property
    def parent(self) -> ApiRun | None:
        if self.parent_uid is None:
            return None
        return ApiRun(self._api, self._store.get_run(self.parent_uid))

    @property
    def forked_from(self) -> dict[str, Any] | None:
        return None if self.parent_uid is None else {"uid": self.parent_uid, "step": self.fork_step}

    def children(self) -> list[ApiRun]:
        return [ApiRun(self._api, r) for r in self._store.list_runs(parent_uid=self.uid)]

    def rewinds(self) -> list[Rewind]:
        return self._store.list_rewinds(self.uid)

    def archived_segments(self) -> list[ArchivedSegment]:
        """Every stretch of this run's own history that a rewind cut off, oldest first."""
        out: list[ArchivedSegment] = []
        for rw in self._store.list_rewinds(self.uid):
            out.extend(ArchivedSegment(self._store, rw, seg) for seg in rw.archived)
        return out

    # history
    def scan_history(
        self, keys: Sequence[str] | None = None, page_size: int = 1000, min_step: int | None = None, max_step: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every visible row (inherited ones included) in step order, as dicts."""
        for row in self._store.read_rows(self.segments, min_step, max_step):
            if keys is None:
                yield row
            elif any(k in row for k in keys):
                yield {k: row[k] for k in ("_step", *keys) if k in row}

    def history(
        self,
        samples: int | None = None,
        keys: Sequence[str] | None = None,
        x_axis: str = "_step",
        pandas: bool = True,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> Any:
        """The visible history as a DataFrame ordered by _step (inherited rows included)."""
        rows = list(self._store.read_rows(self.segments, min_step, max_step))
        if keys is not None:
            rows = [r for r in rows if any(k in r for k in keys)]
        rows = _sample(rows, samples)
        return _frame(rows, keys) if pandas else rows

    def system_metrics(self, pandas: bool = True) -> Any:
        """System metrics of the visible history (inherited up to the fork moment), against time."""
        rows = [{"_timestamp": ts, **values} for ts, values in self._store.read_system(self.segments)]
        return pd.DataFrame.from_records(rows) if pandas else rows

    def logs(self) -> list[dict[str, Any]]:
        """Console lines of the visible history, in order."""
        return [
            {"timestamp": ts, "step": step, "stream": stream, "text": text}
            for ts, step, stream, text in self._store.read_logs(self.segments)
        ]

    def files(self) -> list[str]:
        """Names of the files stored with this run (such as diff.patch), sorted."""
        return self._store.list_files(self.uid)

    def file(self, name: str) -> bytes:
        """The content of one of this run's files; NoSuchFile (a FileNotFoundError) when it has none of that name."""
        return self._store.read_file(self.uid, name)

    def __repr__(self) -> str:
        return f"<ApiRun {self.path} ({self.state}) uid={self.uid}>"


def _key_entity(store: Any, url: str) -> str | None:
    """On a runtree server with no entity named in the environment: the API key's own entity, as the SDK uses."""
    if not is_server_url(url) or os.environ.get("RUNTREE_ENTITY") or os.environ.get("WANDB_ENTITY"):
        return None
    try:
        found = store.whoami().get("default_entity")
    except Exception:  # an older server, or none answering yet: the plain default
        return None
    return str(found) if found else None


class Api:
    """Read runs back from a store: the embedded one by default, or `store=` a URL."""

    def __init__(self, overrides: Mapping[str, Any] | None = None, *, store: str | None = None, timeout: int | None = None) -> None:
        overrides = dict(overrides or {})
        url = resolve_store_url(store or overrides.get("store_url"), overrides.get("dir"))
        self.store = open_store(url)
        self.default_entity = overrides.get("entity") or _key_entity(self.store, url) or default_entity()
        self.default_project = overrides.get("project") or os.environ.get("RUNTREE_PROJECT") or os.environ.get("WANDB_PROJECT")

    def run(self, path: str) -> ApiRun:
        """A run by 'entity/project/id', 'project/id', 'id' (in the default project) or its uid."""
        p = ids.parse_path(path)
        rec: RunRecord | None = None
        if p.entity is None and p.project is None and ids.looks_like_uid(p.id):
            try:
                rec = self.store.get_run(p.id)
            except NoSuchRun:
                rec = None
        if rec is None:
            entity = p.entity or self.default_entity
            project = p.project or self.default_project
            if project is None:
                raise NoSuchRun(f"no run {path!r}: give 'entity/project/id' or a uid")
            rec = self.store.find_run(entity, project, p.id)
        if rec is None:
            raise NoSuchRun(f"no run {path!r} in {self.store.url}")
        return ApiRun(self, reap(self.store, [rec])[0])

    def runs(self, path: str | None = None, filters: Mapping[str, Any] | None = None, order: str | None = None) -> list[ApiRun]:
        """Runs of 'entity/project' or 'project' (all when None), filtered by state/tags/config/id equality."""
        entity = project = None
        if path:
            parts = path.strip("/").split("/")
            if len(parts) == 1:
                project = parts[0]
            elif len(parts) == 2:
                entity, project = parts
            else:
                raise UsageError(f"runs({path!r}): expected 'entity/project' or 'project'")
        recs = reap(self.store, self.store.list_runs(entity, project))
        out = [ApiRun(self, r) for r in recs]
        for key, want in (filters or {}).items():
            out = [r for r in out if _matches(r, key, want)]
        return out

    def projects(self, entity: str | None = None) -> list[str]:
        return sorted({r.project for r in self.store.list_runs(entity)})


def _matches(run: ApiRun, key: str, want: Any) -> bool:
    if key in ("state", "id", "name", "uid", "group", "job_type", "parent_uid"):
        return bool(getattr(run, key) == want)
    if key == "tags":
        wanted = [want] if isinstance(want, str) else list(want)
        return all(t in run.tags for t in wanted)
    if key.startswith("config."):
        return bool(run.config.get(key[len("config.") :]) == want)
    if key.startswith("summary."):
        return bool(run.summary.get(key[len("summary.") :]) == want)
    raise UsageError(f"unknown filter {key!r}; use state, id, name, uid, group, job_type, tags, config.<key> or summary.<key>")
