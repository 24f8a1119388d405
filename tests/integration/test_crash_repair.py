"""Stale state after a crash or an interrupted sync (issue 9 item 9), with real processes killed by SIGKILL.

Whoever marks a run crashed recomputes its summary and last step from the stored rows; a server marks its
killed runs crashed by itself (a reaper thread), read or not; an interrupted `runtree sync` leaves the copy
not-finished, and finished only once a later sync brought every row.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import runtree
from runtree.domain import lineage
from runtree.domain.records import CRASHED, FINISHED, RUNNING, RunRecord
from runtree.store.remote import RemoteStore
from runtree.store.sqlite import SqliteStore
from tests.integration.server_fixture import Server, free_port, running_server, stop

LOGGER = """
import sys, time, runtree
run = runtree.init(project="crash", id="k")
for step in range(int(sys.argv[1])):
    run.log({"x": float(step), "loss": 1.0 / (step + 1)})
run._writer.sync()
print("logged", flush=True)
time.sleep(600)
"""


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNTREE_", "WANDB_"))}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), RUNTREE_ENTITY="tester", RUNTREE_CONSOLE="off",
               RUNTREE_SYSTEM_SAMPLE_INTERVAL="0", RUNTREE_DIR=str(tmp_path / "rt"))  # fmt: skip
    env.update(extra)
    return env


def _kill_after_logging(env: dict[str, str], rows: int) -> None:
    p = subprocess.Popen([sys.executable, "-c", LOGGER, str(rows)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout is not None
    line = p.stdout.readline()
    if line.strip() != "logged":
        p.kill()
        pytest.fail(f"the logging process failed: {p.communicate()[1]}")
    p.send_signal(signal.SIGKILL)
    p.communicate()


def test_a_killed_runs_summary_and_last_step_are_repaired_from_its_rows(rt_dir: Path, tmp_path: Path) -> None:
    rows = 20_001
    _kill_after_logging(_env(tmp_path, RUNTREE_DIR=str(rt_dir)), rows)
    store = SqliteStore(rt_dir / "runtree.db")
    before = store.find_run("tester", "crash", "k")
    assert before is not None and before.state == RUNNING
    run = runtree.Api().run("crash/k")  # whoever reads it first marks it crashed
    assert run.state == CRASHED
    stored = store.get_run(before.uid)
    assert stored.state == CRASHED and stored.last_step == rows - 1
    assert stored.summary["x"] == float(rows - 1) and stored.summary["loss"] == 1.0 / rows
    store.close()


@pytest.fixture
def reaping_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str) -> Iterator[Server]:
    """A server on PostgreSQL whose reaper passes every second, with a 5 s heartbeat timeout."""
    monkeypatch.setenv("RUNTREE_REAP_INTERVAL", "1")
    monkeypatch.setenv("RUNTREE_STALE_AFTER", "5")
    with running_server(pg_url, tmp_path / "server") as server:
        yield server


def _wait_state(store: RemoteStore, uid: str, state: str, timeout: float = 30) -> RunRecord:
    deadline = time.monotonic() + timeout
    while True:
        run = store.get_run(uid)  # a plain read: it reaps nothing itself
        if run.state == state or time.monotonic() > deadline:
            return run
        time.sleep(0.2)


def test_the_server_marks_a_killed_sdk_run_crashed_by_itself(reaping_server: Server, tmp_path: Path) -> None:
    env = _env(tmp_path, RUNTREE_BASE_URL=reaping_server.url, RUNTREE_API_KEY=reaping_server.admin_key)
    _kill_after_logging(env, 5_000)
    admin = RemoteStore(reaping_server.url, reaping_server.admin_key)
    found = admin.find_run("tester", "crash", "k")
    assert found is not None
    run = _wait_state(admin, found.uid, CRASHED)
    assert run.state == CRASHED and run.last_step == 4_999 and run.summary["x"] == 4_999.0
    admin.close()


def test_the_server_marks_a_silent_run_of_another_host_crashed(reaping_server: Server) -> None:
    """The wandb client's case: no pid to check here, only a heartbeat that stopped."""
    admin = RemoteStore(reaping_server.url, reaping_server.admin_key)
    uid = "s" * 32
    now = time.time()
    admin.create_run(
        RunRecord(uid=uid, entity="e", project="p", id="w", name="w", created_at=now, state=RUNNING, host="elsewhere", heartbeat_at=now),
        lineage.new_run(uid),
    )
    admin.append_rows(uid, 0, [(s, now, {"_step": s, "acc": s / 10}) for s in range(7)])
    assert admin.get_run(uid).state == RUNNING
    run = _wait_state(admin, uid, CRASHED)
    assert run.state == CRASHED and run.last_step == 6 and run.summary["acc"] == 0.6
    admin.close()


def test_an_interrupted_sync_never_shows_the_run_finished(reaping_server: Server, tmp_path: Path) -> None:
    rows = 200_000
    local = tmp_path / "offline"
    env = _env(tmp_path, RUNTREE_DIR=str(local))
    fill = "import runtree\nrun = runtree.init(project='sync', id='big')\n"
    fill += f"for s in range({rows}):\n    run.log({{'x': float(s)}})\nrun.finish()\n"
    p = subprocess.run([sys.executable, "-c", fill], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    admin = RemoteStore(reaping_server.url, reaping_server.admin_key)
    cmd = [sys.executable, "-m", "runtree.cli", "sync", str(local), "--to", reaping_server.url]
    env["RUNTREE_API_KEY"] = reaping_server.admin_key
    sync = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while True:  # kill it once part of the history is there
        found = admin.find_run("tester", "sync", "big")
        last = admin.last_row(admin.read_segments(found.uid)) if found is not None else None
        if last is not None or sync.poll() is not None or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    sync.send_signal(signal.SIGKILL)
    sync.communicate()
    assert found is not None and last is not None
    partial = admin.get_run(found.uid)
    stored = admin.last_row(admin.read_segments(found.uid))
    assert stored is not None and stored[0] < rows - 1, "the sync finished before it could be interrupted"
    assert partial.state != FINISHED
    assert _wait_state(admin, found.uid, CRASHED).state == CRASHED  # the sync process is gone
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    done = admin.get_run(found.uid)
    assert done.state == FINISHED and done.last_step == rows - 1
    assert admin.last_row(admin.read_segments(found.uid)) is not None
    assert sum(1 for _ in admin.read_rows(admin.read_segments(found.uid))) == rows
    admin.close()


def test_runtree_ui_marks_a_killed_run_crashed_without_a_reader(rt_dir: Path, tmp_path: Path) -> None:
    """The UI showed a killed run `running` until someone used the Python API; its own reaper marks it now."""
    _kill_after_logging(_env(tmp_path, RUNTREE_DIR=str(rt_dir)), 100)
    env = _env(tmp_path, RUNTREE_DIR=str(rt_dir), RUNTREE_REAP_INTERVAL="1")
    ui = subprocess.Popen(
        [sys.executable, "-m", "runtree.cli", "ui", "--no-browser", "--port", str(free_port())],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    store = SqliteStore(rt_dir / "runtree.db")
    try:
        deadline = time.monotonic() + 60
        while (run := store.find_run("tester", "crash", "k")) is not None and run.state == RUNNING and time.monotonic() < deadline:
            assert ui.poll() is None, ui.communicate()[0]
            time.sleep(0.2)
        assert run is not None and run.state == CRASHED and run.last_step == 99
    finally:
        stop(ui)
        ui.communicate()
        store.close()
