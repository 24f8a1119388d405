"""Fold the records of one W&B run file into what a runtree run holds: history rows, config, metric
definitions, summary, system samples, console lines and the exit.

Values are decoded exactly (NaN and ±inf included); nested dicts are flattened to dotted keys as
runtree.log does; lists are kept, and W&B media values whole, their files stored with the run
(runtree.importers.wandb_media).
Console output is replayed as a terminal shows it, so `\\r` progress bars keep only what was last drawn.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runtree.domain import wandb_format
from runtree.domain.media import MediaFile, is_media
from runtree.domain.records import CRASHED, FAILED, FINISHED, Segment
from runtree.domain.summary import MetricDef, SummaryBuilder
from runtree.importers.wandb_media import nest_media, tie_files
from runtree.store.base import RowIn, Store

_BATCH = 2000  # rows, samples or lines per store call
_SPECIAL = ("_step", "_runtime", "_timestamp")


def to_time(ts: Any) -> float:
    """A protobuf Timestamp as seconds since the epoch."""
    return float(ts.seconds) + float(ts.nanos) / 1e9


def _path(item: Any) -> list[str]:
    nested = item.nested_key
    return list(nested) if nested else [str(item.key)]


def _key(item: Any) -> str:
    nested = item.nested_key
    return ".".join(nested) if nested else str(item.key)


def apply_config(config: dict[str, Any], rec: Any) -> dict[str, Any]:
    """Apply a ConfigRecord's updates and removals (keys or nested key paths) to `config`; return it."""
    for item in rec.update:
        path = _path(item)
        target = config
        for part in path[:-1]:
            nxt = target.get(part)
            if not isinstance(nxt, dict):
                nxt = target[part] = {}
            target = nxt
        target[path[-1]] = json.loads(item.value_json)
    for item in rec.remove:
        path = _path(item)
        target = config
        for part in path[:-1]:
            inner = target.get(part)
            target = inner if isinstance(inner, dict) else {}
        target.pop(path[-1], None)
    return config


def _scalars(key: str, value: Any, out: dict[str, Any], left_out: dict[str, int]) -> None:
    """Put `value` into `out` as runtree row values: scalars kept, dicts flattened, media and lists counted."""
    wandb_format.flatten_value(key, value, out, left_out)


def _metric_def(m: Any) -> tuple[str, dict[str, Any]] | None:
    name = m.glob_name or m.name
    if not name or m.expanded_from_glob:
        return None
    modes = wandb_format.summary_modes((fd.number for fd, on in m.summary.ListFields() if on), int(m.goal))
    return name, MetricDef(name, m.step_metric or None, modes, bool(m.options.hidden)).to_json()


class Terminal:
    """Console output replayed as a terminal shows it: `\\r` returns to the line start, text overwrites."""

    def __init__(self) -> None:
        self.line = ""
        self.col = 0
        self.ts = 0.0

    def write(self, text: str, ts: float) -> Iterator[tuple[float, str]]:
        """Feed raw text; yield the lines it completes as (timestamp, text)."""
        pieces = text.split("\n")
        for i, piece in enumerate(pieces):
            if i > 0:
                yield self.ts, self.line
                self.line, self.col = "", 0
            for j, part in enumerate(piece.split("\r")):
                if j > 0:
                    self.col = 0
                if part:
                    self.line = self.line[: self.col] + part + self.line[self.col + len(part) :]
                    self.col += len(part)
            self.ts = ts

    def rest(self) -> tuple[float, str] | None:
        return (self.ts, self.line) if self.line else None


