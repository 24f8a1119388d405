"""Real processes: concurrent writers into one SQLite file, and a kill -9 in the middle of a run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import runtree

WRITER = """
import sys, runtree
run = runtree.init(project="conc", id=sys.argv[1])
for i in range(int(sys.argv[2])):
    run.log({"i": i, "who": sys.argv[1]})
run.finish()
"""

ENDLESS = """
import sys, runtree
run = runtree.init(project="crash", id="victim")
i = 0
while True:
    run.log({"i": i, "x": i * 0.5})
    i += 1
    if i == 2000:
        print("logging", flush=True)
"""


def _env(rt_dir: Path) -> dict[str, str]:
    return {**os.environ, "RUNTREE_DIR": str(rt_dir)}


@pytest.mark.slow
def test_four_processes_ten_thousand_rows_each(rt_dir: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, f"w{k}", "10000"], env=_env(rt_dir), stderr=subprocess.PIPE, text=True)
        for k in range(4)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    api = runtree.Api()
    for k in range(4):
        run = api.run(f"conc/w{k}")
        h = run.history()
        assert len(h) == 10_000 and list(h["i"]) == list(range(10_000)) and set(h["who"]) == {f"w{k}"}
        assert run.state == "finished" and run.summary["i"] == 9999


@pytest.mark.slow
def test_kill_9_leaves_a_consistent_store_and_a_crashed_run(rt_dir: Path) -> None:
    with subprocess.Popen([sys.executable, "-c", ENDLESS], env=_env(rt_dir), stdout=subprocess.PIPE, text=True) as p:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "logging"
        # Kill once more than the first 2,000 rows are stored, in the middle of more batches. (A kill -9 loses
        # what the writer had not committed: up to its current slice, a quarter second of the store's rate.)
        deadline = time.monotonic() + 60
        stored = 0
        while stored <= 2000 and time.monotonic() < deadline:
            time.sleep(0.1)
            with runtree.Api() as api:
                stored = len(api.run("crash/victim").history(keys=["i"]))
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)

    db = rt_dir / "runtree.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    run = runtree.Api().run("crash/victim")
    assert run.state == "crashed"  # its process is gone
    h = run.history()
    n = len(h)
    assert n > 2000
    assert list(h["_step"]) == list(range(n)) and list(h["i"]) == list(range(n))  # a gap-free prefix

    # The store stays usable: the crashed run can be resumed, forked and rewound.
    again = runtree.init(project="crash", id="victim", resume="allow")
    assert again.step == n
    again.log({"i": n})
    again.finish()
    assert runtree.Api().run("crash/victim").state == "finished"


NO_FINISH = """
import sys, runtree
run = runtree.init(project="exit", id=sys.argv[1])
for i in range(1000):
    run.log({"i": i})
if sys.argv[1] == "raises":
    raise RuntimeError("training blew up")
"""


@pytest.mark.parametrize(("run_id", "state", "code"), [("clean", "finished", 0), ("raises", "failed", 1)])
def test_unfinished_run_is_finished_at_exit(rt_dir: Path, run_id: str, state: str, code: int) -> None:
    done = subprocess.run([sys.executable, "-c", NO_FINISH, run_id], env=_env(rt_dir), capture_output=True, text=True, timeout=60)
    assert done.returncode == code
    run = runtree.Api().run(f"exit/{run_id}")
    assert run.state == state
    assert len(run.history()) == 1000
