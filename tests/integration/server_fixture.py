"""A real `python -m runtree.server` subprocess on a free port, for tests that speak HTTP to it.

`running_server(db_url, log_dir)` starts one, waits until /api/v1/health answers, and stops it; when
start-up fails the test fails with the server's log. The session fixtures `sqlite_server` and
`postgres_server` serve one database each for the whole run; `Server.fresh_store()` empties it (the
server keeps no state, so that is safe between tests) and returns an admin RemoteStore.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from runtree.store.remote import RemoteStore
from tests.conftest import PG_ADMIN_URL, _pg_unavailable

KEEP_TABLES = ("api_keys", "runtree_schema_version")


@dataclass
class Server:
    """A running server: where it listens, the admin key it printed, and its log."""

    url: str
    db_url: str
    admin_key: str
    log_path: Path
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def wipe(self) -> None:
        """Delete every run, row, sample, line and file (keys stay)."""
        wipe(self.db_url)

    def fresh_store(self, api_key: str | None = None) -> RemoteStore:
        self.wipe()
        return RemoteStore(self.url, api_key or self.admin_key)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wipe(db_url: str) -> None:
    if db_url.startswith("sqlite:///"):
        conn = sqlite3.connect(db_url[len("sqlite:///") :], timeout=30)
        try:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'") if r[0] not in KEEP_TABLES]
            with conn:
                for t in tables:
                    conn.execute(f'DELETE FROM "{t}"')
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'") if r[0] not in KEEP_TABLES]
        if tables:
            conn.execute(("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)).encode())


@contextmanager
def running_server(db_url: str, log_dir: Path, *, workers: int = 1, timeout: float = 60.0) -> Iterator[Server]:
    """`python -m runtree.server --db db_url` on a free port until the block ends."""
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"server-{port}.log"
    env = {k: v for k, v in os.environ.items() if k not in ("RUNTREE_BASE_URL", "RUNTREE_STORE_URL", "RUNTREE_API_KEY")}
    env["RUNTREE_BLOBS_URL"] = str(log_dir / "blobs")  # a PostgreSQL server's media files (SQLite keeps them beside its file)
    cmd = [sys.executable, "-m", "runtree.server", "--db", db_url, "--port", str(port), "--workers", str(workers), "--no-access-log"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url, log_path, timeout)
        key = re.search(r"^\s+(rt_[A-Za-z0-9_\-]{40,})\s*$", log_path.read_text(), re.M)
        yield Server(url, db_url, key.group(1) if key else "", log_path, proc)
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server subprocess: politely, then for sure."""
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_ready(proc: subprocess.Popen[bytes], url: str, log_path: Path, timeout: float = 60.0) -> None:
    """Wait for /api/v1/health; on failure, fail the test with the server's log (what went wrong at start-up)."""
    deadline = time.monotonic() + timeout
    problem = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            problem = f"exited with code {proc.returncode}"
            break
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError as e:
            problem = str(e)
        time.sleep(0.1)
    else:
        problem = f"not ready after {timeout:.0f}s ({problem})"
    log = log_path.read_text(errors="replace")
    pytest.fail(f"runtree server at {url} did not start: {problem}\n--- server log ---\n{log}", pytrace=False)


@pytest.fixture(scope="session")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server over one SQLite file for the whole session; call fresh_store() for an empty one."""
    d = tmp_path_factory.mktemp("sqlite-server")
    with running_server(f"sqlite:///{d / 'server.db'}", d) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server over a fresh PostgreSQL database for the whole session (skipped, or failed in CI, without PostgreSQL)."""
    try:
        import psycopg
    except ImportError as e:
        _pg_unavailable(f"psycopg is not installed ({e})")
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.Error as e:
        _pg_unavailable(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {e}")
    name = f"runtree_server_{secrets.token_hex(6)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
        try:
            db_url = urlunsplit(urlsplit(PG_ADMIN_URL)._replace(path="/" + name))
            with running_server(db_url, tmp_path_factory.mktemp("postgres-server")) as server:
                yield server
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
