"""The `runtree` command, run as a real process against a store that real runs logged to."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import runtree
from runtree.store import open_store

SETTINGS = {"console": "off", "system_sample_interval": 0}

CRASHING = """
import os, sys, runtree
run = runtree.init(project="p", id="crashy", dir=sys.argv[1], entity="tester", settings={"console": "off", "system_sample_interval": 0})
os._exit(0)  # gone without finish(): the reaper marks the run crashed
"""


@dataclass(frozen=True)
class Store:
    dir: Path
    base: runtree.Run
    child: runtree.Run
    other: runtree.Run
    rewound: runtree.Run


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """Project p: base (10 steps), child forked at 5, a run rewound at 4, a crashed run; project q: a fork of child."""
    d = tmp_path_factory.mktemp("cli") / "rt"

    def init(project: str = "p", **kw: object) -> runtree.Run:
        return runtree.init(project=project, entity="tester", dir=d, settings=SETTINGS, reinit="create_new", **kw)  # type: ignore[arg-type]

    t0 = time.time()
    base = init()
    for i in range(10):
        base.log({"x": i, "loss": 1.0 / (i + 1), **({"val": i * 10} if i % 3 == 0 else {})})
    base.finish()
    child = init(fork_from=f"{base.id}?_step=5")
    for i in range(3):
        child.log({"x": 100 + i})
    child.finish()
    other = init("q", fork_from=f"{child.uid}?_step=7")
    other.finish()
    rw = init(name="to-rewind")
    for i in range(10):
        rw.log({"x": i})
    rw.finish()
    rewound = init(resume_from=f"{rw.id}?_step=4")
    for i in range(2):
        rewound.log({"x": 50 + i})
    rewound.finish()
    # Console lines go in through the Store protocol: one before base's fork point (so child inherits it), one after.
    open_store(str(d)).append_logs(
        base.uid, 0, [(0, t0, 0, "stdout", "hello from base"), (1, time.time(), 9, "stderr", "warning: late line\n")]
    )
    proc = subprocess.run([sys.executable, "-c", CRASHING, str(d)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return Store(d, base, child, other, rewound)


def cli(store: Store | Path, *args: str) -> subprocess.CompletedProcess[str]:
    d = store.dir if isinstance(store, Store) else store
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNTREE_", "WANDB_"))}
    env.update(RUNTREE_DIR=str(d), RUNTREE_ENTITY="tester")
    return subprocess.run([sys.executable, "-m", "runtree.cli", *args], capture_output=True, text=True, env=env, timeout=60)


def ok(store: Store | Path, *args: str) -> str:
    proc = cli(store, *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def table_row(out: str, run_id: str) -> list[str]:
    [line] = [ln for ln in out.splitlines() if ln.split("│")[0].strip() == run_id]
    return [cell.strip() for cell in line.split("│")]


def test_runs_lists_ids_parents_fork_steps_and_states(store: Store) -> None:
    out = ok(store, "runs", "p")
    header = [h.strip() for h in out.splitlines()[0].split("┃")]
    assert header == ["id", "name", "state", "parent", "fork step", "last step", "created"]
    run_id, _name, state, parent, fork_step, last_step, created = table_row(out, store.child.id)
    assert (run_id, state, parent, fork_step, last_step) == (store.child.id, "finished", store.base.id, "5", "8")
    assert time.strptime(created, "%Y-%m-%d %H:%M:%S")
    assert table_row(out, store.base.id)[3:6] == ["", "", "9"]
    assert table_row(out, store.rewound.id)[1:6] == ["to-rewind", "finished", "", "", "6"]
    assert table_row(out, "crashy")[2] == "crashed"
    assert store.other.id not in out


def test_runs_without_project_lists_every_project_and_qualifies_foreign_parents(store: Store) -> None:
    out = ok(store, "runs")
    assert table_row(out, store.other.id)[3:5] == [f"p/{store.child.id}", "7"]
    assert table_row(out, store.base.id)[0] == store.base.id


def test_tree_puts_children_under_parents_with_fork_step_and_marks_rewinds(store: Store) -> None:
    lines = ok(store, "tree", "tester/p").splitlines()
    assert lines[0] == "tester/p"
    [base_i] = [i for i, ln in enumerate(lines) if f"{store.base.id} (" in ln]
    [child_i] = [i for i, ln in enumerate(lines) if f"{store.child.id} (" in ln]
    assert child_i == base_i + 1
    assert lines[child_i].index(store.child.id) > lines[base_i].index(store.base.id)  # indented one level deeper
    assert f"{store.child.id} ({store.child.name}) forked at _step 5 · finished · last step 8" in lines[child_i]
    assert "forked" not in lines[base_i]
    [rw] = [ln for ln in lines if store.rewound.id in ln]
    assert "to-rewind" in rw and "last step 6" in rw and "↺ rewound at 4 (archived 5–9)" in rw
    [crashy] = [ln for ln in lines if "crashy" in ln]
    assert "crashed" in crashy


def test_tree_shows_a_parent_in_another_project(store: Store) -> None:
    out = ok(store, "tree", "q")
    assert f"{store.other.id} ({store.other.name}) forked from p/{store.child.id} at _step 7" in out


def test_history_csv_includes_inherited_rows(store: Store) -> None:
    rows = list(csv.DictReader(io.StringIO(ok(store, "history", f"p/{store.child.id}"))))
    assert list(rows[0])[:3] == ["_step", "x", "loss"]
    assert [(r["_step"], r["x"]) for r in rows] == [(str(i), str(i)) for i in range(6)] + [("6", "100"), ("7", "101"), ("8", "102")]
    assert rows[1]["loss"] == "0.5" and rows[6]["loss"] == ""


def test_history_keys_and_step_range(store: Store) -> None:
    out = ok(store, "history", f"tester/p/{store.child.id}", "--keys", "val")
    assert out.splitlines() == ["_step,val", "0,0", "3,30"]  # base's rows up to the fork step only
    out = ok(store, "history", store.child.uid, "--keys", "x", "--min-step", "4", "--max-step", "6")
    assert out.splitlines() == ["_step,x", "4,4", "5,5", "6,100"]


def test_history_json_lines(store: Store) -> None:
    rows = [json.loads(ln) for ln in ok(store, "history", f"p/{store.child.id}", "--format", "json").splitlines()]
    assert [r["_step"] for r in rows] == list(range(9)) and rows[-1]["x"] == 102 and "_timestamp" in rows[0]
    rows = [json.loads(ln) for ln in ok(store, "history", f"p/{store.rewound.id}", "--format", "json", "--keys", "x").splitlines()]
    assert rows == [{"_step": i, "x": x} for i, x in enumerate([0, 1, 2, 3, 4, 50, 51])]


def test_logs_prints_console_lines_in_order(store: Store) -> None:
    assert ok(store, "logs", f"p/{store.base.id}") == "hello from base\nwarning: late line\n"
    assert ok(store, "logs", f"p/{store.child.id}") == "hello from base\n"  # inherited up to the fork moment


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["history", "p/nosuchrun"], "nosuchrun"),
        (["logs", "tester/p/nosuchrun"], "nosuchrun"),
        (["history", "a/b/c/d/e"], "a/b/c/d/e"),
        (["tree", "nosuchproject"], "nosuchproject"),
        (["runs", "nosuchproject"], "nosuchproject"),
        (["history", "p/x", "--format", "xml"], "xml"),
    ],
)
def test_errors_are_one_line_without_traceback(store: Store, args: list[str], named: str) -> None:
    proc = cli(store, *args)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and named in proc.stderr, proc.stderr


def test_missing_store_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    proc = cli(missing, "runs")
    assert proc.returncode == 1 and str(missing) in proc.stderr and "Traceback" not in proc.stderr
    assert not missing.exists()


def test_dir_option_before_or_after_the_command(store: Store, tmp_path: Path) -> None:
    elsewhere = tmp_path / "empty"
    assert store.base.id in ok(elsewhere, "--dir", str(store.dir), "runs", "p")
    assert store.base.id in ok(elsewhere, "runs", "p", "--dir", str(store.dir / "runtree.db"))


def test_python_dash_m_runtree(store: Store) -> None:
    proc = subprocess.run([sys.executable, "-m", "runtree", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "tree" in proc.stdout and "history" in proc.stdout


def test_import_wandb_command_reports_a_path_that_is_not_a_run(tmp_path: Path) -> None:
    junk = tmp_path / "not-a-run"
    junk.mkdir()
    (junk / "run-x.wandb").write_bytes(b"garbage")
    done = subprocess.run(
        [sys.executable, "-m", "runtree.cli", "import", "wandb", str(junk), "--dir", str(tmp_path / "store")],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "skipped" in (done.stdout + done.stderr).lower()
