"""The public read API, shaped as wandb.Api: Api().runs(path, filters, order), Api().run(path).history() as pandas,
lineage-aware; run.update() saves name, notes, tags, config and summary."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from runtree.domain import chunks, ids, runfilter
from runtree.domain.records import Rewind, RunRecord, Segment
from runtree.errors import NoSuchRun, UsageError
from runtree.store import ENV_STORE_URLS, default_entity, is_server_url, open_store, resolve_store_url
from runtree.store.base import Store
from runtree.store.chunked import Piece
from runtree.store.reaper import reap

if TYPE_CHECKING:  # pandas and numpy load when a frame is built, not with the Api (the CLI lists runs without them)
    import numpy as np
    import pandas as pd

UI_URL = "http://127.0.0.1:8765"  # where `runtree ui` serves an embedded store: its runs' links point there


def _frame(rows: list[dict[str, Any]], keys: Sequence[str] | None) -> pd.DataFrame:
    import pandas as pd

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


_ABSENT = object()


def _part(piece: Piece, k: str, a: int, b: int) -> tuple[bytes, Any, np.ndarray | None]:
    import numpy as np

    """Key `k` over rows a..b of `piece`: (kind, values, presence mask or None when every row has it)."""
    if k == "_step" and ("s" in piece.implied or k not in piece.columns):
        return chunks.INT, np.asarray(piece.steps[a:b], dtype=np.int64), None
    if k == "_timestamp" and "t" in piece.implied:
        return chunks.FLOAT, np.asarray(piece.times[a:b], dtype=np.float64), None
    col = piece.columns[k]
    n = len(piece.steps)
    typed = col.kind in (chunks.FLOAT, chunks.INT) and col.raw
    if col.present is None:
        if typed:
            return col.kind, np.frombuffer(col.raw, dtype="<f8" if col.kind == chunks.FLOAT else "<i8")[a:b], None
        vals = np.empty(b - a, dtype=object)
        vals[:] = list(col.values[a:b])
        return chunks.JSON, vals, None
    mask = np.unpackbits(np.frombuffer(col.present, dtype=np.uint8), bitorder="little")[:n].astype(bool)
    if typed:
        full = np.full(n, np.nan)
        full[mask] = np.frombuffer(col.raw, dtype="<f8" if col.kind == chunks.FLOAT else "<i8")
        return chunks.FLOAT, full[a:b], mask[a:b]
    obj = np.full(n, np.nan, dtype=object)
    obj[mask] = list(col.values)
    return chunks.JSON, obj[a:b], mask[a:b]


def frame_from_pieces(pieces: Iterable[Piece], keys: Sequence[str] | None, samples: int | None = None) -> pd.DataFrame:
    """A DataFrame of history pieces: typed columns straight from their buffers; absent values NaN (as
    DataFrame.from_records of the rows gives); with `keys`, the rows holding any of them."""
    import numpy as np
    import pandas as pd

    order: dict[str, None] = {} if keys is None else dict.fromkeys(["_step", *[k for k in keys if k != "_step"]])
    parts: list[tuple[int, dict[str, tuple[bytes, Any, np.ndarray | None]]]] = []
    for p in pieces:
        a, b = p.span()
        if a >= b:
            continue
        implied = {"_step", "_timestamp"} if "t" in p.implied else {"_step"}
        names = [k for k in (p.order or ("_step", *p.columns, "_timestamp")) if k in p.columns or k in implied]
        if keys is None:
            order.update(dict.fromkeys(names))
        got = {k: _part(p, k, a, b) for k in names if k in order}
        if keys is not None:
            held = [g[2] for k, g in got.items() if k != "_step" and k in keys]
            if not held and "_step" not in keys:
                continue
            masks = [m for m in held if m is not None]
            keep = None if "_step" in keys or len(masks) < len(held) else np.logical_or.reduce(masks)
            if keep is not None and not keep.all():
                got = {k: (kind, v[keep], None if m is None else m[keep]) for k, (kind, v, m) in got.items()}
                b = a + int(keep.sum())
        parts.append((b - a, got))
    total = sum(n for n, _ in parts)
    idx = None
    if samples is not None and 0 < samples < total:
        idx = np.array([total - 1]) if samples == 1 else np.rint(np.arange(samples) * ((total - 1) / (samples - 1))).astype(np.int64)
    data: dict[str, Any] = {}
    for k in order:
        kinds = {got[k][0] for _, got in parts if k in got}
        complete = all(k in got and got[k][2] is None for _, got in parts)
        if kinds and kinds <= {chunks.FLOAT, chunks.INT}:
            dtype = np.int64 if kinds == {chunks.INT} and complete else np.float64
            arrays = [got[k][1] if k in got else np.full(n, np.nan) for n, got in parts]
            col: Any = np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.empty(0, dtype)
        else:
            col = [x for n, got in parts for x in (got[k][1] if k in got else [np.nan] * n)]
            col = pd.Series(col, dtype=object).infer_objects().to_numpy() if col else np.empty(0, dtype=object)
        data[k] = col if idx is None else col[idx]
    return pd.DataFrame(data, columns=list(order))


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
        """Every visible row (inherited ones included) in step order, as dicts; with `keys`, only the rows holding
        any of them, cut down to _step and them (only those columns are read)."""
        if keys is None:
            yield from self._store.read_rows(self.segments, min_step, max_step)
            return
        wanted = ("_step", *[k for k in keys if k != "_step"])
        for piece in self._store.read_pieces(self.segments, list(wanted), min_step, max_step):
            for row in piece.rows():
                if any(k in row for k in keys):
                    yield {k: row[k] for k in wanted if k in row}

    def history(
        self,
        samples: int | None = None,
        keys: Sequence[str] | None = None,
        x_axis: str = "_step",
        pandas: bool = True,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> Any:
        """The visible history as a DataFrame ordered by _step (inherited rows included); with `keys`, only the rows
        holding any of them, and only their columns are read (built from typed arrays, no Python object per point)."""
        if pandas:
            wanted = None if keys is None else ["_step", *[k for k in keys if k != "_step"]]
            return frame_from_pieces(self._store.read_pieces(self.segments, wanted, min_step, max_step), keys, samples)
        rows = list(self._store.read_rows(self.segments, min_step, max_step))
        if keys is not None:
            rows = [r for r in rows if any(k in r for k in keys)]
        return _sample(rows, samples)

    def system_metrics(self, pandas: bool = True) -> Any:
        """System metrics of the visible history (inherited up to the fork moment), against time."""
        rows = [{"_timestamp": ts, **values} for ts, values in self._store.read_system(self.segments)]
        if not pandas:
            return rows
        import pandas as pd

        return pd.DataFrame.from_records(rows)

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

    def runs_pages(self, path: str | None = None, per_page: int = 200) -> Iterator[list[ApiRun]]:
        """Runs of 'entity/project' or 'project' (all when None) in creation order, a page at a time as the store's
        cursor hands them out (Store.list_runs(limit, after)): the first page comes before the rest is read."""
        entity = project = None
        if path:
            parts = path.strip("/").split("/")
            if len(parts) > 2:
                raise UsageError(f"runs({path!r}): expected 'entity/project' or 'project'")
            entity, project = (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
        if per_page < 1:
            raise UsageError(f"runs_pages(per_page={per_page!r}): give a positive number of runs per page")
        after: tuple[float, str] | None = None
        while True:
            recs = self.store.list_runs(entity, project, limit=per_page, after=after)
            if after is not None:  # a server that does not page sends every run, every time
                recs = [r for r in recs if (r.created_at, r.uid) > after]
            if recs:
                yield [ApiRun(self, r) for r in reap(self.store, recs)]
                after = (recs[-1].created_at, recs[-1].uid)
            if len(recs) != per_page:
                return

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
