"""POST /files/{entity}/{project}/{run}/file_stream: the wandb client's run data, into the Store.

One request body, every key optional: `{"files": {"wandb-history.jsonl": {"offset", "content": [row json, ...]},
"wandb-events.jsonl": {...}, "wandb-summary.json": {...}, "output.log": {...}}, "uploaded": [...],
"preempting": bool, "complete": bool, "exitcode": int}`; `{}` is a heartbeat.

- history lines become rows keyed by their own `_step` (the line offset is not needed): a resent batch is
  ignored by the store, as runtree's own writer's retries are. Nested values are flattened as runtree.log does.
- events lines are system samples at their `_timestamp`, keys as the client names them (`system.*`).
- the summary's last line replaces the run's summary (its `_step`, `_runtime`, `_timestamp` taken from the
  last stored row, as runtree's summary has them). When the run ends, a run whose history is not all its own
  client's (a fork, a rewind, a resume) gets its summary recomputed over its whole visible history, as
  runtree's SDK computes it; keys the client set that were never logged are kept.
- console lines are stored at seq = offset + index, replacing what a redrawn line (a progress bar) wrote.
- `complete` ends the run: finished for exit code 0, else failed.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from runtree.domain import wandb_format
from runtree.domain.records import CRASHED, FAILED, FINISHED, RUNNING, RunRecord, Segment
from runtree.domain.summary import MetricDef, SummaryBuilder
from runtree.errors import UsageError
from runtree.store import forking
from runtree.store.base import RowIn, Store

HISTORY, EVENTS, SUMMARY, OUTPUT = "wandb-history.jsonl", "wandb-events.jsonl", "wandb-summary.json", "output.log"


def _lines(files: Mapping[str, Any], name: str) -> tuple[int, list[str]]:
    chunk = files.get(name)
    if chunk is None:
        return 0, []
    if not isinstance(chunk, Mapping) or not isinstance(chunk.get("content", []), list):
        raise UsageError(f"file_stream: {name} must be {{'offset': n, 'content': [lines]}}")
    offset = chunk.get("offset", 0)
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise UsageError(f"file_stream: {name} offset must be a non-negative integer, got {offset!r}")
    return offset, [str(x) for x in chunk.get("content", [])]


def _object(line: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError as e:
        raise UsageError(f"file_stream: a {what} line is not JSON ({e}): {line[:80]!r}") from None
    if not isinstance(value, dict):
        raise UsageError(f"file_stream: a {what} line must be a JSON object: {line[:80]!r}")
    return value


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else None


def history_rows(lines: Sequence[str], now: float) -> list[RowIn]:
    """History lines as rows (step, timestamp, row); a line without an integer `_step` is refused."""
    rows: list[RowIn] = []
    for line in lines:
        row = wandb_format.flatten_row(_object(line, "history"))
        step = row.get("_step")
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            raise UsageError(f"file_stream: a history line has no non-negative integer _step: {line[:80]!r}")
        ts = _number(row.get("_timestamp"))
        rows.append((step, now if ts is None else ts, row))
    return rows


def system_samples(lines: Sequence[str], now: float) -> list[tuple[float, dict[str, Any]]]:
    """Events lines as system samples (timestamp, {system.* values})."""
    samples = []
    for line in lines:
        obj = wandb_format.flatten_row(_object(line, "events"))
        ts = _number(obj.get("_timestamp"))
        values = {k: v for k, v in obj.items() if k.startswith("system.") and not isinstance(v, dict | list)}  # scalars only
        if values:
            samples.append((now if ts is None else ts, values))
    return samples


def _last_row(store: Store, run: RunRecord, rows: Sequence[RowIn]) -> dict[str, Any] | None:
    if rows:
        return max(rows, key=lambda r: r[0])[2]
    segments = store.read_segments(run.uid)
    last = store.last_row(segments)
    if last is None:
        return None
    found = list(store.read_rows(segments, min_step=last[0], max_step=last[0]))
    return found[0] if found else None


def _summary(store: Store, run: RunRecord, text: str, rows: Sequence[RowIn]) -> dict[str, Any]:
    summary = wandb_format.flatten_summary(_object(text, "summary"), run.metric_defs)
    last = _last_row(store, run, rows)
    for k in wandb_format.SPECIAL_KEYS:
        summary.pop(k, None)
        if last is not None and k in last:
            summary[k] = last[k]
    return summary


def _needs_full_summary(store: Store, run: RunRecord) -> bool:
    wb = run.metadata.get("wandb")
    return len(store.read_segments(run.uid)) > 1 or (isinstance(wb, Mapping) and bool(wb.get("resumed")))


def full_summary(store: Store, run: RunRecord, client: Mapping[str, Any]) -> dict[str, Any]:
    """The run's summary over its whole visible history (runtree's rules), with the client's never-logged keys."""
    builder = SummaryBuilder({n: MetricDef.from_json(n, d) for n, d in run.metric_defs.items()})
    segments = store.read_segments(run.uid)
    builder.add_all(store.read_rows(segments))
    return {**summary_only(store, run, segments), **client, **builder.result()}


