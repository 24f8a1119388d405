"""W&B's wire formats as runtree values: config with its `_wandb` entry, metric definitions, row values, console lines.

Pure functions over what the wandb client (0.31, its Go core) sends: shared by the server's W&B endpoints and
by anything else that reads W&B data. Observed on the real client:

- config is `{"key": {"value": v, "desc": ...}, ..., "_wandb": {"value": {"t": telemetry, "m": [metric defs],
  "e": {writer id: environment}, "branch_point": {"run_id": id, "step": N}, "cli_version": ...}}}`.
- a metric definition in `_wandb.m` is a MetricRecord as a dict keyed by protobuf field numbers:
  `{"1": name, "4": step metric, "5": 1-based index of the step metric in the list, "6": [option fields set],
  "7": [summary fields set], "8": goal}` (options: 1 step_sync, 2 hidden, 3 defined; summary: 1 min, 2 max,
  3 mean, 4 best, 5 last, 6 none, 7 copy, 8 first; goal: 1 minimize, 2 maximize).
- history rows and the summary are JSON objects in which a logged `{"d": {"x": 1}}` stays nested; runtree
  flattens it to `d.x`. Media objects (`{"_type": "image-file", "path": "media/images/...png", ...}`, the
  file uploaded as a run file) and lists are kept as values, exactly.
- console lines are `[ERROR ]<UTC time, microseconds, no zone> <text>` ("ERROR " marks stderr).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from runtree.domain.summary import MetricDef

WANDB_KEY = "_wandb"
SPECIAL_KEYS = ("_step", "_runtime", "_timestamp")
_SUMMARY_FIELDS = {1: "min", 2: "max", 3: "mean", 8: "first", 5: "last", 6: "none"}  # in the order runtree lists modes
_BEST, _COPY = 4, 7
_HIDDEN, _DEFINED = 2, 3
GOAL_MAXIMIZE = 2
_LINE_RE = re.compile(r"^(ERROR )?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?)(?: |$)")


def split_config(config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """W&B's config -> (the user's config, the `_wandb` entry). Each entry's value is unwrapped from {"value": v}."""
    user: dict[str, Any] = {}
    wandb: dict[str, Any] = {}
    for key, entry in config.items():
        value = entry.get("value") if isinstance(entry, Mapping) and "value" in entry else entry
        if key == WANDB_KEY:
            wandb = dict(value) if isinstance(value, Mapping) else {}
        else:
            user[key] = value
    return user, wandb