class RunFold:
    """Folds one `.wandb` file's records into a stored run (created, forked or rewound before): rows, samples and
    lines go to the store in batches; config, metric definitions, summary and state are kept for the end."""

    def __init__(
        self, store: Store, uid: str, epoch: int, segments: list[Segment], above: int | None, run_id: str, start_time: float
    ) -> None:
        self.store, self.uid, self.run_id, self.start_time = store, uid, run_id, start_time
        self.segments = segments
        self.epoch = epoch
        self.above = above  # a fork or rewind step: own rows at or below it are not the run's own
        self.config: dict[str, Any] = {}
        self.defs: dict[str, dict[str, Any]] = {}
        self.summary: dict[str, Any] = {}
        self.summary_seen = False
        self.rows: list[RowIn] = []
        self.system: list[tuple[float, dict[str, Any]]] = []
        self.lines: list[tuple[int, float, int | None, str, str]] = []
        self.counts = {"rows": 0, "system": 0, "lines": 0, "dropped": 0}
        self.own_keys: set[str] = set()
        self.last_step: int | None = above
        self.last_time = start_time
        self.exit: Any = None
        self.left_out: dict[str, int] = {}
        self.terminals = {"stdout": Terminal(), "stderr": Terminal()}
        self.seq = 0
        self.environment: dict[str, Any] = {}
        self.run_fields: dict[str, Any] = {}
        self.builder = SummaryBuilder()
        self._inherited_pending = False
        self._encoded: dict[str, str] = {}
        self.bad = 0
        self.bad_example = ""
        self.files_dir: Path | None = None  # the run's files/ folder, where its media files are
        self.media: tuple[list[MediaFile], dict[str, bytes]] = ([], {})

    def start_summary(self, defs: dict[str, dict[str, Any]]) -> None:
        """Summarise under the inherited definitions; the inherited rows are fed in at the first own row,
        once the run's own define_metric records (written before it logs) are known too."""
        self.builder = SummaryBuilder({n: MetricDef.from_json(n, d) for n, d in defs.items()})
        self._inherited_pending = len(self.segments) > 1

    def _feed_inherited(self) -> None:
        if self._inherited_pending:
            self._inherited_pending = False
            self.builder.absorb(self.store.read_aggregates(self.segments[:-1]))

    def take(self, r: Any) -> None:
        """Fold one record in; one whose values do not decode is counted and left out."""
        try:
            self._take(r)
        except (ValueError, TypeError, AttributeError) as e:
            self.bad += 1
            self.bad_example = self.bad_example or f"{r.WhichOneof('record_type')}: {e}"

    def _take(self, r: Any) -> None:
        kind = r.WhichOneof("record_type")
        if kind == "history":
            self._history(r.history)
        elif kind == "summary":
            self.summary_seen = True
            for item in r.summary.update:
                k = _key(item)
                if k != "_wandb" and not k.startswith("_wandb."):
                    self.summary[k] = item.value_json  # decoded at the end: most are replaced many times
            for item in r.summary.remove:
                self.summary.pop(_key(item), None)
        elif kind == "stats":
            ts = to_time(r.stats.timestamp)
            values: dict[str, Any] = {}
            for item in r.stats.item:  # named as W&B's events stream and runtree's sampler name them
                _scalars("system." + item.key, json.loads(item.value_json), values, self.left_out)
            self.system.append((ts, values))
            self.last_time = max(self.last_time, ts)
            if len(self.system) >= _BATCH:
                self._flush()
        elif kind == "output_raw" or kind == "output":
            out = getattr(r, kind)
            stream = "stdout" if out.output_type == 1 else "stderr"
            ts = to_time(out.timestamp) if out.HasField("timestamp") else self.last_time
            text = out.line if kind == "output_raw" or out.line.endswith("\n") else out.line + "\n"
            for line_ts, line in self.terminals[stream].write(text, ts):
                self._line(line_ts, stream, line)
            self.last_time = max(self.last_time, ts)
        elif kind == "config":
            apply_config(self.config, r.config)
        elif kind == "metric":
            d = _metric_def(r.metric)
            if d is not None:
                self.defs[d[0]] = d[1]
                self.builder.define(MetricDef.from_json(*d))
        elif kind == "run" and r.run.run_id == self.run_id:
            self._run_update(r.run)
        elif kind == "exit":
            self.exit = r.exit
        elif kind == "environment":
            env = r.environment
            for name in ("os", "python", "program", "code_path", "host", "executable", "cpu_count", "cpu_count_logical", "gpu_type"):
                value = getattr(env, name, None)
                if value:
                    self.environment[name] = value

    def _run_update(self, run: Any) -> None:
        """The run record (and any later one): name, tags, notes, group, job type, config."""
        apply_config(self.config, run.config)
        for name, attr in (
            ("name", "display_name"),
            ("notes", "notes"),
            ("group", "run_group"),
            ("job_type", "job_type"),
            ("host", "host"),
        ):
            value = getattr(run, attr, "")
            if value:
                self.run_fields[name] = value
        if len(run.tags):
            self.run_fields["tags"] = tuple(run.tags)

    def _history(self, h: Any) -> None:
        # One json.loads for the whole row: the items' value_json joined into one object.
        enc = self._encoded
        parts = []
        for item in h.item:
            k = _key(item)
            e = enc.get(k)
            if e is None:
                e = enc[k] = json.dumps(k)
            parts.append(f"{e}:{item.value_json}")
        row: dict[str, Any] = {}
        decoded = json.loads("{" + ",".join(parts) + "}")
        if any(k.endswith("._type") for k in decoded):
            decoded = nest_media(decoded)
        for k, v in decoded.items():
            if isinstance(v, list) or is_media(v):
                row[k] = v
            elif isinstance(v, dict):
                _scalars(k, v, row, self.left_out)
            else:
                row[k] = v
        step = row.get("_step")
        if not isinstance(step, int) or isinstance(step, bool):
            step = int(h.step.num)
            row["_step"] = step
        if (self.above is not None and step <= self.above) or (
            self.last_step is not None and step <= self.last_step and self.counts["rows"]
        ):
            self.counts["dropped"] += 1
            return
        ts = row.get("_timestamp")
        ts = float(ts) if isinstance(ts, int | float) and not isinstance(ts, bool) else self.last_time
        if self.files_dir is not None:
            for k, v in row.items():
                if is_media(v):
                    files, blobs, missing = tie_files(step, k, v, self.files_dir)
                    self.media[0].extend(files)
                    self.media[1].update(blobs)
                    if missing:
                        self.left_out["missing media file"] = self.left_out.get("missing media file", 0) + missing
            if len(self.media[1]) >= 64:
                self._flush()
        self.rows.append((step, ts, row))
        self._feed_inherited()
        self.builder.add(row)
        self.own_keys.update(row)
        self.last_step = step
        self.last_time = max(self.last_time, ts)
        self.counts["rows"] += 1
        if len(self.rows) >= _BATCH:
            self._flush()

    def _line(self, ts: float, stream: str, text: str) -> None:
        self.lines.append((self.seq, ts, self.last_step, stream, text))
        self.seq += 1
        if len(self.lines) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        uid, epoch = self.uid, self.epoch
        if self.media[0]:
            self.store.put_media(uid, epoch, *self.media)  # before the rows that name them
            self.media = ([], {})
        if self.rows:
            self.store.append_rows(uid, epoch, self.rows)
            self.rows = []
        if self.system:
            self.store.append_system(uid, epoch, self.system)
            self.counts["system"] += len(self.system)
            self.system = []
        if self.lines:
            self.store.append_logs(uid, epoch, self.lines)
            self.counts["lines"] += len(self.lines)
            self.lines = []

    def finish(self) -> None:
        for stream, term in self.terminals.items():
            rest = term.rest()
            if rest is not None:
                self._line(rest[0], stream, rest[1])
        self._flush()

    def wandb_summary(self) -> dict[str, Any]:
        """The folded summary records, decoded (media values put back together); undecodable values left out."""
        out: dict[str, Any] = {}
        for k, text in self.summary.items():
            try:
                value = json.loads(text)
            except ValueError:
                self.bad += 1
                continue
            out[k] = value
        return nest_media(out) if any(k.endswith("._type") for k in out) else out

    def final_summary(self, inherits: bool) -> dict[str, Any]:
        self._feed_inherited()
        built = self.builder.result()
        if not self.summary_seen:
            return built
        summary = self.wandb_summary()
        if not inherits:
            out = dict(summary)
            for k in _SPECIAL:
                if k in built:
                    out[k] = built[k]
            return out
        explicit = {k: v for k, v in summary.items() if k not in self.own_keys and not k.startswith("_")}
        return {**built, **explicit}

    def state(self) -> tuple[str, int | None, float | None]:
        if self.exit is None:
            return CRASHED, None, None
        code = int(self.exit.exit_code)
        runtime = float(self.exit.runtime or 0)
        finished = self.start_time + runtime if runtime > 0 else self.last_time
        return (FINISHED if code == 0 else FAILED), code, finished
