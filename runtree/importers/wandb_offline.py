"""Import W&B offline run directories (`wandb/offline-run-*`) into a runtree store, forks as forks.

What the wandb 0.31 client writes offline (`WANDB_MODE=offline`), observed on its `.wandb` files:

- `run`: run_id, project (entity is empty offline), display_name (empty: W&B names runs on sync),
  config, tags, notes, host, start_time. `fork_from="ab12?_step=5"` is accepted offline and written as
  `RunRecord.branch_point {run: "ab12", value: 5, metric: "_step"}` plus
  `config._wandb.value.branch_point {run_id, step}`; the child's first history row is `_step` 6. The
  client refuses any metric but `_step`. `resume_from="ab12?_step=3"` is written the same way with
  `branch_point.run` equal to the run's own id: a rewind, in a second directory with the same id.
- `history`: one record per committed row, items keyed by `nested_key` (a logged `{"d": {"x": 1}}` is
  `["d", "x"]`), values JSON with `NaN`, `Infinity`, `-Infinity`, and `_step`, `_timestamp`, `_runtime`.
- `summary`: deltas, one after each row and one per `run.summary[k] = v`; `_wandb.*` entries and a
  trailing `_runtime: 0` are bookkeeping. `metric`: one per define_metric. `stats`: system metrics
  every `x_stats_sampling_interval` seconds. `output_raw`: console output in raw pieces (a `print`
  is two: the text and "\\n"), stderr with output_type 0. `exit`: exit code and runtime, at finish only.
- The writer flushes whole 32 KiB blocks, so a killed run keeps only its full blocks: a small one is
  the 7-byte header alone; a larger one usually ends inside a record.

How they become runtree runs:

- Runs go to `entity/project/run_id` (entity: the record's, else the `entity` argument, else
  $RUNTREE_ENTITY, $WANDB_ENTITY or the user name). A fork becomes a runtree fork of the parent found
  by W&B id in the same project, among the runs being imported or already in the store, through
  domain.lineage.fork: no row is copied, the child stores its own rows above the branch point only.
  A rewind becomes a runtree rewind (domain.lineage.rewind, a new epoch). Directories are imported in
  the order they started, parents before their forks.
- Config: the run's, then `config` records; `_wandb` is left out; a fork's config starts from its
  parent's, as runtree forks do. define_metric records become `metric_defs` (`best` maps to min or
  max by the goal, `copy` to last).
- History rows keep their values exactly (NaN and ±inf included); nested dicts are flattened to
  dotted keys as runtree.log does; W&B media objects (`{"_type": "image", ...}`) and lists cannot be
  runtree values: they are left out and counted in the report.
- Summary: W&B's own (the summary records folded in order) with `_step`, `_runtime` and `_timestamp`
  from the last row. Without summary records it is computed with SummaryBuilder. For a fork or a
  rewind, metrics the run logged itself are summarised over its whole visible history, inherited rows
  included, as runtree does for its own forks (the client offline saw only the child's rows).
- System metrics: each `stats` record is one sample at its timestamp, keys prefixed `system.` as in
  W&B's events stream and runtree's own sampler (`cpu` -> `system.cpu`).
- Console: each stream is replayed like a terminal, so `\\r` progress bars collapse to what was last
  drawn on the line (the same text as W&B's `output.log`); each line keeps the last logged step.
- State: an exit record with code 0 is finished, another code failed; no exit record is crashed.
- Re-import is idempotent: each directory is recorded in the run's `metadata["wandb"]["sources"]`
  with its size. The same directory again is skipped with a note, unless the file has grown (a run
  imported while still writing, or from a truncated copy), then what is missing is added and the run's
  fields updated (rows, samples and lines are keyed, so nothing doubles). A run id already in the store
  that did not come from this W&B run is never touched.
- A damaged or truncated file: everything before the damage is imported, the report says where the
  read stopped and how many bytes were skipped, and nothing else changes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from runtree.domain import ids, lineage
from runtree.domain.records import CRASHED, RunRecord, Segment
from runtree.domain.steps import step_for_metric_value
from runtree.errors import RuntreeError
from runtree.importers.wandb_log import LogProblem, RecordScan, load_proto
from runtree.importers.wandb_records import RunFold, apply_config, to_time
from runtree.store import default_entity, default_store_url, forking, open_store
from runtree.store.base import Store

Progress = Callable[[int, int, str], None]  # (bytes done, bytes in all, what is being read)

_PROGRESS_EVERY = 1 << 20
_DEFAULT_PROJECT = "uncategorized"


@dataclass(frozen=True, slots=True)
class BranchPoint:
    """Where a W&B run was forked or rewound from: run id and the moment, by `metric`."""

    run: str
    metric: str
    value: float


@dataclass
class ImportedRun:
    """One W&B run directory that went into the store."""

    source: str
    path: str
    uid: str
    action: str  # "created", "forked", "rewound" or "updated"
    state: str
    rows: int = 0
    system: int = 0
    lines: int = 0
    parent: str | None = None
    fork_step: int | None = None
    problem: LogProblem | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Skipped:
    """A path that was not imported, and why; `already` when it had been imported before."""

    source: str
    reason: str
    already: bool = False


@dataclass
class ImportReport:
    """What import_runs did: runs imported, paths skipped."""

    imported: list[ImportedRun] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def problems(self) -> list[tuple[str, LogProblem]]:
        """Files read only up to some damage: (source, what was skipped)."""
        return [(r.source, r.problem) for r in self.imported if r.problem is not None]

    @property
    def ok(self) -> bool:
        """True when every path was imported or had been imported before (damaged tails allowed)."""
        return all(s.already for s in self.skipped)


@dataclass
class _Source:
    """One `.wandb` file, with what its run record says."""

    file: Path
    run_id: str
    entity: str
    project: str
    start_time: float
    branch: BranchPoint | None
    run: Any  # the RunRecord protobuf

    @property
    def label(self) -> str:
        return _label(self.file)

    @property
    def key(self) -> str:
        """Names this directory's run among the run's sources, independent of where the files now lie."""
        return f"{self.run_id}@{self.start_time:.6f}"


# -- finding and ordering the runs ---------------------------------------------------------------
def find_run_files(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[Skipped]]:
    """The `.wandb` files under `paths`: files themselves, run directories, or directories holding run
    directories (`wandb/`, or a project directory with `wandb/` in it). Symlinks such as `latest-run`
    are not followed, and each file is listed once."""
    found: list[Path] = []
    missing: list[Skipped] = []
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            missing.append(Skipped(str(p), "no such file or directory"))
            continue
        if p.is_file():
            candidates = [p]
        else:
            candidates = sorted(p.glob("*.wandb"))
            if not candidates:
                candidates = _run_files(p) or _run_files(p / "wandb")
        new = [c for c in candidates if c.resolve() not in seen]
        if not candidates:
            missing.append(
                Skipped(str(p), "no W&B run here: expected a run-*.wandb file, a run directory or a directory of offline-run-* directories")
            )
        for c in new:
            seen.add(c.resolve())
            found.append(c)
    return found, missing


def _run_files(d: Path) -> list[Path]:
    if not d.is_dir():
        return []
    out = []
    for sub in sorted(d.iterdir()):
        if sub.is_dir() and not sub.is_symlink() and sub.name.startswith(("offline-run-", "run-")):
            out.extend(sorted(sub.glob("*.wandb")))
    return out


def _order(sources: list[_Source]) -> list[_Source]:
    """Oldest first, so rewinds follow what they rewind; a fork's parent moved before it if its clock was off."""
    by_start = sorted(sources, key=lambda s: (s.start_time, str(s.file)))
    placed: list[_Source] = []
    done: set[int] = set()

    def place(s: _Source, trail: tuple[int, ...]) -> None:
        if id(s) in done or id(s) in trail:
            return
        b = s.branch
        if b is not None and b.run != s.run_id:
            # the parent as it was when the fork was made: its directories that started before the fork
            same = [p for p in by_start if p.run_id == b.run and p.project == s.project and p.entity == s.entity]
            for parent in [p for p in same if p.start_time <= s.start_time] or same[:1]:
                place(parent, (*trail, id(s)))
        done.add(id(s))
        placed.append(s)

    for s in by_start:
        place(s, ())
    return placed


