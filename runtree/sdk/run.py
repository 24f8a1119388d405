"""The Run lifecycle: init -> log -> finish, config and summary, define_metric, context manager, atexit.

`Run.log` is the hot path: it checks the values, applies W&B's step rules and hands the row to the
background writer; it never touches the store.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, cast

from runtree.domain import ids
from runtree.domain.records import FAILED, FINISHED, Segment
from runtree.domain.steps import STEP_LIMIT, StepCounter
from runtree.domain.summary import MetricDef, SummaryBuilder, parse_goal, parse_summary_modes
from runtree.domain.values import check_row
from runtree.errors import DataNotStored, RuntreeWarning, UsageError
from runtree.sdk import settings as settings_mod
from runtree.sdk import start as start_mod
from runtree.sdk.config import Config, Summary, config_dict
from runtree.sdk.settings import Settings
from runtree.sdk.writer import NullWriter, Writer
from runtree.store import default_entity, default_store_url, is_server_url, open_store
from runtree.store.base import Store

if TYPE_CHECKING:
    from runtree.sdk.spool import SpoolingStore

DEFAULT_PROJECT = "uncategorized"
DATA_NOT_STORED_EXIT = 75  # the exit status of a process whose runs, finished at exit, left data unstored (EX_TEMPFAIL)
_LAST_RUN_FILE = "last-run.json"


class Run:
    """One training run being logged. Made by runtree.init(); use as a context manager or call finish()."""

    def __init__(self, settings: Settings, store: Store | None, start: start_mod.Start, spool: SpoolingStore | None = None) -> None:
        rec = start.record
        self.settings = settings
        self._store = store
        self._spool = spool  # a server's run: the writer writes through it, to the local spool while the server is down
        self._record = rec
        self._segments: list[Segment] = start.segments
        self._counter = StepCounter(start.starting_step)
        self.starting_step = start.starting_step
        self.resumed = start.resumed
        self._start_time = time.time()
        self._runtime_offset = start.runtime_offset - 0.0
        self._t0 = self._start_time - start.runtime_offset
        self._defs = {name: MetricDef.from_json(name, d) for name, d in rec.metric_defs.items()}
        builder = SummaryBuilder(self._defs)
        for k, v in start.summary_seed.items():
            builder.set(k, v)
        self._writer: Writer | NullWriter
        if store is None:
            self._writer = NullWriter(builder)
        else:
            self._writer = Writer(
                cast(Store, spool) if spool is not None else store,
                rec.uid,
                rec.epoch,
                builder,
                flush_interval=settings.flush_interval,
                max_queue_bytes=settings.max_queue_bytes,
                max_backlog=settings.max_backlog,
                final_retry=settings.finish_timeout,
                heartbeat_interval=settings.heartbeat_interval,
                base_summary=start.base_summary,
            )
        self.config = Config(rec.config, lambda items: self._writer.set_fields(config=items))
        self.summary = Summary(self._writer)
        self._name = rec.name
        self._notes = rec.notes
        self._tags = tuple(rec.tags)
        self._finished = False
        self._lock = threading.Lock()
        self._context: list[Any] = []  # system sampler, console capture: stopped at finish
        self._converter: Any = None  # runtree.sdk.media.rows.Converter, made at the first value that is not a scalar
        self._saved: list[tuple[str, str]] = []  # run.save() globs stored again at finish
        self._alerts: list[dict[str, Any]] = []
        self._alert_times: dict[str, float] = {}
        self._watched: list[tuple[Any, list[Any]]] = []

    def _convert(self, key: str, value: Any) -> Any:
        """check_row's hook for media, lists and arrays (imports the media code only when first needed)."""
        if self._converter is None:
            from runtree.sdk.media.rows import Converter

            self._converter = Converter()
        return self._converter(key, value)

    # -- identity ----------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self._record.id

    @property
    def uid(self) -> str:
        """The immutable run id: never changes, not on rename, move or rewind."""
        return self._record.uid

    storage_id = uid

    @property
    def entity(self) -> str:
        return self._record.entity

    @property
    def project(self) -> str:
        return self._record.project

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.id}"

    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._check_open("name")
        value = _check_text("run.name", value, MAX_NAME)
        if not value:
            raise UsageError("run.name must be a non-empty string, got ''")
        self._name = value
        self._writer.set_fields(name=value)

    display_name = name

    @property
    def notes(self) -> str | None:
        return self._notes

    @notes.setter
    def notes(self, value: str | None) -> None:
        self._check_open("notes")
        value = None if value is None else _check_text("run.notes", value, MAX_NOTES)
        self._notes = value
        self._writer.set_fields(notes=value)

    @property
    def tags(self) -> tuple[str, ...]:
        return self._tags

    @tags.setter
    def tags(self, value: Sequence[str]) -> None:
        self._check_open("tags")
        self._tags = _check_tags(value, "run.tags")
        self._writer.set_fields(tags=self._tags)

    def _check_open(self, what: str) -> None:
        if self._finished:
            raise UsageError(f"run {self.path} is finished; setting run.{what} after finish() is not stored")

    @property
    def group(self) -> str | None:
        return self._record.group

    @property
    def job_type(self) -> str | None:
        return self._record.job_type

    @property
    def step(self) -> int:
        """The step the next committed log() will get."""
        return self._counter.step

    @property
    def start_time(self) -> float:
        return self._start_time

    @property
    def mode(self) -> str:
        return self.settings.mode

    @property
    def offline(self) -> bool:
        return self.settings.mode == "offline"

    @property
    def disabled(self) -> bool:
        return self.settings.mode == "disabled"

    @property
    def dir(self) -> str:
        return str(Path(self.settings.dir or os.environ.get("RUNTREE_DIR") or "runtree").resolve())

    @property
    def url(self) -> str | None:
        """The run's page in the web UI: on its server, else on `runtree ui` (http://127.0.0.1:8765)."""
        return self.get_url()

    def get_url(self) -> str | None:
        return f"{self._ui_base()}/r/{self.uid}"

    @property
    def project_url(self) -> str | None:
        return self.get_project_url()

    def get_project_url(self) -> str | None:
        return f"{self._ui_base()}/p/{self.entity}/{self.project}"

    def project_name(self) -> str:
        return self.project

    def _ui_base(self) -> str:
        url = self._store.url if self._store is not None else ""
        if url.startswith(("http://", "https://")):
            return url.rstrip("/")
        return "http://127.0.0.1:8765"  # `runtree ui`'s default address (runtree.server.ui.DEFAULT_PORT)

    @property
    def forked_from(self) -> dict[str, Any] | None:
        """{'uid', 'step'} of the run this one was forked from, or None."""
        if self._record.parent_uid is None:
            return None
        return {"uid": self._record.parent_uid, "step": self._record.fork_step}

    @property
    def parent_uid(self) -> str | None:
        return self._record.parent_uid

    @property
    def fork_step(self) -> int | None:
        return self._record.fork_step

    @property
    def segments(self) -> list[Segment]:
        """The lineage segments making up this run's visible history."""
        return list(self._segments)

    # -- logging -----------------------------------------------------------------------------
    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None, sync: bool | None = None) -> None:
        """Log a dict of metrics at the current step (or `step`), as wandb.log does (`sync` is ignored, as in wandb)."""
        if self._finished:
            raise UsageError(f"run {self.path} is finished; log() after finish() is not stored")
        row = check_row(data, self._convert)
        if self._converter is not None and self._converter.found:
            self._writer.hold(self._converter.take_held())
        now = time.time()
        counter = self._counter
        if step is None and commit is None and not counter.pending:
            # The common case: one complete row per call.
            s = counter.step
            if s >= STEP_LIMIT:
                raise UsageError(f"log(): step {s} is beyond the largest step a run can hold ({STEP_LIMIT - 1})")
            row["_step"] = s
            row["_timestamp"] = now
            row["_runtime"] = now - self._t0
            self._writer.put(s, now, row)  # may refuse the row (text no store can hold): the step is not used up
            counter.step = s + 1
            return
        if step is not None:
            step = _check_step(step)
        row["_timestamp"] = now
        row["_runtime"] = now - self._t0
        committed = counter.log(row, step, commit)
        if committed is None:
            keys = sorted(k for k in row if not k.startswith("_"))
            warnings.warn(
                f"Tried to log to step {step} that is less than the current step {counter.step}; "
                f"keys {keys} were not logged. Steps must be monotonically increasing.",
                RuntreeWarning,
                stacklevel=2,
            )
            return
        for s, r in committed:
            r["_step"] = s
            self._writer.put(s, r["_timestamp"], r)

    def define_metric(
        self,
        name: str,
        step_metric: str | MetricDef | None = None,
        step_sync: bool | None = None,
        hidden: bool | None = None,
        summary: str | None = None,
        goal: str | None = None,
        overwrite: bool | None = None,
    ) -> MetricDef:
        """Declare how a metric (or a glob such as 'val/*') is summarised and which metric is its x axis."""
        if not isinstance(name, str) or not name:
            raise UsageError(f"define_metric() needs a metric name, got {name!r}")
        if name.endswith("*") and "*" in name[:-1]:
            raise UsageError(f"define_metric({name!r}): only a trailing '*' glob is supported")
        if isinstance(step_metric, MetricDef):
            step_metric = step_metric.name  # as wandb accepts a Metric
        if step_metric is not None and (not isinstance(step_metric, str) or not step_metric):
            raise UsageError(f"define_metric({name!r}, step_metric={step_metric!r}): step_metric must be a metric name")
        modes = parse_summary_modes(name, summary)
        d = MetricDef(name, step_metric, modes, bool(hidden), parse_goal(name, goal, modes))
        self._defs[name] = d
        with self._writer._lock:
            self._writer.summary.define(d)
        self._writer.set_fields(metric_defs={n: x.to_json() for n, x in self._defs.items()})
        return d

    # -- finishing ---------------------------------------------------------------------------
    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Store everything logged and mark the run finished (or failed, for a non-zero exit code)."""
        with self._lock:
            if self._finished:
                return
            self._finished = True
        for part in reversed(self._context):
            try:
                part.stop()
            except Exception as e:  # a broken sampler must not lose the run's history
                warnings.warn(f"runtree: stopping {type(part).__name__} failed: {e}", RuntreeWarning, stacklevel=2)
        if self._watched:
            self.unwatch()
        for pattern, base in self._saved:  # save(policy='live'|'end'): the files as they are at the end
            from runtree.sdk import compat

            compat.save_files(self, pattern, base, "now")
        for s, r in self._counter.flush():
            r["_step"] = s
            self._writer.put(s, r["_timestamp"], r)
        now = time.time()
        state = FINISHED if not exit_code else FAILED
        left = self._writer.close(state=state, exit_code=exit_code or 0, finished_at=now)
        if self._spool is not None:
            self._spool.finish(quiet=bool(quiet) or self.settings.silent)
        _forget(self)
        if left:
            raise DataNotStored(f"run {self.path}: not stored in {self._writer_url()}: {left.describe()}", left)

    def _writer_url(self) -> str:
        store = self._spool if self._spool is not None else self._store
        return str(getattr(store, "url", store))

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> Literal[False]:
        self.finish(exit_code=1 if exc_type is not None else 0)
        return False

    def __repr__(self) -> str:
        return f"<runtree.Run {self.path} uid={self.uid} name={self.name!r}>"

    # -- the rest of wandb's Run (runtree.sdk.compat) ------------------------------------------
    def mark_preempting(self) -> None:
        pass

    def save(self, glob_str: str | os.PathLike[str], base_path: str | os.PathLike[str] | None = None, policy: str = "live") -> list[str]:
        """Store the files matching glob_str with the run (named relative to base_path); again at finish unless policy='now'."""
        from runtree.sdk import compat

        return compat.save_files(self, glob_str, base_path, policy)

    def restore(self, name: str, run_path: str | None = None, replace: bool = False, root: str | None = None) -> Any:
        """A file stored with this run (or with run_path), written under root (the run's dir) and opened."""
        from runtree.sdk import compat

        return compat.restore(self, name, run_path, replace, root)

    def log_code(
        self,
        root: str | None = ".",
        name: str | None = None,
        include_fn: Any = None,
        exclude_fn: Any = None,
    ) -> None:
        """Store the source files under root (*.py unless include_fn says otherwise) as the run's files code/<path>."""
        from runtree.sdk import compat

        base = Path(root or ".")
        for p in compat.code_files(base, include_fn, exclude_fn):
            try:
                self._writer.put_file(f"code/{p.relative_to(base).as_posix()}", p.read_bytes())
            except OSError as e:
                warnings.warn(f"runtree: log_code could not read {p}: {e}", RuntreeWarning, stacklevel=2)

    def alert(self, title: str, text: str, level: Any = None, wait_duration: Any = None) -> None:
        """Record an alert with the run (alerts.json) and print it; runtree sends no e-mail or Slack message."""
        from runtree.sdk import compat

        compat.alert(self, title, text, level, wait_duration)

    def watch(
        self,
        models: Any,
        criterion: Any = None,
        log: str | None = "gradients",
        log_freq: int = 1000,
        idx: int | None = None,
        log_graph: bool = False,
    ) -> None:
        """Log histograms of torch models' gradients (and/or parameters) every log_freq backward passes."""
        from runtree.sdk import compat

        compat.watch(self, models, criterion, log, log_freq, idx, log_graph)

    def unwatch(self, models: Any = None) -> None:
        from runtree.sdk import compat

        compat.unwatch(self, models)

    def status(self) -> Any:
        """How much of what was logged is stored (RunStatus: sync_items_total, sync_items_pending, sync_time)."""
        from runtree.sdk import compat

        w = self._writer
        queued = getattr(w, "_queued", 0)
        pending = queued - getattr(w, "_written", queued)
        return compat.RunStatus(queued, pending, None)

    def log_artifact(self, *args: Any, **kwargs: Any) -> Any:
        from runtree.sdk import compat

        return compat.log_artifact(*args, **kwargs)

    def use_artifact(self, *args: Any, **kwargs: Any) -> Any:
        from runtree.sdk import compat

        return compat.use_artifact(*args, **kwargs)

    def log_model(self, *args: Any, **kwargs: Any) -> Any:
        from runtree.sdk import compat

        return compat.log_model(*args, **kwargs)

    def use_model(self, *args: Any, **kwargs: Any) -> Any:
        from runtree.sdk import compat

        return compat.use_model(*args, **kwargs)

    def link_model(self, *args: Any, **kwargs: Any) -> Any:
        from runtree.sdk import compat

        return compat.link_model(*args, **kwargs)


def _check_step(step: Any) -> int:
    try:
        import numpy as np

        if isinstance(step, np.integer):
            step = int(step)
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    if isinstance(step, bool) or not isinstance(step, int):
        if isinstance(step, float) and step.is_integer():
            return int(step)
        raise UsageError(f"log(step={step!r}): step must be a non-negative integer")
    if step < 0:
        raise UsageError(f"log(step={step}): step must be >= 0")
    if step >= STEP_LIMIT:
        raise UsageError(f"log(step={step}): steps go up to {STEP_LIMIT - 1} (2**62 - 1), the largest both stores can hold and read")
    return step


MAX_NAME = 1024  # characters of a run name
MAX_NOTES = 1 << 20  # characters of a run's notes
MAX_TAG = 256  # characters of one tag


def _check_text(what: str, value: Any, limit: int) -> str:
    """`value` if it is text every store can hold (no NUL, no lone surrogate, at most `limit` characters)."""
    if not isinstance(value, str):
        raise UsageError(f"{what} must be a string, got {type(value).__name__}: {value!r:.80}")
    if len(value) > limit:
        raise UsageError(f"{what} is {len(value)} characters long; at most {limit} are kept")
    if "\x00" in value:
        raise UsageError(f"{what} contains a NUL character, which no store can hold: {value!r:.80}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise UsageError(f"{what} contains a lone surrogate ({e.reason} at {e.start}), which no store can hold: {value!r:.80}") from None
    return value


# -- the process's runs -------------------------------------------------------------------------
_active: list[Run] = []
_current: Run | None = None
_state_lock = threading.RLock()


def current() -> Run | None:
    return _current


def _forget(run: Run) -> None:
    global _current
    with _state_lock:
        if run in _active:
            _active.remove(run)
        if _current is run:
            _current = None


def init(
    project: str | None = None,
    entity: str | None = None,
    *,
    config: Any = None,
    name: str | None = None,
    id: str | None = None,
    notes: str | None = None,
    tags: Sequence[str] | None = None,
    group: str | None = None,
    job_type: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    mode: str | None = None,
    resume: bool | str | None = None,
    resume_from: str | None = None,
    fork_from: str | None = None,
    reinit: bool | str | None = None,
    settings: Settings | Mapping[str, Any] | None = None,
    config_exclude_keys: Sequence[str] | None = None,
    config_include_keys: Sequence[str] | None = None,
    allow_val_change: bool | None = None,
    save_code: bool | None = None,
    anonymous: str | None = None,
    sync_tensorboard: bool | None = None,
    monitor_gym: bool | None = None,
    magic: Any = None,
    force: bool | None = None,
    tensorboard: bool | None = None,
) -> Run:
    """Start (or resume, fork, rewind) a run and make it the current one. Same arguments as wandb.init
    (`config` may also be the path of a YAML file, as in wandb; `magic`, `force` and `tensorboard` are accepted and ignored)."""
    global _current
    if isinstance(config, str | os.PathLike):
        config = _config_file(config)
    s = settings_mod.resolve(settings, dir=str(dir) if dir is not None else None, mode=mode, entity=entity, project=project)
    if run_id_env := os.environ.get("RUNTREE_RUN_ID") or os.environ.get("WANDB_RUN_ID"):
        id = id or run_id_env
    if resume is None and (env_resume := os.environ.get("RUNTREE_RESUME") or os.environ.get("WANDB_RESUME")):
        resume = env_resume
    with _state_lock:
        policy = _reinit_policy(reinit)
        live = [r for r in _active if not r._finished]
        if live and policy == "return_previous":
            return live[-1]
        if live and policy == "finish_previous":
            for r in list(live):
                r.finish()
        cfg = config_dict(config)
        if config_include_keys:
            cfg = {k: v for k, v in cfg.items() if k in config_include_keys}
        if config_exclude_keys:
            cfg = {k: v for k, v in cfg.items() if k not in config_exclude_keys}
        url = s.store_url or default_store_url(s.dir)
        if s.mode == "offline" and is_server_url(url):
            url = default_store_url(s.dir)  # offline: the local store only; `runtree sync` uploads it
        who: dict[str, Any] | None = None
        if s.mode != "disabled" and is_server_url(url):
            from runtree.sdk import spool as spool_mod

            who = spool_mod.probe(url)  # a refused key raises here; None: the server is down, spool at once
        entity = s.entity or (who or {}).get("default_entity") or default_entity()
        req = start_mod.Request(
            entity=ids.validate_scope_name("entity", entity),
            project=ids.validate_scope_name("project", s.project or DEFAULT_PROJECT),
            id=id,
            name=None if name is None else _check_text("name", name, MAX_NAME),
            config=cfg,
            tags=_check_tags(tags),
            notes=None if notes is None else _check_text("notes", notes, MAX_NOTES),
            group=None if group is None else _check_text("group", group, MAX_NAME),
            job_type=None if job_type is None else _check_text("job_type", job_type, MAX_NAME),
            resume=start_mod.normalize_resume(resume),
            fork_from=fork_from,
            resume_from=resume_from,
        )
        if s.mode == "disabled":
            start_mod.check_options(req)
            run = Run(s, None, _disabled_start(req))
        else:
            store = open_store(url)
            if is_server_url(url):
                from runtree.sdk import spool as spool_mod

                if who:
                    spool_mod.check_entity(url, who, req.entity)
                start, spool = spool_mod.open_run(store, url, req, _read_last_run(s), _run_dir(s) / "spool", reachable=who is not None)
                run = Run(s, store, start, spool)
            else:
                start = start_mod.open_run(store, req, _read_last_run(s))
                run = Run(s, store, start)
            _write_last_run(s, run)
            _attach_context(run)
        _active.append(run)
        if policy != "create_new":
            _current = run
        return run


def _config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A config YAML file as wandb reads one: `key: value`, or wandb's `key: {value: v, desc: ...}` form."""
    try:
        import yaml
    except ImportError as e:  # pragma: no cover - PyYAML comes with uvicorn[standard]
        raise UsageError(f"init(config={os.fspath(path)!r}): reading a YAML config needs PyYAML (pip install pyyaml)") from e
    try:
        with open(path) as f:
            data = yaml.safe_load(f) or {}
    except OSError as e:
        raise UsageError(f"init(config={os.fspath(path)!r}): cannot read the config file: {e}") from e
    except yaml.YAMLError as e:
        raise UsageError(f"init(config={os.fspath(path)!r}): not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise UsageError(f"init(config={os.fspath(path)!r}): the file must hold a mapping of keys to values")
    out: dict[str, Any] = {}
    for k, v in data.items():
        if k == "wandb_version" or str(k).startswith("_wandb"):
            continue
        out[str(k)] = v["value"] if isinstance(v, dict) and "value" in v else v
    return out


def _reinit_policy(reinit: bool | str | None) -> str:
    if reinit is None or reinit == "default":
        return "return_previous"
    if reinit is True:
        return "finish_previous"
    if reinit is False:
        return "return_previous"
    if reinit in ("return_previous", "finish_previous", "create_new"):
        return str(reinit)
    raise UsageError(f"reinit={reinit!r} is not valid; allowed: 'default', 'return_previous', 'finish_previous', 'create_new'")


def _check_tags(tags: Sequence[str] | None, what: str = "tags") -> tuple[str, ...]:
    if tags is None:
        return ()
    if isinstance(tags, str) or not isinstance(tags, Sequence | set | frozenset) or not all(isinstance(t, str) and t for t in tags):
        raise UsageError(f"{what} must be a list of non-empty strings, got {tags!r:.200}")
    return tuple(_check_text(f"{what} entry", t, MAX_TAG) for t in tags)


def _disabled_start(req: start_mod.Request) -> start_mod.Start:
    from runtree.domain.records import RunRecord

    uid = ids.make_uid()
    rec = RunRecord(
        uid=uid,
        entity=req.entity,
        project=req.project,
        id=req.id or ids.make_id(),
        name=req.name or "disabled-run",
        config=req.config,
        tags=req.tags,
        notes=req.notes,
    )
    return start_mod.Start(rec, [Segment(uid, 0, 0)], 0, 0.0, None)


def _run_dir(s: Settings) -> Path:
    return Path(s.dir or os.environ.get("RUNTREE_DIR") or "runtree")


def _read_last_run(s: Settings) -> str | None:
    try:
        return str(json.loads((_run_dir(s) / _LAST_RUN_FILE).read_text())["id"])
    except (OSError, ValueError, KeyError):
        return None


def _write_last_run(s: Settings, run: Run) -> None:
    try:
        (_run_dir(s) / _LAST_RUN_FILE).write_text(json.dumps({"id": run.id, "uid": run.uid, "path": run.path}))
    except OSError:
        pass


def _attach_context(run: Run) -> None:
    """Start what runs beside the training loop (system sampler, console capture); finish() stops them."""
    from runtree.sdk import context

    run._context.extend(context.start(run, run._writer))


# -- interpreter exit: finish what the user did not -----------------------------------------------
_uncaught: list[BaseException] = []
_previous_excepthook = sys.excepthook


def _excepthook(tp: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    _uncaught.append(value)
    _previous_excepthook(tp, value, tb)


sys.excepthook = _excepthook


@atexit.register
def _finish_all() -> None:
    code = 1 if _uncaught else 0
    lost = False
    for run in list(_active):
        try:
            run.finish(exit_code=code)
        except DataNotStored as e:
            lost = True
            print(f"runtree: {e}", file=sys.stderr)
        except Exception as e:  # pragma: no cover - nothing to raise to at exit
            print(f"runtree: could not finish run {run.path}: {e}", file=sys.stderr)
    if lost:
        # Logged data was not stored: the process must not exit 0 as if all were well. An atexit handler
        # cannot change the exit status otherwise; runtree's runs with its import, so after most others.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(DATA_NOT_STORED_EXIT)
