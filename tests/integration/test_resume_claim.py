"""Two processes resume="allow" one run at the same moment (issue 9 item 6): one gets it, the other RunIsActive.

The claim (is a live process logging the run? if not, it is mine) is one transaction on SQLite and on
PostgreSQL, and on a server in front of PostgreSQL; before it, 5 of 6 trials interleaved both processes' rows.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtree.store import open_store
from tests.integration.server_fixture import Server

CHILD = """
import json, os, sys, time
from pathlib import Path
import runtree
from runtree.errors import RunIsActive
go = Path(sys.argv[1])
(go.parent / f"ready-{os.getpid()}").touch()
while not go.exists():
    time.sleep(0.001)
try:
    if len(sys.argv) < 3:
        run = runtree.init(project="claim", id="r", resume="allow")
    else:
        run = runtree.init(project="claim", resume_from="r?_step=5")
except RunIsActive as e:
    print(json.dumps({"lost": str(e), "pid": os.getpid()}))
    sys.exit(0)
start = run.step
for step in range(start, start + 50):
    run.log({"who": float(os.getpid())})
time.sleep(3.0)  # still logging while the other process tries
run.finish()
print(json.dumps({"won": start, "pid": os.getpid()}))
"""

FIRST = """
import runtree
run = runtree.init(project="claim", id="r")
for step in range(10):
    run.log({"who": 0.0})
run.finish()
"""


def _env(tmp_path: Path, store: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNTREE_", "WANDB_"))}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), RUNTREE_ENTITY="tester", RUNTREE_CONSOLE="off",
               RUNTREE_SYSTEM_SAMPLE_INTERVAL="0", RUNTREE_DIR=str(tmp_path / "rt"), **store)  # fmt: skip
    return env


def _race(tmp_path: Path, env: dict[str, str], trial: int, *extra: str) -> list[dict[str, object]]:
    ready = tmp_path / f"trial-{trial}"
    ready.mkdir()
    go = ready / "go"
    cmd = [sys.executable, "-c", CHILD, str(go), *extra]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    deadline = time.monotonic() + 60
    while len(list(ready.glob("ready-*"))) < 2:  # both imported runtree and wait on the file
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.05)
    go.touch()
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def _check(tmp_path: Path, env: dict[str, str], url: str) -> None:
    p = subprocess.run([sys.executable, "-c", FIRST], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    for trial in range(3):
        results = _race(tmp_path, env, trial)
        won = [r for r in results if "won" in r]
        lost = [r for r in results if "lost" in r]
        assert len(won) == 1 and len(lost) == 1, results
        message = str(lost[0]["lost"])
        assert f"pid {won[0]['pid']}" in message and socket.gethostname() in message, message
        store = open_store(url)
        run = store.find_run("tester", "claim", "r")
        assert run is not None and run.state == "finished"
        rows = list(store.read_rows(store.read_segments(run.uid)))
        assert [r["_step"] for r in rows] == list(range(10 + 50 * (trial + 1)))
        mine = [r["who"] for r in rows if r["_step"] >= int(won[0]["won"])]  # type: ignore[call-overload]
        assert mine == [float(won[0]["pid"])] * 50  # type: ignore[arg-type]  # no row of the loser among them


def test_two_processes_resume_one_run_on_sqlite(tmp_path: Path) -> None:
    env = _env(tmp_path, {})
    _check(tmp_path, env, f"sqlite:///{tmp_path / 'rt' / 'runtree.db'}")


def test_two_processes_resume_one_run_on_postgres(pg_url: str, tmp_path: Path) -> None:
    _check(tmp_path, _env(tmp_path, {"RUNTREE_STORE_URL": pg_url}), pg_url)


def test_two_processes_resume_one_run_through_a_server(postgres_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    postgres_server.fresh_store().close()
    monkeypatch.setenv("RUNTREE_API_KEY", postgres_server.admin_key)  # for the test's own reads
    env = _env(tmp_path, {"RUNTREE_BASE_URL": postgres_server.url, "RUNTREE_API_KEY": postgres_server.admin_key})
    _check(tmp_path, env, postgres_server.url)


def test_two_processes_rewind_one_run_on_sqlite(tmp_path: Path) -> None:
    env = _env(tmp_path, {})
    p = subprocess.run([sys.executable, "-c", FIRST], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    results = _race(tmp_path, env, 0, "rewind")
    won = [r for r in results if "won" in r]
    lost = [r for r in results if "lost" in r]
    assert len(won) == 1 and len(lost) == 1, results
    assert f"pid {won[0]['pid']}" in str(lost[0]["lost"])
    store = open_store(f"sqlite:///{tmp_path / 'rt' / 'runtree.db'}")
    run = store.find_run("tester", "claim", "r")
    assert run is not None and run.state == "finished" and run.epoch == 1
    rows = list(store.read_rows(store.read_segments(run.uid)))
    assert [r["_step"] for r in rows] == list(range(6 + 50))
    assert [r["who"] for r in rows[6:]] == [float(won[0]["pid"])] * 50  # type: ignore[arg-type]