def _branch_point(run: Any, config: dict[str, Any]) -> BranchPoint | None:
    """RunRecord.branch_point, else (older clients) config `_wandb.branch_point {run_id, step}`."""
    try:
        if run.HasField("branch_point") and run.branch_point.run:
            bp = run.branch_point
            return BranchPoint(bp.run, bp.metric or "_step", float(bp.value))
    except ValueError:  # a wandb whose schema has no branch_point
        pass
    meta = config.get("_wandb")
    bp_cfg = meta.get("branch_point") if isinstance(meta, dict) else None
    if isinstance(bp_cfg, dict) and bp_cfg.get("run_id") is not None and bp_cfg.get("step") is not None:
        return BranchPoint(str(bp_cfg["run_id"]), "_step", float(bp_cfg["step"]))
    return None


def _label(file: Path) -> str:
    """How a run file is named in reports: its run directory, else the file."""
    return str(file.parent if file.parent.name.startswith(("offline-run-", "run-")) else file)


def _peek(file: Path, pb: ModuleType, entity: str | None, project: str | None) -> _Source | Skipped:
    """Read up to the run record: the run's identity, start and branch point."""
    scan = RecordScan(file, pb)
    try:
        for rec in scan:
            if rec.WhichOneof("record_type") == "run":
                run = rec.run
                return _Source(
                    file=file,
                    run_id=run.run_id,
                    entity=entity or run.entity or default_entity(),
                    project=project or run.project or _DEFAULT_PROJECT,
                    start_time=to_time(run.start_time) or file.stat().st_mtime,
                    branch=_branch_point(run, apply_config({}, run.config)),
                    run=run,
                )
    except (ValueError, TypeError, AttributeError) as e:
        return Skipped(_label(file), f"its run record does not decode: {e}")
    problem = scan.problem
    if problem is not None and problem.records == 0:
        return Skipped(_label(file), str(problem))
    if problem is not None:
        return Skipped(_label(file), f"no run record before the damage: {problem}")
    return Skipped(_label(file), "no run record: the run stopped before its client wrote one to disk (it holds up to 32 KiB back)")