def wrap_config(user: Mapping[str, Any], wandb: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The user's config (and a `_wandb` entry) in W&B's shape, {"key": {"value": v}}."""
    out: dict[str, Any] = {k: {"value": v} for k, v in user.items()}
    if wandb:
        out[WANDB_KEY] = {"value": dict(wandb)}
    return out


def branch_point(wandb: Mapping[str, Any]) -> tuple[str, int] | None:
    """(run id, step) of `_wandb.branch_point`, the fork (or rewind) a run was started from; None without one."""
    bp = wandb.get("branch_point")
    if not isinstance(bp, Mapping):
        return None
    run_id, step = bp.get("run_id"), bp.get("step")
    if not isinstance(run_id, str) or not run_id or not isinstance(step, int | float) or isinstance(step, bool):
        return None
    return run_id, int(step)


def environment(wandb: Mapping[str, Any]) -> dict[str, Any]:
    """`_wandb.e` (the environment of the writing process) as runtree's run metadata: host, os, python, ..."""
    envs = wandb.get("e")
    env = next(iter(envs.values()), None) if isinstance(envs, Mapping) else None
    if not isinstance(env, Mapping):
        return {}
    out = {k: env[k] for k in ("host", "os", "executable", "program", "args", "startedAt", "cpu_count_logical") if k in env}
    if isinstance(env.get("python"), str):
        out["python"] = env["python"].split()[-1]  # "CPython 3.11.7" -> "3.11.7", as runtree records it
    git = env.get("git")
    if isinstance(git, Mapping) and (git.get("commit") or git.get("remote")):
        out["git"] = {k: git[k] for k in ("remote", "commit") if git.get(k)}
    return out


def _field_set(value: Any) -> set[int]:
    return {int(x) for x in value if isinstance(x, int | float) and not isinstance(x, bool)} if isinstance(value, list) else set()


def summary_modes(fields: Iterable[int], goal: int = 0) -> tuple[str, ...]:
    """runtree's summary modes for a MetricSummary's set fields: best is min or max by the goal, copy is last."""
    got = set(fields)
    modes = [mode for num, mode in _SUMMARY_FIELDS.items() if num in got]
    if _BEST in got:
        modes.append("max" if goal == GOAL_MAXIMIZE else "min")
    if _COPY in got:
        modes.append("last")
    return tuple(dict.fromkeys(modes))


def metric_defs(encoded: Any) -> dict[str, dict[str, Any]]:
    """`_wandb.m` (a list of encoded MetricRecords) -> runtree metric_defs {name: MetricDef json}.

    Entries the client added only as the step of another metric (nothing defined on them) are left out, as a
    runtree run does not record them either.
    """
    if not isinstance(encoded, list):
        return {}
    names = [e.get("1") or e.get("2") if isinstance(e, Mapping) else None for e in encoded]
    out: dict[str, dict[str, Any]] = {}
    for entry, name in zip(encoded, names, strict=True):
        if not isinstance(entry, Mapping) or not isinstance(name, str) or not name:
            continue
        step = entry.get("4") if isinstance(entry.get("4"), str) and entry.get("4") else None
        index = entry.get("5")
        if step is None and isinstance(index, int) and 1 <= index <= len(names) and isinstance(names[index - 1], str):
            step = names[index - 1]
        options = _field_set(entry.get("6"))
        goal = entry.get("8")
        modes = summary_modes(_field_set(entry.get("7")), goal if isinstance(goal, int) else 0)
        hidden = _HIDDEN in options
        if not (_DEFINED in options or step or modes or hidden):
            continue
        out[name] = MetricDef(name, step, modes, hidden).to_json()
    return out


def flatten_value(key: str, value: Any, out: dict[str, Any], left_out: dict[str, int] | None = None) -> None:
    """Put `value` into `out` as runtree values: plain dicts flattened to dotted keys; scalars, lists and W&B
    media objects (`{"_type": ...}`, whose `path` names the run file holding the media) kept as they are.
    `left_out` is kept for callers that count what was dropped: nothing is, any more."""
    if isinstance(value, dict) and not isinstance(value.get("_type"), str):
        for k, v in value.items():
            flatten_value(f"{key}.{k}", v, out, left_out)
    else:
        out[key] = value


def flatten_row(row: Mapping[str, Any], left_out: dict[str, int] | None = None) -> dict[str, Any]:
    """A W&B history row (or system-metrics line) as a runtree row: nested dicts flattened, media and lists kept."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, dict):
            flatten_value(k, v, out, left_out)
        else:
            out[k] = v
    return out


def flatten_summary(summary: Mapping[str, Any], defs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """W&B's summary as runtree's: `_wandb` dropped, nested dicts flattened, except a defined metric's
    {"min": v, ...} entry, which runtree keeps in the same shape."""
    out: dict[str, Any] = {}
    for k, v in summary.items():
        if k == WANDB_KEY:
            continue
        d = defs.get(k)
        if isinstance(v, dict) and d is not None and d.get("summary") and not isinstance(v.get("_type"), str):
            out[k] = dict(v)
        elif isinstance(v, dict):
            flatten_value(k, v, out)
        else:
            out[k] = v
    return out


def parse_console_line(line: str, default_ts: float) -> tuple[str, float, str]:
    """A console line as W&B sends it -> (stream, timestamp, text); a line not in that form is stdout text."""
    m = _LINE_RE.match(line)
    if m is None:
        return "stdout", default_ts, line
    try:
        ts = datetime.fromisoformat(m.group(2)).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return "stdout", default_ts, line
    return ("stderr" if m.group(1) else "stdout"), ts, line[m.end() :]
