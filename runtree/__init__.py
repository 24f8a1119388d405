"""runtree: an experiment tracker whose runs form a tree. `import runtree as wandb` runs wandb code unchanged.

run = runtree.init(project="mnist", config={"lr": 1e-3})
run.log({"loss": 0.5})
run.finish()
child = runtree.init(project="mnist", fork_from=f"{run.id}?_step=200")
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runtree.errors import (
    BadForkSpec,
    ConfigError,
    ConflictingOptions,
    NoSuchFile,
    NoSuchRun,
    RunExists,
    RunIsActive,
    RuntreeError,
    RuntreeWarning,
    StepNotMonotonic,
    StepOutOfRange,
    StoreError,
    UsageError,
)
from runtree.sdk import run as _run_mod
from runtree.sdk.run import Run, init
from runtree.sdk.settings import Settings

if TYPE_CHECKING:
    from runtree.api import Api

__version__ = "0.1.0"

__all__ = [
    "Api",
    "BadForkSpec",
    "ConfigError",
    "ConflictingOptions",
    "NoSuchFile",
    "NoSuchRun",
    "Run",
    "RunExists",
    "RunIsActive",
    "RuntreeError",
    "RuntreeWarning",
    "Settings",
    "StepNotMonotonic",
    "StepOutOfRange",
    "StoreError",
    "UsageError",
    "__version__",
    "config",
    "define_metric",
    "finish",
    "init",
    "log",
    "run",
    "summary",
]

# Public names imported on first use, so `import runtree; runtree.init(); run.log()` loads no pandas, numpy,
# Pillow or server code: name -> (module, attribute; None for the module itself). A new heavy public name is one
# entry here; tests/unit/test_light_import.py pins what `import runtree` loads.
_COMPAT = "runtree.sdk.compat"
_MEDIA = "runtree.sdk.media"
_LAZY: dict[str, tuple[str, str | None]] = {
    "Api": ("runtree.api", "Api"),
    **{n: (_MEDIA, n) for n in ("Image", "Table", "Histogram", "Audio", "Video", "Html", "Object3D", "Molecule", "Plotly")},
    "plot": ("runtree.sdk.media.plot", None),
    "Error": ("runtree.errors", "RuntreeError"),
    "restore": (_COMPAT, "restore_file"),
    "alert": (_COMPAT, "alert_current"),
    "watch": (_COMPAT, "watch_current"),
    "unwatch": (_COMPAT, "unwatch_current"),
    **{
        n: (_COMPAT, n)
        for n in (
            "login", "save", "AlertLevel", "log_artifact", "use_artifact", "log_model", "use_model", "link_model", "Artifact",
            "setup", "teardown", "require", "mark_preempting", "util", "termlog", "termwarn", "termerror", "sweep", "agent", "controller",
        )
    },
}


def _require_run(what: str) -> Run:
    run = _run_mod.current()
    if run is None:
        raise UsageError(f"You must call runtree.init() before runtree.{what}()")
    return run


def log(data: Mapping[str, Any], step: int | None = None, commit: bool | None = None, sync: bool | None = None) -> None:
    """Log to the current run (see Run.log)."""
    _require_run("log").log(data, step=step, commit=commit)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the current run, if any."""
    run = _run_mod.current()
    if run is not None:
        run.finish(exit_code=exit_code)


def define_metric(
    name: str,
    step_metric: str | None = None,
    step_sync: bool | None = None,
    hidden: bool | None = None,
    summary: str | None = None,
    goal: str | None = None,
    overwrite: bool | None = None,
) -> Any:
    """define_metric on the current run (see Run.define_metric)."""
    return _require_run("define_metric").define_metric(
        name, step_metric=step_metric, step_sync=step_sync, hidden=hidden, summary=summary, goal=goal, overwrite=overwrite
    )


class _PreInit:
    """What runtree.config / runtree.summary are before init(): any use says to call init() first."""

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    _name: str

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise UsageError(f"You must call runtree.init() before using runtree.{object.__getattribute__(self, '_name')}")

    __getitem__ = __setitem__ = __getattr__ = __setattr__ = __contains__ = __iter__ = __len__ = _fail
    update = keys = items = get = _fail


def __getattr__(name: str) -> Any:
    # runtree.run / runtree.config / runtree.summary follow the current run, as wandb.run etc. do.
    if name in ("run", "config", "summary"):
        run = _run_mod.current()
        if name == "run":
            return run
        return _PreInit(name) if run is None else getattr(run, name)
    lazy = _LAZY.get(name)
    if lazy is not None:
        module = importlib.import_module(lazy[0])
        value = module if lazy[1] is None else getattr(module, lazy[1])
        globals()[name] = value  # later lookups find it without this hook
        return value
    raise AttributeError(f"module 'runtree' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, "run", "config", "summary"})
