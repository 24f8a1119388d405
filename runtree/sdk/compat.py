"""The rest of the surface a wandb user calls: login, save/restore, alert, watch, term*, artifacts' and sweeps'
names (which say what to use instead), each with wandb's signature and acting on the current run."""

from __future__ import annotations

import enum
import glob as globlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from runtree.domain import ids
from runtree.errors import UsageError

if TYPE_CHECKING:
    from runtree.sdk.run import Run

ISSUE_ARTIFACTS = "artifacts come with runtree's issue 11; until then run.save(path) stores a file with the run"
MAX_CODE_FILES = 1000
MAX_FILE_BYTES = 64 << 20


class AlertLevel(enum.StrEnum):
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


@dataclass(frozen=True)
class RunStatus:
    """What run.status() returns: how much of what was logged is stored yet."""

    sync_items_total: int = 0
    sync_items_pending: int = 0
    sync_time: datetime | None = None


def _current(what: str) -> Run:
    from runtree.sdk import run as run_mod

    run = run_mod.current()
    if run is None:
        raise UsageError(f"You must call runtree.init() before runtree.{what}()")
    return run


# -- terminal -------------------------------------------------------------------------------------
_said: set[str] = set()


def _term(prefix: str, string: str, newline: bool, repeat: bool, show_prefix: bool) -> None:
    if not repeat:
        if string in _said:
            return
        _said.add(string)
    text = "\n".join(f"{prefix}{line}" if show_prefix else line for line in str(string).split("\n"))
    print(text, end="\n" if newline else "", file=sys.stderr)


