"""`runtree import wandb`: offline runs made by the real wandb client, a fork and a rewind among them,
imported into a store and read back through runtree.Api; truncated and damaged files; re-import."""

from __future__ import annotations

import io
import math
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("wandb", reason="the wandb client is needed to make W&B offline runs and to read them: pip install wandb")

import runtree
from runtree.domain.records import Segment
from runtree.importers.wandb_log import RecordScan
from runtree.importers.wandb_offline import ImportReport, import_runs, run_import_cli
from runtree.store import open_store

pytestmark = pytest.mark.slow

INF = float("inf")
WEIRD = [0.5, float("nan"), INF, -INF]  # logged in turn as "weird": NaN and ±inf must come back exactly

RUNS = """
import math, sys, time
import wandb

settings = wandb.Settings(x_stats_sampling_interval=0.1)
WEIRD = [0.5, float("nan"), float("inf"), float("-inf")]

run = wandb.init(project="imp", id="parent01", notes="the parent", tags=["base", "w"], settings=settings,
                 config={"lr": 0.1, "layers": [64, 32], "opt": {"name": "adam", "beta": 0.9}})
run.define_metric("loss", summary="min")
run.define_metric("val/*", step_metric="epoch")
for i in range(10):
    row = {"loss": 1.0 / (i + 1), "acc": i, "weird": WEIRD[i % 4], "d": {"x": i}}
    if i % 3 == 0:
        row["val/acc"] = i * 10
        row["epoch"] = i // 3
    run.log(row)
    print(f"step {i}")
    time.sleep(0.02)
for k in range(3):
    sys.stdout.write(f"\\rprogress {k}/2")
    sys.stdout.flush()
print()
print("to stderr", file=sys.stderr)
time.sleep(0.4)  # system metrics every 0.1 s
run.summary["note"] = "kept"
run.finish()

child = wandb.init(project="imp", id="child001", fork_from="parent01?_step=5", config={"lr": 0.01}, settings=settings)
for i in range(3):
    child.log({"loss": 0.01 * (i + 1)})
print("child done")
child.finish()

failed = wandb.init(project="imp", id="failed01")
failed.log({"loss": 2.0})
failed.finish(exit_code=2)

rw = wandb.init(project="imp", id="rewound1")
for i in range(6):
    rw.log({"x": i})
rw.summary["best"] = 42  # a summary-only key: it belongs to the run and outlives the rewind
rw.finish()
rw = wandb.init(project="imp", id="rewound1", resume_from="rewound1?_step=2")
for i in range(2):
    rw.log({"x": 100 + i})
rw.finish()
"""

# Killed without finish(): the client flushes whole 32 KiB blocks only, so log enough to fill some.
CRASH = """
import os, wandb
run = wandb.init(project="imp", id="crash001")
for i in range(1500):
    run.log({"loss": i * 0.5, "tag": "t" * 40})
print("about to die")
os._exit(1)
"""


@dataclass(frozen=True)
class Made:
    root: Path  # WANDB_DIR
    runs: dict[str, Path]  # W&B run id -> offline run directory (the rewind under "rewound1@2")

    @property
    def wandb(self) -> Path:
        return self.root / "wandb"


def _wandb_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNTREE_"))}
    env.update(
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        WANDB_DIR=str(root),
        WANDB_CONFIG_DIR=str(root / "config"),
        WANDB_CACHE_DIR=str(root / "cache"),
        WANDB_DATA_DIR=str(root / "data"),
        WANDB_ERROR_REPORTING="false",
        WANDB_DISABLE_GIT="true",
    )
    return env


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    root = tmp_path_factory.mktemp("wandb")
    env = _wandb_env(root)
    for script, ok in ((RUNS, True), (CRASH, False)):
        proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=root, capture_output=True, text=True, timeout=240)
        assert (proc.returncode == 0) == ok, f"wandb script exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    runs: dict[str, Path] = {}
    for d in sorted((root / "wandb").glob("offline-run-*")):
        run_id = wandb_file(d).stem[len("run-") :]  # a second directory of one id in one second is named ...-<id>-1
        runs[f"{run_id}@2" if run_id in runs else run_id] = d
    assert set(runs) == {"parent01", "child001", "failed01", "rewound1", "rewound1@2", "crash001"}, runs
    return Made(root, runs)


