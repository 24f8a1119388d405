"""The public read API: Api().runs(), Api().run(path).history() as pandas, lineage-aware."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload

from runtree.domain import chunks, ids
from runtree.domain.records import Rewind, RunRecord, Segment
from runtree.errors import NoSuchRun, UsageError
from runtree.store import default_entity, is_server_url, open_store, resolve_store_url
from runtree.store.base import Store
from runtree.store.chunked import Piece
from runtree.store.reaper import reap

if TYPE_CHECKING:  # pandas and numpy load when a frame is built, not with the Api (the CLI lists runs without them)
    import numpy as np
    import pandas as pd


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

    def runs(
        self, path: str | None = None, filters: Mapping[str, Any] | None = None, order: str | None = None, per_page: int = 1000
    ) -> Runs:
        """Runs of 'entity/project' or 'project' (all when None), filtered by state/tags/config/id equality; fetched
        `per_page` at a time as they are used (a server-side cursor), like wandb's Runs."""
        entity = project = None
        if path:
            parts = path.strip("/").split("/")
            if len(parts) == 1:
                project = parts[0]
            elif len(parts) == 2:
                entity, project = parts
            else:
                raise UsageError(f"runs({path!r}): expected 'entity/project' or 'project'")
        if per_page < 1:
            raise UsageError(f"runs(per_page={per_page!r}): give a positive number of runs per page")
        return Runs(self, entity, project, dict(filters or {}), per_page)

    def projects(self, entity: str | None = None) -> list[str]:
        return sorted({r.project for r in self.store.list_runs(entity)})


class Runs(Sequence[ApiRun]):
    """Runs in creation order, loaded a page at a time as they are used: iterating streams them, len() and
    indexing load what they need; `pages()` yields each page as it arrives."""

    def __init__(self, api: Api, entity: str | None, project: str | None, filters: dict[str, Any], per_page: int) -> None:
        self._api, self._entity, self._project, self._filters, self.per_page = api, entity, project, filters, per_page
        self._loaded: list[ApiRun] = []
        self._after: tuple[float, str] | None = None
        self._done = False

    def _more(self) -> list[ApiRun] | None:
        """The next page (after filters; may be empty), or None when every run is loaded."""
        if self._done:
            return None
        store = self._api.store
        recs = store.list_runs(self._entity, self._project, limit=self.per_page, after=self._after)
        self._done = len(recs) != self.per_page  # more than a page: a server that does not page sent them all
        if self._after is not None:  # ... and would send the first page again
            recs = [r for r in recs if (r.created_at, r.uid) > self._after]
        if recs:
            self._after = (recs[-1].created_at, recs[-1].uid)
        page = [ApiRun(self._api, r) for r in reap(store, recs)]
        for key, want in self._filters.items():
            page = [r for r in page if _matches(r, key, want)]
        self._loaded.extend(page)
        return page

    def pages(self) -> Iterator[list[ApiRun]]:
        """Each page of runs as it is fetched (those loaded already first, as one page)."""
        if self._loaded:
            yield list(self._loaded)
        while (page := self._more()) is not None:
            if page:
                yield page

    def __iter__(self) -> Iterator[ApiRun]:
        i = 0
        while True:
            while i < len(self._loaded):
                yield self._loaded[i]
                i += 1
            if self._more() is None:
                return

    def __len__(self) -> int:
        while self._more() is not None:
            pass
        return len(self._loaded)

    @overload
    def __getitem__(self, i: int) -> ApiRun: ...

    @overload
    def __getitem__(self, i: slice) -> list[ApiRun]: ...

    def __getitem__(self, i: int | slice) -> ApiRun | list[ApiRun]:
        if isinstance(i, slice) or i < 0:
            len(self)
        else:
            while len(self._loaded) <= i and self._more() is not None:
                pass
        return self._loaded[i]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        where = "/".join(p for p in (self._entity, self._project) if p) or "all"
        return f"<Runs {where} ({len(self._loaded)} loaded{'' if self._done else ', more to come'})>"


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