def _source_entry(src: _Source, scan: RecordScan, epoch: int) -> dict[str, Any]:
    return {
        "path": str(src.file),
        "bytes": scan.size,
        "records": scan.records,
        "epoch": epoch,
        "start_time": src.start_time,
        "problem": None if scan.problem is None else str(scan.problem),
    }


def _fork_point(store: Store, parent: RunRecord, psegs: list[Segment], b: BranchPoint) -> int:
    if b.metric == "_step":
        return int(b.value)
    points = ((row["_step"], row[b.metric]) for row in store.read_rows(psegs) if b.metric in row)
    return step_for_metric_value(parent.path, b.metric, b.value, points)


def _cut_time(store: Store, segments: Sequence[Segment], step: int, fallback: float) -> float:
    at = store.last_row(segments, at_or_before=step)
    return at[1] if at is not None else fallback


def _import_source(store: Store, src: _Source, pb: ModuleType, tick: Callable[[RecordScan], None]) -> ImportedRun | Skipped:
    ids.validate_id(src.run_id)
    ids.validate_scope_name("entity", src.entity)
    ids.validate_scope_name("project", src.project)
    scan = RecordScan(src.file, pb)
    existing = store.find_run(src.entity, src.project, src.run_id)
    b = src.branch
    rewinding = b is not None and b.run == src.run_id
    where = f"{src.entity}/{src.project}"
    notes: list[str] = []
    parent: RunRecord | None = None
    base_config: dict[str, Any] = {}
    base_defs: dict[str, dict[str, Any]] = {}
    above: int | None = None
    latest = True
    summary_before: dict[str, Any] = {}
    if existing is not None:
        wb = existing.metadata.get("wandb") if isinstance(existing.metadata.get("wandb"), dict) else None
        sources: dict[str, Any] = wb.get("sources", {}) if wb is not None else {}
        prev = sources.get(src.key)
        if prev is not None:
            if scan.size <= int(prev.get("bytes", 0)):
                return Skipped(
                    src.label, f"already imported as {existing.path} ({prev.get('records')} records); the file has not grown", True
                )
            action, rec, epoch = "updated", existing, int(prev.get("epoch", 0))
            segments = store.read_segments(rec.uid)
            latest = all(float(s.get("start_time", 0)) <= src.start_time for s in sources.values())
            base_config, base_defs = existing.config, existing.metric_defs  # what earlier imports (and a parent) gave
            if rec.parent_uid is not None:
                parent = store.get_run(rec.parent_uid)
                above = rec.fork_step
            if b is not None and rewinding:
                above = int(b.value)
        elif wb is not None and rewinding and b is not None:
            action, epoch = "rewound", existing.epoch + 1
            step = int(b.value)
            old = store.read_segments(existing.uid)
            last = store.last_row(old)
            if last is None or step > last[0]:
                notes.append(f"rewound at step {step}, beyond the last stored step {None if last is None else last[0]}")
            cut = forking.Cut(step, _cut_time(store, old, step, src.start_time), 0.0)
            segments = forking.rewind(store, existing, cut, src.start_time, state=CRASHED)
            rec = store.get_run(existing.uid)
            base_config, base_defs = existing.config, existing.metric_defs
            summary_before = dict(existing.summary)  # its never-logged keys outlive the rewind
            above = step
        else:
            return Skipped(src.label, f"run {existing.path} is already in the store and did not come from this W&B run; left as it is")
    else:
        if rewinding and b is not None:
            return Skipped(src.label, f"a rewind (resume_from) of run {b.run!r}, which is neither in {where} nor among the runs imported")
        uid = ids.make_uid()
        epoch = 0
        if b is not None:
            parent = store.find_run(src.entity, src.project, b.run)
            if parent is None:
                return Skipped(
                    src.label,
                    f"forked from run {b.run!r}, which is neither in {where} nor among the runs imported; import it first or together",
                )
            psegs = store.read_segments(parent.uid)
            above = _fork_point(store, parent, psegs, b)
            last = store.last_row(psegs)
            if last is None or above > last[0]:
                notes.append(f"forked at step {above}, beyond the last stored step {None if last is None else last[0]} of {parent.path}")
            segments = lineage.fork(psegs, above, uid, _cut_time(store, psegs, above, src.start_time))
            base_config, base_defs = parent.config, parent.metric_defs
            action = "forked"
        else:
            segments = lineage.new_run(uid)
            action = "created"
        run = src.run
        rec = RunRecord(
            uid=uid,
            entity=src.entity,
            project=src.project,
            id=src.run_id,
            name=run.display_name or ids.make_name(len(store.list_runs(src.entity, src.project)) + 1),
            state=CRASHED,  # until the whole file is in: an interrupted import shows as crashed
            created_at=src.start_time,
            updated_at=src.start_time,
            heartbeat_at=src.start_time,
            parent_uid=None if parent is None else parent.uid,
            fork_step=above,
            group=(run.run_group or None) if parent is None else (run.run_group or parent.group),
            job_type=(run.job_type or None) if parent is None else (run.job_type or parent.job_type),
            host=run.host or None,
            metadata={"wandb": {"run_id": src.run_id, "sources": {}}},
        )
        store.create_run(rec, segments)

    imp = RunFold(store, rec.uid, epoch, segments, above, src.run_id, src.start_time)
    imp.start_summary(base_defs)
    imp.defs = dict(base_defs)
    for r in scan:
        imp.take(r)
        tick(scan)
    imp.finish()
    summary = imp.final_summary(inherits=len(segments) > 1)
    if summary_before:
        summary = {**forking.summary_only(store, rec.uid, epoch, segments, summary_before), **summary}
    if imp.counts["dropped"]:
        notes.append(f"{imp.counts['dropped']} rows at or below the branch step (or repeating a step) left out")
    if imp.left_out:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(imp.left_out.items()))
        notes.append(f"values runtree cannot hold left out: {kinds}")
    if imp.bad:
        notes.append(f"{imp.bad} records or values that did not decode left out (first: {imp.bad_example or 'a summary value'})")

    meta = dict(rec.metadata)
    wb_meta = dict(meta.get("wandb") or {})
    wb_meta.setdefault("run_id", src.run_id)
    wb_meta["sources"] = {**(wb_meta.get("sources") or {}), src.key: _source_entry(src, scan, epoch)}
    if imp.environment:
        wb_meta["environment"] = imp.environment
    meta["wandb"] = wb_meta
    state, exit_code, finished_at = imp.state()
    if latest:
        config = {k: v for k, v in {**base_config, **imp.config}.items() if k != "_wandb"}
        defs = {**base_defs, **imp.defs}
        last = store.last_row(segments)
        fields: dict[str, Any] = {
            **imp.run_fields,
            "config": config,
            "metric_defs": defs,
            "summary": summary,
            "state": state,
            "exit_code": exit_code,
            "finished_at": finished_at,
            "heartbeat_at": imp.last_time,
            "last_step": None if last is None else last[0],
            "metadata": meta,
        }
        store.update_run(rec.uid, **fields)
    else:
        store.update_run(rec.uid, metadata=meta)
        notes.append("an older directory of a run rewound since: its rows were added, the run's fields left as they are")
    return ImportedRun(
        source=src.label,
        path=rec.path,
        uid=rec.uid,
        action=action,
        state=state if latest else rec.state,
        rows=imp.counts["rows"],
        system=imp.counts["system"],
        lines=imp.counts["lines"],
        parent=None if parent is None else parent.path,
        fork_step=rec.fork_step if action != "rewound" else above,
        problem=scan.problem,
        notes=notes,
    )


