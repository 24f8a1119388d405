"""`runtree sync`: offline runs (a fork and a rewind included) uploaded to a real server over HTTP, once.

mode="offline" must write nothing to the server even with RUNTREE_BASE_URL set; a sync uploads every run
with its lineage; a second sync sends nothing (the server is the watermark).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import runtree
from runtree.store import open_store
from tests.integration.server_fixture import Server


def _sync(rt: Path, server: Server) -> str:
    env = {**os.environ, "RUNTREE_API_KEY": server.admin_key}
    out = subprocess.run(
        [sys.executable, "-m", "runtree", "sync", str(rt), "--to", server.url], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_offline_runs_sync_once(sqlite_server: Server, rt_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    remote = sqlite_server.fresh_store()
    monkeypatch.setenv("RUNTREE_BASE_URL", sqlite_server.url)
    monkeypatch.setenv("RUNTREE_API_KEY", sqlite_server.admin_key)
    base = runtree.init(project="off", mode="offline")
    for i in range(100):
        base.log({"loss": 1.0 / (i + 1), "i": i})
    base.finish()
    fork = runtree.init(project="off", mode="offline", fork_from=f"{base.id}?_step=60")
    for i in range(61, 90):
        fork.log({"loss": 0.5, "i": i}, step=i)
    fork.finish()
    again = runtree.init(project="off", mode="offline", resume_from=f"{base.id}?_step=30")
    for i in range(31, 50):
        again.log({"loss": 2.0, "i": i}, step=i)
    again.finish()
    assert remote.list_runs() == [], "offline runs reached the server"

    out = _sync(rt_dir, sqlite_server)
    assert "2 new" in out, out
    local = open_store(str(rt_dir))
    for run in local.list_runs():
        want = list(local.read_rows(local.read_segments(run.uid)))
        got = list(remote.read_rows(remote.read_segments(run.uid)))
        assert [r["_step"] for r in got] == [r["_step"] for r in want]
        assert [r["loss"] for r in got] == [r["loss"] for r in want]
        assert remote.get_run(run.uid).parent_uid == run.parent_uid
        assert len(remote.list_rewinds(run.uid)) == len(local.list_rewinds(run.uid))
    forked = remote.get_run(fork.uid)
    assert forked.parent_uid == base.uid and forked.fork_step == 60
    assert [r["_step"] for r in remote.read_rows(remote.read_segments(base.uid))] == list(range(50))

    out = _sync(rt_dir, sqlite_server)
    assert "0 new, 0 rows sent" in out, out
    remote.close()


def test_a_stored_login_key_goes_only_to_its_own_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from runtree.store import api_key, write_user_config

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.delenv("RUNTREE_API_KEY", raising=False)
    write_user_config(base_url="http://team.example:8080/", api_key="rt_" + "k" * 43)
    assert api_key("http://team.example:8080") == "rt_" + "k" * 43
    assert api_key("http://elsewhere.example:8080") is None
    monkeypatch.setenv("RUNTREE_API_KEY", "rt_" + "e" * 43)
    assert api_key("http://elsewhere.example:8080") == "rt_" + "e" * 43
