"""The public read API, shaped as wandb.Api: Api().runs(path, filters, order), Api().run(path).history() as pandas,
lineage-aware; run.update() saves name, notes, tags, config and summary."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import pandas as pd

from runtree.domain import ids, runfilter
from runtree.domain.records import Rewind, RunRecord, Segment
from runtree.errors import NoSuchRun, UsageError
from runtree.store import ENV_STORE_URLS, default_entity, is_server_url, open_store, resolve_store_url
from runtree.store.base import Store
from runtree.store.reaper import reap

UI_URL = "http://127.0.0.1:8765"  # where `runtree ui` serves an embedded store: its runs' links point there


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


class RunFile(bytes):
    """A run file's content (bytes), with wandb's File surface: name, size, download()."""

    name: str

    def __new__(cls, name: str, data: bytes) -> RunFile:
        self = super().__new__(cls, data)
        self.name = name
        return self

    @property
    def size(self) -> int:
        return len(self)

    def download(self, root: str | os.PathLike[str] = ".", replace: bool = False, exist_ok: bool = False) -> IO[str]:
        """Write the file under `root` (its name's folders made); FileExistsError unless replace or exist_ok."""
        path = Path(root) / self.name
        if path.exists() and not replace:
            if not exist_ok:
                raise FileExistsError(f"{path} exists: pass replace=True to overwrite it, or exist_ok=True to keep it")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(bytes(self))
        return open(path)  # wandb's File.download returns the open file


class RunSummary(dict[str, Any]):
    """A run's summary; `update()` saves at once (as wandb's), `run.summary[k] = v` is saved by run.update()."""

    def __init__(self, run: ApiRun, values: Mapping[str, Any]) -> None:
        super().__init__(values)
        self._run = run

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        super().update(*args, **kwargs)
        self._run._save(summary=dict(self))


class ApiRun:
    """A stored run, read back: history, config, summary, lineage; name, notes, tags, config and summary editable."""

    def __init__(self, api: Api, record: RunRecord) -> None:
        self._api = api
        self._load(record)

    def _load(self, record: RunRecord) -> None:
        self._record = record
        self._config = dict(record.config)
        self._summary = RunSummary(self, record.summary)
        self._tags = list(record.tags)
        self._notes = record.notes

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
    def config(self) -> dict[str, Any]:
        return self._config

    @property
    def summary(self) -> RunSummary:
        return self._summary

    @property
    def tags(self) -> list[str]:
        return self._tags

    @tags.setter
    def tags(self, value: Sequence[str]) -> None:
        self._tags = list(value)

    @property
    def notes(self) -> str | None:
        return self._notes

    @notes.setter
    def notes(self, value: str | None) -> None:
        self._notes = value

    description = notes

    @property
    def name(self) -> str:
        return self._record.name

    @name.setter
    def name(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise UsageError(f"run name must be a non-empty string, got {value!r}")
        self._save(name=value)

    display_name = name

    @property
    def url(self) -> str:
        """The run's W&B-style link (/<entity>/<project>/runs/<id>): the server's, or `runtree ui`'s for a local store."""
        return f"{self._api.app_url}/{self.entity}/{self.project}/runs/{self.id}"

    def _save(self, **fields: Any) -> None:
        self._store.update_run(self.uid, **fields)
        self._record = self._record.evolve(**fields)

    def update(self) -> None:
        """Save what changed in name, notes, tags, config and summary (wandb's Run.update)."""
        changed: dict[str, Any] = {}
        if self._config != self._record.config:
            changed["config"] = dict(self._config)
        if dict(self._summary) != self._record.summary:
            changed["summary"] = dict(self._summary)
        if tuple(self._tags) != tuple(self._record.tags):
            for t in self._tags:
                if not isinstance(t, str) or not t:
                    raise UsageError(f"a tag must be a non-empty string, got {t!r}")
            changed["tags"] = tuple(self._tags)
        if self._notes != self._record.notes:
            changed["notes"] = self._notes
        if changed:
            self._save(**changed)

    save = update

    def refresh(self) -> ApiRun:
        self._load(self._store.get_run(self.uid))
        return self

    load = refresh

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
        """Names of the files stored with this run (such as diff.patch and media/images/...png), sorted."""
        return self._store.list_files(self.uid)

    def file(self, name: str) -> RunFile:
        """One of this run's files: its bytes, with .name, .size and .download(root); NoSuchFile (a
        FileNotFoundError) when it has none of that name."""
        return RunFile(name, self._store.read_file(self.uid, name))

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
    """Read runs back from a store, as wandb.Api does: the store from `store=`, `overrides={"base_url": ...}`,
    $RUNTREE_STORE_URL / $RUNTREE_BASE_URL / $WANDB_BASE_URL, `runtree login`, else the embedded one."""

    def __init__(
        self,
        overrides: Mapping[str, Any] | None = None,
        *,
        store: str | None = None,
        timeout: int | None = None,
        api_key: str | None = None,
    ) -> None:
        overrides = dict(overrides or {})
        explicit = store or overrides.get("store_url") or overrides.get("base_url")
        if not explicit and not any(os.environ.get(n) for n in ENV_STORE_URLS):
            explicit = os.environ.get("WANDB_BASE_URL")  # wandb's variable, after runtree's own
        url = resolve_store_url(explicit, overrides.get("dir"))
        key = api_key or (os.environ.get("WANDB_API_KEY") if url == os.environ.get("WANDB_BASE_URL") else None)
        remote = is_server_url(url)
        if remote and key and not os.environ.get("RUNTREE_API_KEY"):
            from runtree.store.remote import RemoteStore

            self.store: Store = RemoteStore(url, key)
            self._owned = True
        else:
            self.store = open_store(url)  # shared by the process, closed by runtree.store.close_all()
            self._owned = False
        self.app_url = url.rstrip("/") if remote else UI_URL
        self.default_entity = overrides.get("entity") or _key_entity(self.store, url) or default_entity()
        self.default_project = overrides.get("project") or os.environ.get("RUNTREE_PROJECT") or os.environ.get("WANDB_PROJECT")

    def run(self, path: str) -> ApiRun:
        """A run by 'entity/project/id', 'entity/project/runs/id', 'project/id', 'id' (in the default project) or its uid."""
        p = ids.parse_path(path.replace("/runs/", "/"))
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

    def runs(
        self,
        path: str | None = None,
        filters: Mapping[str, Any] | None = None,
        order: str | None = "+created_at",
        per_page: int = 50,
        include_sweeps: bool = True,
        lazy: bool = True,
    ) -> list[ApiRun]:
        """Runs of 'entity/project' or 'project' (all when None) matching W&B's filter language
        (runtree.domain.runfilter: {"config.lr": {"$gt": 0}}, $and/$or/$in/$regex, state, tags, createdAt, ...),
        in `order` ("+created_at" by default; "-summary_metrics.loss", "config.lr", ...), evaluated by the store."""
        entity = project = None
        if path:
            parts = path.strip("/").split("/")
            if len(parts) == 1:
                project = parts[0]
            elif len(parts) == 2:
                entity, project = parts
            else:
                raise UsageError(f"runs({path!r}): expected 'entity/project' or 'project'")
        where = runfilter.parse_filter(filters)
        recs = reap(self.store, self.store.query_runs(entity, project, where, runfilter.parse_order(order)))
        return [ApiRun(self, r) for r in recs]

    def close(self) -> None:
        """Close the connection this Api opened for its own key (a shared store stays open)."""
        if self._owned:
            self.store.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def projects(self, entity: str | None = None) -> list[str]:
        return sorted({r.project for r in self.store.list_runs(entity)})