def import_runs(
    store: Store,
    paths: Iterable[str | os.PathLike[str]],
    *,
    entity: str | None = None,
    project: str | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import the W&B runs under `paths` (run directories, `.wandb` files, or directories of run
    directories) into `store`; `entity`/`project` override what the runs say. Never raises for one bad
    run: it is reported in the returned ImportReport's `skipped`, and the others go on."""
    pb = load_proto()
    report = ImportReport()
    files, missing = find_run_files(paths)
    report.skipped.extend(missing)
    sources: list[_Source] = []
    for f in files:
        peeked = _peek(f, pb, entity, project)
        if isinstance(peeked, Skipped):
            report.skipped.append(peeked)
        else:
            sources.append(peeked)
    ordered = _order(sources)
    total = sum(s.file.stat().st_size for s in ordered)
    done = 0
    for src in ordered:
        label = src.label
        base = done
        reported = [0]

        def tick(scan: RecordScan, base: int = base, label: str = label, reported: list[int] = reported) -> None:
            if progress is not None and scan.position - reported[0] >= _PROGRESS_EVERY:
                reported[0] = scan.position
                progress(base + scan.position, total, label)

        if progress is not None:
            progress(done, total, label)
        try:
            result = _import_source(store, src, pb, tick)
        except RuntreeError as e:
            result = Skipped(label, str(e))
        if isinstance(result, Skipped):
            report.skipped.append(result)
        else:
            report.imported.append(result)
        done += src.file.stat().st_size
        if progress is not None:
            progress(done, total, label)
    return report


# -- the command line ---------------------------------------------------------------------------
def run_import_cli(
    paths: Sequence[str | os.PathLike[str]],
    store_url: str | None,
    console: Any,
    *,
    entity: str | None = None,
    project: str | None = None,
) -> int:
    """`runtree import wandb PATH...`: import with a progress bar on `console` (a rich Console), then print
    what was imported and what was skipped. Returns the exit status: 1 when a path could not be imported."""
    from rich.markup import escape
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    store = open_store(store_url or os.environ.get("RUNTREE_STORE_URL") or default_store_url())
    with Progress(
        TextColumn("[bold]importing[/] {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=None)

        def show(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, description=escape(Path(label).name))

        report = import_runs(store, paths, entity=entity, project=project, progress=show)

    if report.imported:
        table = Table(title=f"imported into {store.url}", title_justify="left")
        for col in ("W&B run", "runtree run", "how", "state", "rows", "system", "lines"):
            table.add_column(col, justify="right" if col in ("rows", "system", "lines") else "left")
        for r in report.imported:
            how = r.action
            if r.action == "forked":
                how = f"forked from {r.parent} at step {r.fork_step}"
            elif r.action == "rewound":
                how = f"rewound at step {r.fork_step}"
            table.add_row(escape(Path(r.source).name), escape(r.path), escape(how), r.state, str(r.rows), str(r.system), str(r.lines))
        console.print(table)
    for r in report.imported:
        if r.problem is not None:
            console.print(f"[yellow]partly read[/] {escape(r.source)}: {escape(str(r.problem))}")
        for note in r.notes:
            console.print(f"[yellow]note[/] {escape(r.source)}: {escape(note)}")
    for s in report.skipped:
        tag = "[dim]unchanged[/]" if s.already else "[red]skipped[/]"
        console.print(f"{tag} {escape(s.source)}: {escape(s.reason)}")
    n_new = len(report.imported)
    n_old = sum(s.already for s in report.skipped)
    n_bad = len(report.skipped) - n_old
    console.print(f"{n_new} imported, {n_old} already there, {n_bad} skipped")
    return 0 if report.ok else 1
