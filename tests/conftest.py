"""Shared fixtures: a fresh embedded store per test, and no run or store left open afterwards."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest

from runtree.sdk import run as run_mod
from runtree.store import close_all


@pytest.fixture
def rt_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary RUNTREE_DIR: runtree.init() and runtree.Api() use the store inside it."""
    d = tmp_path / "rt"
    monkeypatch.setenv("RUNTREE_DIR", str(d))
    monkeypatch.setenv("RUNTREE_ENTITY", "tester")
    monkeypatch.setenv("RUNTREE_SYSTEM_SAMPLE_INTERVAL", "0")
    monkeypatch.setenv("RUNTREE_CONSOLE", "off")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no `runtree login` of the machine's user
    for var in ("WANDB_MODE", "WANDB_DIR", "WANDB_PROJECT", "WANDB_ENTITY", "WANDB_RUN_ID", "WANDB_RESUME",
                "RUNTREE_STORE_URL", "RUNTREE_BASE_URL", "RUNTREE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    return d


@pytest.fixture(autouse=True)
def _no_leftovers() -> Iterator[None]:
    yield
    for run in list(run_mod._active):
        run.finish()
    close_all()


# The server .ci/ensure_postgres.sh starts; a database here is only used to create and drop test databases.
PG_ADMIN_URL = os.environ.get("RUNTREE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_unavailable(msg: str) -> NoReturn:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database, dropped after the test.

    Without a reachable server (or without psycopg) the test is skipped locally and fails in CI (CI=true).
    """
    try:
        import psycopg
    except ImportError as e:
        _pg_unavailable(f"psycopg is not installed ({e}); pip install 'runtree[postgres]'")
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.Error as e:
        problem = str(e)
    else:
        problem = ""
    if problem:
        _pg_unavailable(
            f"PostgreSQL is not reachable at {PG_ADMIN_URL} (set RUNTREE_TEST_PG_URL, or run .ci/ensure_postgres.sh): {problem}"
        )
    name = f"runtree_test_{secrets.token_hex(6)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
        try:
            yield urlunsplit(urlsplit(PG_ADMIN_URL)._replace(path="/" + name))
        finally:
            close_all()  # stores opened through open_store hold pooled connections to the database
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