def termlog(string: str = "", newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    _term("runtree: ", string, newline, repeat, prefix)


def termwarn(string: str, newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    _term("runtree: WARNING ", string, newline, repeat, prefix)


def termerror(string: str, newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    _term("runtree: ERROR ", string, newline, repeat, prefix)


# -- login, setup ----------------------------------------------------------------------------------
def login(
    key: str | None = None,
    relogin: bool | None = None,
    host: str | None = None,
    force: bool | None = None,
    timeout: int | None = None,
    verify: bool = True,
    referrer: str | None = None,
    prompt: bool = True,
    anonymous: Any = None,
) -> bool:
    """With host (and key): store them as `runtree login HOST --key KEY` does. Without: True (the local store
    needs no login; a server's key comes from $RUNTREE_API_KEY or an earlier login)."""
    from runtree.store import write_user_config

    if host is None:
        if key is not None:
            os.environ["RUNTREE_API_KEY"] = key  # this process only, as wandb.login(key=...) without a host
        return True
    if not host.startswith(("http://", "https://")):
        raise UsageError(f"login(host={host!r}): give the server's URL, starting with http:// or https://")
    write_user_config(base_url=host.rstrip("/"), api_key=key or os.environ.get("RUNTREE_API_KEY") or "")
    return True


class _Setup:
    """What setup() returns; runtree keeps no service process, so there is nothing to hold."""

    def __init__(self, settings: Any = None) -> None:
        self.settings = settings


def setup(settings: Any = None) -> _Setup:
    return _Setup(settings)


def require(requirement: str | None = None, experiment: str | None = None) -> None:
    """wandb.require("core"/"service"/...): wandb's backend choices; runtree has one, so nothing to switch."""


def teardown(exit_code: int | None = None) -> None:
    """Finish every run of this process (wandb.teardown)."""
    from runtree.sdk import run as run_mod

    for run in list(run_mod._active):
        run.finish(exit_code=exit_code)


def generate_id(length: int = 8) -> str:
    """A random run id of lowercase letters and digits (wandb.util.generate_id)."""
    import secrets

    return ids.make_id() if length == 8 else "".join(secrets.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(length))


# -- files -----------------------------------------------------------------------------------------
def save_files(run: Run, glob_str: str | os.PathLike[str], base_path: str | os.PathLike[str] | None, policy: str) -> list[str]:
    """Store the files matching `glob_str` with the run, named relative to `base_path`; their names."""
    if policy not in ("live", "end", "now"):
        raise UsageError(f"save(policy={policy!r}): allowed: 'live', 'end', 'now'")
    pattern = os.fspath(glob_str)
    if base_path is None:
        base = Path(pattern).parent if not globlib.has_magic(str(Path(pattern).parent)) else Path(".")
    else:
        base = Path(base_path)
    names: list[str] = []
    for p in sorted(globlib.glob(pattern, recursive=True)):
        path = Path(p)
        if not path.is_file():
            continue
        try:
            rel = path.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            rel = path.name
        if path.stat().st_size > MAX_FILE_BYTES:
            termwarn(f"save(): {p} is over {MAX_FILE_BYTES >> 20} MiB and was not stored")
            continue
        run._writer.put_file(rel, path.read_bytes())
        names.append(rel)
    if policy in ("live", "end"):
        run._saved.append((pattern, os.fspath(base)))  # stored again at finish(), as it is then
    return names


def restore(run: Run | None, name: str, run_path: str | None, replace: bool, root: str | None) -> IO[str] | None:
    """Fetch file `name` of this run (or of run_path) into `root` (the run's dir); the open file."""
    from runtree.store import default_entity, open_store

    if run_path is not None:
        store = run._store if run is not None and run._store is not None else open_store()
        parts = run_path.replace("/runs/", "/").strip("/").split("/")
        if len(parts) not in (2, 3):
            raise UsageError(f"restore(run_path={run_path!r}): give 'entity/project/id' or 'project/id'")
        entity, project, rid = parts if len(parts) == 3 else (default_entity(), *parts)
        rec = store.find_run(entity, project, rid)
        if rec is None:
            raise UsageError(f"restore(run_path={run_path!r}): no such run in {store.url}")
        data = store.read_file(rec.uid, name)
    elif run is not None:
        run._writer.sync()
        data = run._store.read_file(run.uid, name) if run._store is not None else b""
    else:
        raise UsageError("restore() needs run_path=... when no run is active")
    target = Path(root or (run.dir if run is not None else ".")) / name
    if target.exists() and not replace:
        return target.open()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target.open()


def code_files(root: str | os.PathLike[str], include_fn: Callable[..., bool] | None, exclude_fn: Callable[..., bool] | None) -> list[Path]:
    """The source files log_code stores: *.py under root, without virtualenvs, .git, caches and site-packages."""
    skip = {".git", ".venv", "venv", "env", "node_modules", "__pycache__", "site-packages", "wandb", "runtree", ".tox", ".mypy_cache"}
    out: list[Path] = []
    rootp = Path(root)
    for dirpath, dirnames, filenames in os.walk(rootp):
        dirnames[:] = sorted(d for d in dirnames if d not in skip and not d.startswith("."))
        for f in sorted(filenames):
            p = Path(dirpath) / f
            keep = include_fn(str(p), str(rootp)) if include_fn is not None else f.endswith(".py")
            if keep and not (exclude_fn is not None and exclude_fn(str(p), str(rootp))):
                out.append(p)
                if len(out) >= MAX_CODE_FILES:
                    return out
    return out


# -- alerts ----------------------------------------------------------------------------------------
def alert(run: Run, title: str, text: str, level: str | AlertLevel | None, wait_duration: int | float | timedelta | None) -> None:
    """Record an alert with the run (its file alerts.json) and say it on stderr; runtree sends no e-mail or Slack message."""
    lvl = AlertLevel(level.value if isinstance(level, AlertLevel) else (level or "INFO").upper())
    if isinstance(wait_duration, timedelta):
        wait_duration = wait_duration.total_seconds()
    now = time.time()
    last = run._alert_times.get(title)
    if wait_duration and last is not None and now - last < float(wait_duration):
        return  # wandb: the same title within wait_duration is not sent again
    run._alert_times[title] = now
    run._alerts.append({"title": str(title), "text": str(text), "level": lvl.value, "step": run.step, "time": now})
    run._writer.put_file("alerts.json", json.dumps(run._alerts, indent=1).encode())
    termwarn(f"alert [{lvl.value}] {title}: {text}")


# -- watch: gradient and parameter histograms of torch modules -------------------------------------
def watch(run: Run, models: Any, criterion: Any, log: str | None, log_freq: int, idx: int | None, log_graph: bool) -> None:
    """Log histograms of the models' gradients and/or parameters every `log_freq` backward passes (as wandb.watch)."""
    if log not in ("gradients", "parameters", "all", None):
        raise UsageError(f"watch(log={log!r}): allowed: 'gradients', 'parameters', 'all' or None")
    from runtree.sdk.media.table import Histogram

    mods = models if isinstance(models, Sequence) else [models]
    for i, model in enumerate(mods):
        if not hasattr(model, "named_parameters"):
            raise UsageError(f"watch() takes torch.nn.Module objects, got {type(model).__name__}")
        prefix = "" if len(mods) == 1 and idx is None else f"graph_{idx if idx is not None else i}/"
        handles = [
            param.register_hook(_grad_hook(run, name, param, prefix, log, log_freq, Histogram))
            for name, param in model.named_parameters()
            if getattr(param, "requires_grad", False)
        ]
        run._watched.append((model, handles))


def _grad_hook(run: Run, name: str, param: Any, prefix: str, log: str | None, log_freq: int, histogram: Any) -> Callable[[Any], None]:
    """The backward hook of one parameter: every log_freq-th gradient, its histogram (and the parameter's) into the next row."""
    calls = 0

    def hook(grad: Any) -> None:
        nonlocal calls
        calls += 1
        if calls % max(1, log_freq) or run._finished:
            return
        row: dict[str, Any] = {}
        if log in ("gradients", "all"):
            row[f"{prefix}gradients/{name}"] = histogram(grad.detach().float().cpu().numpy(), num_bins=64)
        if log in ("parameters", "all"):
            row[f"{prefix}parameters/{name}"] = histogram(param.detach().float().cpu().numpy(), num_bins=64)
        if row:
            run.log(row, commit=False)  # as wandb: merged into the step the training loop commits

    return hook


def unwatch(run: Run, models: Any) -> None:
    keep = []
    mods = None if models is None else (models if isinstance(models, Sequence) else [models])
    for model, handles in run._watched:
        if mods is None or any(model is m for m in mods):
            for h in handles:
                h.remove()
        else:
            keep.append((model, handles))
    run._watched[:] = keep


# -- what runtree does not do (yet): each says what to use instead ---------------------------------
class Artifact:
    """wandb.Artifact: not in runtree yet (issue 11)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(f"runtree.Artifact: {ISSUE_ARTIFACTS}")


def _no_artifacts(name: str) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"runtree.{name}(): {ISSUE_ARTIFACTS}")

    fail.__name__ = name
    return fail


log_artifact = _no_artifacts("log_artifact")
use_artifact = _no_artifacts("use_artifact")
log_model = _no_artifacts("log_model")
use_model = _no_artifacts("use_model")
link_model = _no_artifacts("link_model")

_NO_SWEEPS = (
    "runtree has no sweep server: drive the search yourself (a loop, or Optuna/Ray Tune) and call runtree.init(config=...) "
    "per trial; to branch a promising trial, runtree.init(fork_from=f'{run.id}?_step=N', config=...)"
)


def sweep(sweep: Any, entity: str | None = None, project: str | None = None, prior_runs: list[str] | None = None) -> str:
    raise NotImplementedError(f"runtree.sweep(): {_NO_SWEEPS}")


def agent(
    sweep_id: str,
    function: Callable[..., Any] | None = None,
    entity: str | None = None,
    project: str | None = None,
    count: int | None = None,
    **kwargs: Any,
) -> None:
    raise NotImplementedError(f"runtree.agent(): {_NO_SWEEPS}")


def controller(sweep_id_or_config: Any = None, entity: str | None = None, project: str | None = None) -> Any:
    raise NotImplementedError(f"runtree.controller(): {_NO_SWEEPS}")


# -- module-level forms of the run's methods --------------------------------------------------------
def save(
    glob_str: str | os.PathLike[str] | None = None, base_path: str | os.PathLike[str] | None = None, policy: str = "live"
) -> bool | list[str]:
    if glob_str is None:
        return False
    return _current("save").save(glob_str, base_path, policy)


def restore_file(name: str, run_path: str | None = None, replace: bool = False, root: str | None = None) -> IO[str] | None:
    from runtree.sdk import run as run_mod

    return restore(run_mod.current(), name, run_path, replace, root)


def alert_current(
    title: str, text: str, level: str | AlertLevel | None = None, wait_duration: int | float | timedelta | None = None
) -> None:
    _current("alert").alert(title, text, level, wait_duration)


def watch_current(
    models: Any, criterion: Any = None, log: str | None = "gradients", log_freq: int = 1000, idx: int | None = None, log_graph: bool = False
) -> None:
    _current("watch").watch(models, criterion, log, log_freq, idx, log_graph)


def unwatch_current(models: Any = None) -> None:
    _current("unwatch").unwatch(models)


def mark_preempting() -> None:
    _current("mark_preempting").mark_preempting()


class _Util:
    """runtree.util: the helpers of wandb.util that scripts call."""

    generate_id = staticmethod(generate_id)


util = _Util()