def wandb_file(d: Path) -> Path:
    (f,) = d.glob("*.wandb")
    return f


def do_import(store_dir: Path, *paths: Path | str, **kw: Any) -> ImportReport:
    return import_runs(open_store(str(store_dir)), paths, entity="tester", **kw)


def api(store_dir: Path) -> runtree.Api:
    return runtree.Api(store=str(store_dir))


def dump(store_dir: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to show that an import changed nothing."""
    con = sqlite3.connect(store_dir / "runtree.db")
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {t: sorted(map(tuple, con.execute(f'SELECT * FROM "{t}"')), key=repr) for t in tables}
    finally:
        con.close()


def same(a: Any, b: Any) -> bool:
    """Equality that treats NaN as equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


@pytest.fixture
def imported(made: Made, tmp_path: Path) -> tuple[Path, ImportReport]:
    store_dir = tmp_path / "rt"
    return store_dir, do_import(store_dir, made.wandb)


# -- what was imported --------------------------------------------------------------------------
def test_every_run_is_imported_parents_first(imported: tuple[Path, ImportReport]) -> None:
    _store_dir, report = imported
    assert report.ok and not report.skipped
    order = [(r.path.rsplit("/", 1)[1], r.action) for r in report.imported]
    assert [x for x in order if x[0] in ("parent01", "child001")] == [("parent01", "created"), ("child001", "forked")]
    assert [x for x in order if x[0] == "rewound1"] == [("rewound1", "created"), ("rewound1", "rewound")]
    assert {x[0] for x in order} == {"parent01", "child001", "failed01", "rewound1", "crash001"}


def test_history_values_come_back_exactly(imported: tuple[Path, ImportReport]) -> None:
    store_dir, _ = imported
    rows = api(store_dir).run("tester/imp/parent01").history(pandas=False)
    assert [r["_step"] for r in rows] == list(range(10))
    for i, row in enumerate(rows):
        assert row["loss"] == 1.0 / (i + 1)
        assert row["acc"] == i
        assert same(row["weird"], WEIRD[i % 4])
        assert row["d.x"] == i  # a logged {"d": {"x": i}} is flattened, as runtree.log does
        assert ("val/acc" in row) == (i % 3 == 0)
        if i % 3 == 0:
            assert (row["val/acc"], row["epoch"]) == (i * 10, i // 3)
        assert isinstance(row["_timestamp"], float) and row["_runtime"] >= 0


def test_config_tags_notes_state_and_metric_defs(imported: tuple[Path, ImportReport]) -> None:
    store_dir, _ = imported
    a = api(store_dir)
    parent = a.run("tester/imp/parent01")
    assert parent.config == {"lr": 0.1, "layers": [64, 32], "opt": {"name": "adam", "beta": 0.9}}  # no _wandb
    assert parent.tags == ["base", "w"] and parent.notes == "the parent"
    assert (parent.state, parent._record.exit_code) == ("finished", 0)
    defs = parent._record.metric_defs
    assert defs["loss"]["summary"] == ["min"]
    assert defs["val/*"]["step_metric"] == "epoch"
    failed = a.run("tester/imp/failed01")
    assert (failed.state, failed._record.exit_code) == ("failed", 2)
    assert parent.metadata["wandb"]["run_id"] == "parent01"


def test_summary_is_wandbs_with_runtree_underscore_keys(imported: tuple[Path, ImportReport]) -> None:
    store_dir, _ = imported
    s = api(store_dir).run("tester/imp/parent01").summary
    assert s["loss"] == {"min": 0.1}
    assert s["acc"] == 9 and s["d.x"] == 9 and s["val/acc"] == 90
    assert s["note"] == "kept"
    assert s["_step"] == 9 and s["_runtime"] > 0  # not the client's trailing "_runtime: 0"
    assert not any(k.startswith("_wandb") for k in s)


def test_fork_is_a_fork_without_copied_rows(imported: tuple[Path, ImportReport]) -> None:
    store_dir, _ = imported
    a = api(store_dir)
    parent = a.run("tester/imp/parent01")
    child = a.run("tester/imp/child001")
    assert (child.parent_uid, child.fork_step) == (parent.uid, 5)
    segs = child.segments
    assert [(s.source_uid, s.epoch, s.first_step, s.last_step) for s in segs] == [(parent.uid, 0, 0, 5), (child.uid, 0, 6, None)]
    rows = child.history(pandas=False)
    assert [r["_step"] for r in rows] == list(range(9))
    assert [r["loss"] for r in rows[:6]] == [1.0 / (i + 1) for i in range(6)]  # inherited, read from the parent
    assert [r["loss"] for r in rows[6:]] == [0.01, 0.02, 0.03]
    own = list(a.store.read_rows([Segment(child.uid, 0, 0)]))
    assert [r["_step"] for r in own] == [6, 7, 8]  # the child stores only its own rows
    assert child.config == {"lr": 0.01, "layers": [64, 32], "opt": {"name": "adam", "beta": 0.9}}
    s = child.summary
    assert s["loss"] == {"min": 0.01} and s["acc"] == 5 and s["_step"] == 8
    assert [c.id for c in parent.children()] == ["child001"]


def test_console_output_as_wandb_shows_it(made: Made, imported: tuple[Path, ImportReport]) -> None:
    store_dir, _ = imported
    lines = api(store_dir).run("tester/imp/parent01").logs()
    stdout = [ln["text"] for ln in lines if ln["stream"] == "stdout"]
    assert stdout == [f"step {i}" for i in range(10)] + ["progress 2/2"]  # the \r progress bar collapsed
    assert [ln["text"] for ln in lines if ln["stream"] == "stderr"] == ["to stderr"]
    assert [ln["step"] for ln in lines if ln["stream"] == "stdout"][:10] == list(range(10))
    # W&B's own output.log, made from the same stream, has the same lines.
    wandb_log = (made.runs["parent01"] / "files" / "output.log").read_text().splitlines()
    assert [ln for ln in wandb_log if ln != "to stderr"] == stdout
    child_lines = [ln["text"] for ln in api(store_dir).run("tester/imp/child001").logs()]
    assert child_lines[-1] == "child done" and "step 0" in child_lines  # inherited up to the fork moment


def test_system_metrics_are_a_time_stream(imported: tuple[Path, ImportReport]) -> None:
    store_dir, _ = imported
    a = api(store_dir)
    parent = a.run("tester/imp/parent01")
    samples = parent.system_metrics(pandas=False)
    assert len(samples) >= 2
    assert all("system.memory_percent" in s and "system.proc.memory.rssMB" in s for s in samples)
    times = [s["_timestamp"] for s in samples]
    assert times == sorted(times)
    child = a.run("tester/imp/child001")
    cut = child.segments[0].until_time
    assert cut is not None
    inherited = [s for s in child.system_metrics(pandas=False) if s["_timestamp"] <= cut]
    assert inherited == [s for s in samples if s["_timestamp"] <= cut]


def test_rewind_is_a_rewind(imported: tuple[Path, ImportReport]) -> None:
    store_dir, _ = imported
    run = api(store_dir).run("tester/imp/rewound1")
    assert [(r["_step"], r["x"]) for r in run.history(pandas=False)] == [(0, 0), (1, 1), (2, 2), (3, 100), (4, 101)]
    assert run.epoch == 1
    assert run.summary["best"] == 42 and run.summary["x"] == 101
    (arch,) = run.archived_segments()
    assert (arch.first_step, arch.last_step, arch.rewound_at) == (3, 5, 2)
    assert [r["x"] for r in arch.history(pandas=False)] == [3, 4, 5]


def test_a_killed_run_is_crashed_with_what_was_flushed(made: Made, imported: tuple[Path, ImportReport]) -> None:
    store_dir, report = imported
    run = api(store_dir).run("tester/imp/crash001")
    assert run.state == "crashed" and run._record.exit_code is None
    rows = run.history(pandas=False)
    assert 0 < len(rows) <= 1500  # however much the client flushed before os._exit: a gap-free prefix
    assert [(r["_step"], r["loss"]) for r in rows] == [(i, i * 0.5) for i in range(len(rows))]
    (result,) = [r for r in report.imported if r.path == "tester/imp/crash001"]
    size = wandb_file(made.runs["crash001"]).stat().st_size
    if result.problem is not None:  # the client writes whole blocks, so the last record often straddles the end
        assert result.problem.offset + result.problem.skipped_bytes == size


# -- damaged files, re-import ---------------------------------------------------------------------
def _cut_after_step(src: Path, step: int, into: int) -> tuple[int, int]:
    """(end of the history record of `step`, cut offset `into` bytes further): a cut inside the next chunk."""
    scan = RecordScan(src)
    for rec in scan:
        if rec.WhichOneof("record_type") == "history" and any(
            item.nested_key[:1] == ["_step"] and item.value_json == str(step) for item in rec.history.item
        ):
            return scan.position, scan.position + into
    raise AssertionError(f"no history row {step} in {src}")


def test_truncated_file_imports_what_is_whole(made: Made, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    for name in ("parent01", "child001"):
        shutil.copytree(made.runs[name], copy / made.runs[name].name)
    f = wandb_file(copy / made.runs["parent01"].name)
    whole, cut = _cut_after_step(f, 6, into=10)
    assert cut // (32 * 1024) == whole // (32 * 1024) and cut % (32 * 1024) != 0  # mid-block
    data = f.read_bytes()
    f.write_bytes(data[:cut])

    store_dir = tmp_path / "rt"
    report = do_import(store_dir, copy)
    assert report.ok
    ((source, problem),) = report.problems
    assert Path(source).name == made.runs["parent01"].name
    assert (problem.offset, problem.skipped_bytes) == (whole, cut - whole)
    assert problem.records > 0 and "ends inside a chunk" in problem.reason

    a = api(store_dir)
    parent = a.run("tester/imp/parent01")
    assert [r["_step"] for r in parent.history(pandas=False)] == list(range(7))
    assert parent.state == "crashed"  # its exit record was in the part cut off
    child = a.run("tester/imp/child001")  # the fork at step 5 is whole
    assert [r["loss"] for r in child.history(pandas=False)] == [1.0 / (i + 1) for i in range(6)] + [0.01, 0.02, 0.03]
    assert child.state == "finished"

    out = io.StringIO()
    from rich.console import Console

    assert run_import_cli([str(copy)], str(store_dir), Console(file=out, width=300), entity="tester") == 0
    assert out.getvalue().count("already imported") == 2

    fresh = io.StringIO()
    assert run_import_cli([str(copy)], str(tmp_path / "rt2"), Console(file=fresh, width=300), entity="tester") == 0
    assert f"partly read {copy / made.runs['parent01'].name}: the file ends inside a chunk" in fresh.getvalue()
    assert f"{cut - whole} bytes from there on skipped" in fresh.getvalue()


def test_reimport_changes_nothing(made: Made, imported: tuple[Path, ImportReport]) -> None:
    store_dir, _ = imported
    before = dump(store_dir)
    again = do_import(store_dir, made.wandb)
    assert not again.imported and again.ok
    assert len(again.skipped) == 6 and all(s.already for s in again.skipped)
    assert dump(store_dir) == before


def test_a_damaged_copy_of_an_imported_run_changes_nothing(made: Made, imported: tuple[Path, ImportReport], tmp_path: Path) -> None:
    store_dir, _ = imported
    before = dump(store_dir)
    copy = tmp_path / made.runs["parent01"].name
    shutil.copytree(made.runs["parent01"], copy)
    f = wandb_file(copy)
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data[: len(data) - 100]))
    report = do_import(store_dir, copy)
    assert [s.already for s in report.skipped] == [True]
    assert dump(store_dir) == before


def test_a_grown_file_adds_what_is_new(made: Made, tmp_path: Path) -> None:
    """A run imported from a truncated copy, then from the whole file: the rest is added, nothing doubled."""
    copy = tmp_path / made.runs["parent01"].name
    shutil.copytree(made.runs["parent01"], copy)
    f = wandb_file(copy)
    _, cut = _cut_after_step(f, 3, into=5)
    f.write_bytes(f.read_bytes()[:cut])
    store_dir = tmp_path / "rt"
    first = do_import(store_dir, copy)
    assert first.imported[0].rows == 4 and first.imported[0].state == "crashed"
    second = do_import(store_dir, made.runs["parent01"])
    (r,) = second.imported
    assert (r.action, r.state, r.problem) == ("updated", "finished", None)
    run = api(store_dir).run("tester/imp/parent01")
    assert [x["_step"] for x in run.history(pandas=False)] == list(range(10))
    assert run.summary["loss"] == {"min": 0.1} and run.state == "finished"
    lines = [ln["text"] for ln in run.logs()]
    assert len(lines) == len(set(lines)) == 12


def test_files_that_are_not_wandb_logs_are_skipped(made: Made, tmp_path: Path) -> None:
    bad = tmp_path / "offline-run-20200101_000000-garbage1"
    bad.mkdir()
    (bad / "run-garbage1.wandb").write_bytes(b"this is not a W&B file at all")
    empty = tmp_path / "offline-run-20200101_000001-empty001"
    empty.mkdir()
    (empty / "run-empty001.wandb").write_bytes(b":W&B\xe1\xbe\x00")  # a run killed before its first block filled
    store_dir = tmp_path / "rt"
    report = do_import(store_dir, bad, empty, made.runs["failed01"], tmp_path / "missing")
    assert [r.path for r in report.imported] == ["tester/imp/failed01"]
    reasons = {Path(s.source).name: s.reason for s in report.skipped}
    assert reasons[bad.name].startswith("not a W&B transaction log: it starts with b'this'")
    assert reasons[empty.name].startswith("no run record: the run stopped before its client wrote one")
    assert "no such file" in reasons["missing"]
    assert not report.ok
    assert [r.id for r in api(store_dir).runs("tester/imp")] == ["failed01"]


def test_a_fork_whose_parent_is_missing_is_skipped(made: Made, tmp_path: Path) -> None:
    store_dir = tmp_path / "rt"
    report = do_import(store_dir, made.runs["child001"])
    (s,) = report.skipped
    assert "forked from run 'parent01'" in s.reason and not s.already
    assert api(store_dir).runs() == []
    # imported later, with the parent already in the store, it becomes the fork
    do_import(store_dir, made.runs["parent01"])
    (r,) = do_import(store_dir, made.runs["child001"]).imported
    assert (r.action, r.parent, r.fork_step) == ("forked", "tester/imp/parent01", 5)


def test_an_id_taken_by_another_run_is_left_alone(made: Made, tmp_path: Path) -> None:
    store_dir = tmp_path / "rt"
    run = runtree.init(
        project="imp", entity="tester", id="failed01", dir=str(store_dir), settings={"console": "off", "system_sample_interval": 0}
    )
    run.log({"mine": 1})
    run.finish()
    before = dump(store_dir)
    (s,) = do_import(store_dir, made.runs["failed01"]).skipped
    assert "did not come from this W&B run" in s.reason
    assert dump(store_dir) == before


def test_progress_and_cli_summary(made: Made, tmp_path: Path) -> None:
    from rich.console import Console

    seen: list[tuple[int, int, str]] = []
    do_import(tmp_path / "a", made.wandb, progress=lambda done, total, label: seen.append((done, total, label)))
    total = sum(wandb_file(d).stat().st_size for d in made.runs.values())
    assert seen[-1][:2] == (total, total)
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)

    out = io.StringIO()
    code = run_import_cli([str(made.wandb)], str(tmp_path / "b"), Console(file=out, width=300), entity="tester")
    text = out.getvalue()
    assert code == 0
    assert "forked from tester/imp/parent01 at step 5" in text and "rewound at step 2" in text
    assert "6 imported, 0 already there, 0 skipped" in text
    out = io.StringIO()
    assert run_import_cli([str(tmp_path / "nothing")], str(tmp_path / "b"), Console(file=out, width=300)) == 1
    assert "no such file or directory" in out.getvalue()


def test_a_fork_named_before_its_parent_and_a_project_override(made: Made, tmp_path: Path) -> None:
    store_dir = tmp_path / "rt"
    report = do_import(store_dir, made.runs["child001"], made.runs["parent01"], project="moved")
    assert [(r.path, r.action) for r in report.imported] == [("tester/moved/parent01", "created"), ("tester/moved/child001", "forked")]
    child = api(store_dir).run("tester/moved/child001")
    assert child.parent is not None and child.parent.path == "tester/moved/parent01"