def summary_only(store: Store, run: RunRecord, segments: Sequence[Segment]) -> dict[str, Any]:
    """The run's summary keys from before its rewinds that no row of it ever held: they stay."""
    wb = run.metadata.get("wandb")
    before = wb.get("summary_before_rewind") if isinstance(wb, Mapping) else None
    if not isinstance(before, Mapping) or not before:
        return {}
    return forking.summary_only(store, run.uid, run.epoch, segments, before)


def _renumbered(store: Store, run: RunRecord, rows: list[RowIn]) -> tuple[list[RowIn], RunRecord]:
    """`wandb sync` of an offline fork or rewind by clients before 0.22 numbers its rows from 0, not from the
    step after the branch point: rows below its own first step would be hidden by its lineage. Such an epoch's
    rows are shifted by that first step (decided on its first rows, kept in metadata["wandb"]["step_shift"])."""
    wb = run.metadata.get("wandb")
    wb = dict(wb) if isinstance(wb, Mapping) else {}
    decided = wb.get("step_shift")
    if isinstance(decided, Mapping) and decided.get("epoch") == run.epoch:
        shift = int(decided.get("shift", 0))
    elif run.fork_step is None and run.epoch == 0:
        return rows, run  # a run of its own: its steps are its own
    else:
        own = store.read_segments(run.uid)[-1]
        empty = store.last_row([own]) is None
        shift = own.first_step if empty and min(step for step, _, _ in rows) < own.first_step else 0
        wb["step_shift"] = {"epoch": run.epoch, "shift": shift}
        meta = {**run.metadata, "wandb": wb}
        store.update_run(run.uid, metadata=meta)
        run = run.evolve(metadata=meta)
    if not shift:
        return rows, run
    return [(step + shift, ts, {**row, "_step": step + shift}) for step, ts, row in rows], run


def ingest(store: Store, run: RunRecord, body: Mapping[str, Any]) -> None:
    """Apply one file_stream request to `run` (its current epoch)."""
    now = time.time()
    files = body.get("files") or {}
    if not isinstance(files, Mapping):
        raise UsageError("file_stream: 'files' must be an object")
    uid, epoch = run.uid, run.epoch
    fields: dict[str, Any] = {"heartbeat_at": now, "updated_at": now}

    rows = history_rows(_lines(files, HISTORY)[1], now)
    if rows:
        rows, run = _renumbered(store, run, rows)
        store.append_rows(uid, epoch, rows)
        top = max(step for step, _, _ in rows)
        fields["last_step"] = top if run.last_step is None else max(run.last_step, top)
    samples = system_samples(_lines(files, EVENTS)[1], now)
    if samples:
        store.append_system(uid, epoch, samples)
    offset, out = _lines(files, OUTPUT)
    if out:
        step = fields.get("last_step", run.last_step)
        lines = []
        for i, text in enumerate(out):
            stream, ts, line = wandb_format.parse_console_line(text, now)
            lines.append((offset + i, ts, step, stream, line))
        store.put_logs(uid, epoch, lines)
    summary_lines = _lines(files, SUMMARY)[1]
    summary = _summary(store, run, summary_lines[-1], rows) if summary_lines else None

    if run.state == CRASHED:  # declared crashed for a silence (a network outage): this request proves it alive
        fields["state"] = RUNNING
    if body.get("complete"):
        code = body.get("exitcode")
        code = code if isinstance(code, int) and not isinstance(code, bool) else 0
        fields.update(state=FINISHED if code == 0 else FAILED, exit_code=code, finished_at=now)
        if _needs_full_summary(store, run):
            summary = full_summary(store, run, summary if summary is not None else run.summary)
    if summary is not None:
        fields["summary"] = summary
    store.update_run(uid, **fields)
