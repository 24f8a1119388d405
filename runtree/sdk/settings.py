"""Settings: arguments > environment (RUNTREE_*, then WANDB_*) > defaults, resolved once into a frozen Settings."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from runtree.errors import UsageError
from runtree.store import resolve_store_url

MODES = ("online", "offline", "disabled")


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know about where and how to log. Pass to init(settings=...) as this or a dict."""

    dir: str | None = None  # RUNTREE_DIR: the embedded store lives in <dir>/runtree.db; a server run's spool too
    store_url: str | None = None  # the store, by runtree.store.resolve_store_url's rule (RUNTREE_STORE_URL, RUNTREE_BASE_URL, ...)
    mode: str = "online"
    entity: str | None = None  # None: the API key's entity on a server, else runtree.store.default_entity()
    project: str | None = None
    flush_interval: float = 0.2  # seconds between writer flushes: the most a kill -9 can lose
    max_queue_bytes: int = 256 << 20  # RUNTREE_MAX_QUEUE_BYTES: logged data not yet stored before log() waits
    max_backlog: float = 2.0  # RUNTREE_MAX_BACKLOG: seconds of the store's measured rate log() may be ahead
    finish_timeout: float = 30.0  # RUNTREE_FINISH_TIMEOUT: how long finish() retries a failing store before it raises
    heartbeat_interval: float = 5.0
    system_sample_interval: float = 10.0  # RUNTREE_SYSTEM_SAMPLE_INTERVAL; 0 turns the sampler off
    console: str = "auto"  # "auto" tees stdout/stderr into the run's log; "off" does not
    silent: bool = False

    def with_updates(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


_ENV = {
    "dir": ("RUNTREE_DIR", "WANDB_DIR"),
    "mode": ("RUNTREE_MODE", "WANDB_MODE"),
    "entity": ("RUNTREE_ENTITY", "WANDB_ENTITY"),
    "project": ("RUNTREE_PROJECT", "WANDB_PROJECT"),
    "system_sample_interval": ("RUNTREE_SYSTEM_SAMPLE_INTERVAL",),
    "max_queue_bytes": ("RUNTREE_MAX_QUEUE_BYTES",),
    "max_backlog": ("RUNTREE_MAX_BACKLOG",),
    "finish_timeout": ("RUNTREE_FINISH_TIMEOUT",),
    "console": ("RUNTREE_CONSOLE", "WANDB_CONSOLE"),
    "silent": ("RUNTREE_SILENT", "WANDB_SILENT"),
}
_FIELDS = {f.name: f for f in fields(Settings)}
# wandb.Settings fields that code written for wandb passes; they mean nothing here and are ignored quietly.
_WANDB_ONLY = {
    "start_method",
    "init_timeout",
    "_disable_stats",
    "_disable_meta",
    "disable_git",
    "disable_code",
    "save_code",
    "code_dir",
    "anonymous",
    "api_key",
    "base_url",
    "show_info",
    "show_warnings",
    "show_errors",
    "quiet",
    "x_disable_stats",
    "x_disable_meta",
    "_service_wait",
    "program",
    "root_dir",
    "reinit",
    "sync_tensorboard",
    "x_label",
    "x_primary",
    "x_update_finish_state",
    "disable_job_creation",
    "x_stats_sampling_interval",
    "allow_val_change",
    "resume",
    "run_id",
    "run_name",
    "run_notes",
    "run_tags",
    "run_group",
    "run_job_type",
    "files_dir",
    "log_dir",
    "console_multipart",
    "x_file_stream_timeout_seconds",
}


def _coerce(name: str, value: Any) -> Any:
    f = _FIELDS[name]
    kind = str(f.type)
    try:
        if "float" in kind:
            v = float(value)
            if v < 0:
                raise ValueError
            return v
        if kind == "int":
            return int(value)
        if kind == "bool":
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
    except (TypeError, ValueError):
        raise UsageError(f"setting {name}={value!r} is not valid: expected a non-negative {kind}") from None
    return value


def _as_mapping(settings: Settings | Mapping[str, Any] | Any | None) -> dict[str, Any]:
    if settings is None:
        return {}
    if isinstance(settings, Settings):
        return {f: getattr(settings, f) for f in _FIELDS if getattr(settings, f) != _FIELDS[f].default}
    if isinstance(settings, Mapping):
        return dict(settings)
    if hasattr(settings, "__dict__"):
        return {k: v for k, v in vars(settings).items() if not k.startswith("__")}
    raise UsageError(f"settings must be a runtree.Settings or a dict, got {type(settings).__name__}")


def resolve(settings: Settings | Mapping[str, Any] | None = None, **args: Any) -> Settings:
    """Build the Settings of one init call: explicit arguments beat `settings`, which beat the environment."""
    values: dict[str, Any] = {}
    for name, names in _ENV.items():
        for env in names:
            if os.environ.get(env):
                values[name] = os.environ[env]
                break
    for key, val in _as_mapping(settings).items():
        if key in _FIELDS:
            values[key] = val
        elif key in _WANDB_ONLY or key.startswith("x_") or key.startswith("_"):
            continue
        else:
            warnings.warn(f"runtree ignores the unknown setting {key!r}", stacklevel=3)
    for key, val in args.items():
        if val is not None:
            values[key] = val
    explicit = {**_as_mapping(settings), **{k: v for k, v in args.items() if v is not None}}
    # The one rule (runtree.store.resolve_store_url): a URL or dir given in code first, then the environment.
    values["store_url"] = resolve_store_url(explicit.get("store_url"), explicit.get("dir"))
    out = {k: _coerce(k, v) for k, v in values.items()}
    mode = out.get("mode", "online")
    if mode == "dryrun":
        mode = "offline"
    if mode not in MODES:
        raise UsageError(f"mode={mode!r} is not valid; allowed: {', '.join(MODES)}")
    out["mode"] = mode
    if out.get("console", "auto") not in ("auto", "off", "wrap", "redirect"):
        raise UsageError(f"console={out['console']!r} is not valid; allowed: 'auto', 'off'")
    return Settings(**out)
