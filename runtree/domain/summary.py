"""Run summaries: the last value of each key, or what define_metric(summary=...) asks for, as wandb does.

wandb's shape is kept: a key with `summary="min"` appears as {"min": v}; with "min,last" as
{"min": v, "last": w}; with "none" it is left out. Glob names ("val/*") apply to every matching key,
and an exact name wins over a glob.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from runtree.domain.chunks import Agg, combine
from runtree.errors import UsageError

SUMMARY_MODES = ("min", "max", "mean", "first", "last", "best", "copy", "none")
GOALS = {"minimize": "min", "min": "min", "maximize": "max", "max": "max"}


@dataclass(frozen=True, slots=True)
class MetricDef:
    """One define_metric() call."""

    name: str
    step_metric: str | None = None
    summary: tuple[str, ...] = ()
    hidden: bool = False
    goal: str | None = None  # "minimize" | "maximize": which of min/max summary="best" keeps (wandb before 0.2x)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"step_metric": self.step_metric, "summary": list(self.summary), "hidden": self.hidden}
        if self.goal is not None:
            d["goal"] = self.goal
        return d

    @staticmethod
    def from_json(name: str, data: Mapping[str, Any]) -> MetricDef:
        goal = data.get("goal")
        summary = tuple(data.get("summary") or ())
        return MetricDef(name, data.get("step_metric"), summary, bool(data.get("hidden")), goal if isinstance(goal, str) else None)


def parse_goal(name: str, goal: str | None, modes: tuple[str, ...]) -> str | None:
    """'minimize' | 'maximize' (or 'min' | 'max'); summary='best' needs one."""
    if goal is None:
        if "best" in modes:
            raise UsageError(f"define_metric({name!r}, summary='best') needs goal='minimize' or goal='maximize'")
        return None
    g = GOALS.get(str(goal).lower())
    if g is None:
        raise UsageError(f"define_metric({name!r}, goal={goal!r}): allowed: 'minimize', 'maximize'")
    return "minimize" if g == "min" else "maximize"


def parse_summary_modes(name: str, summary: str | None) -> tuple[str, ...]:
    """'min,max' -> ('min', 'max'); raise UsageError naming an unknown mode."""
    if summary is None:
        return ()
    modes = tuple(m.strip().lower() for m in summary.split(",") if m.strip())
    for m in modes:
        if m not in SUMMARY_MODES:
            raise UsageError(f"define_metric({name!r}, summary={summary!r}): unknown summary {m!r}; allowed: {', '.join(SUMMARY_MODES)}")
    return modes


def match_def(defs: Mapping[str, MetricDef], key: str) -> MetricDef | None:
    """The definition that applies to `key`: the exact one, else the first matching glob."""
    exact = defs.get(key)
    if exact is not None:
        return exact
    for name, d in defs.items():
        if "*" in name and fnmatch.fnmatchcase(key, name):
            return d
    return None


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


class SummaryBuilder:
    """Folds committed rows into a summary; its state can continue where another (a parent's) stopped."""

    def __init__(self, defs: Mapping[str, MetricDef] | None = None) -> None:
        self.defs: dict[str, MetricDef] = dict(defs or {})
        self.last: dict[str, Any] = {}
        self.stats: dict[str, dict[str, Any]] = {}  # key -> {"min","max","sum","count","first"}
        self.overrides: dict[str, Any] = {}
        self._modes: dict[str, tuple[str, ...]] = {}

    def define(self, d: MetricDef) -> None:
        self.defs[d.name] = d
        self._modes.clear()

    def _modes_for(self, key: str) -> tuple[str, ...]:
        modes = self._modes.get(key)
        if modes is None:
            d = match_def(self.defs, key) if self.defs else None
            modes = d.summary if d is not None else ()
            self._modes[key] = modes
        return modes

    def add(self, row: Mapping[str, Any]) -> None:
        self.last.update(row)
        if self.overrides:
            for k in row:
                self.overrides.pop(k, None)
        if not self.defs:
            return
        for k, v in row.items():
            if not self._modes_for(k) or not _is_number(v):
                continue
            st = self.stats.get(k)
            if st is None:
                self.stats[k] = {"min": v, "max": v, "sum": v, "count": 1, "first": v}
                continue
            if not math.isnan(v):
                if v < st["min"] or math.isnan(st["min"]):
                    st["min"] = v
                if v > st["max"] or math.isnan(st["max"]):
                    st["max"] = v
            st["sum"] += v
            st["count"] += 1

    def add_all(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.add(row)

    def absorb(self, aggs: Mapping[str, Agg]) -> None:
        """History folded elsewhere (per-chunk aggregates combined in step order), as if add() had seen its rows."""
        for k, a in aggs.items():
            self.last[k] = a.last
            if self.overrides:
                self.overrides.pop(k, None)
            if not a.count:
                continue
            st = self.stats.get(k)
            mine = None if st is None else Agg(None, st["count"], st["min"], st["max"], st["sum"], st["first"])
            c = combine(mine, a)
            self.stats[k] = {"min": c.min, "max": c.max, "sum": c.sum, "count": c.count, "first": c.first}

    def set(self, key: str, value: Any) -> None:
        """An explicit `run.summary[key] = value`: wins until `key` is logged again."""
        self.overrides[key] = value

    def remove(self, key: str) -> None:
        self.overrides.pop(key, None)
        self.last.pop(key, None)
        self.stats.pop(key, None)

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in self.last.items():
            modes = self._modes_for(k) if self.defs else ()
            if not modes or modes == ("copy",):
                out[k] = v
            elif "none" in modes:
                continue
            else:
                st = self.stats.get(k)
                entry: dict[str, Any] = {}
                for m in modes:
                    if m == "last":
                        entry["last"] = v
                    elif m == "copy":
                        continue
                    elif m == "best" and st is not None:
                        d = match_def(self.defs, k)
                        entry["best"] = st["max"] if d is not None and d.goal == "maximize" else st["min"]
                    elif st is not None:
                        entry[m] = st["sum"] / st["count"] if m == "mean" else st[m]
                out[k] = entry
        out.update(self.overrides)
        return out
