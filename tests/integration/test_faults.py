"""Faults under load: the server killed with kill -9 and started again on its port, PostgreSQL restarted, the
server down for 10 s. Client processes keep logging (log() never raises nor blocks for long), rows go to the
spool while the server is away and drain when it is back: nothing lost, nothing stored twice.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import PG_ADMIN_URL, _pg_unavailable
from tests.integration.server_fixture import free_port
from tests.integration.test_team import check_database, collect, spawn, start_server, stop

CLIENTS = 3
STEPS = 3000
FORK_AT = 1500
PAUSE = 0.008  # ~25 s of logging per client, long enough for all three faults


@pytest.fixture
def restartable_pg_url() -> Iterator[str]:
    """Like pg_url, but dropped over a new connection: the test restarts PostgreSQL under the old one."""
    try:
        import psycopg
    except ImportError as e:
        _pg_unavailable(f"psycopg is not installed ({e})")
    name = f"runtree_faults_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'CREATE DATABASE "{name}"'.encode())
    except psycopg.Error as e:
        _pg_unavailable(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {e}")
    try:
        yield urlunsplit(urlsplit(PG_ADMIN_URL)._replace(path="/" + name))
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=30) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def _restart_postgres() -> str:
    """Restart the PostgreSQL cluster; '' when done, else why it could not be."""
    why = "no way to restart it"
    for cmd in (["pg_ctlcluster", "15", "main", "restart"], ["service", "postgresql", "restart"]):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            why = f"{' '.join(cmd)}: {e}"
            continue
        if r.returncode == 0:
            return ""
        why = f"{' '.join(cmd)}: {r.stderr.strip() or r.stdout.strip()}"
    return why


def test_kill9_postgres_restart_and_outage(restartable_pg_url: str, tmp_path: Path) -> None:
    pg_url = restartable_pg_url
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    server = start_server(pg_url, port, log)
    procs = [spawn(url, k, STEPS, FORK_AT if k > 0 else None, tmp_path, PAUSE) for k in range(CLIENTS)]
    pg_problem = ""
    try:
        time.sleep(4)
        os.kill(server.pid, signal.SIGKILL)  # kill -9 mid-run, then the same port again
        server.wait()
        server = start_server(pg_url, port, log)
        time.sleep(3)
        pg_problem = _restart_postgres()
        time.sleep(3)
        stop(server)  # down for 10 s
        time.sleep(10)
        server = start_server(pg_url, port, log)
        results = collect(procs, timeout=240)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        stop(server)
    assert max(r["worst_log"] for r in results) < 5.0, results
    assert max(r["finish"] for r in results) < 30.0, results
    check_database(pg_url, CLIENTS, STEPS, FORK_AT)
    left = list(tmp_path.glob("c*/spool/*.db"))
    assert left == [], f"spool files not drained: {left}"
    if pg_problem:
        _pg_unavailable(f"PostgreSQL could not be restarted here ({pg_problem}); the kill -9 and outage parts passed")
