"""Integration fixtures shared across files: the real-server fixtures of server_fixture.py, and `store`: one
test run against each real backend (a SQLite file, a PostgreSQL database, a server over HTTP on either)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from runtree.store.base import Store
from runtree.store.sqlite import SqliteStore
from tests.integration.server_fixture import postgres_server, sqlite_server

STORE_KINDS = ["sqlite", "postgres", "remote(sqlite)", "remote(postgres)"]


def open_store_of_kind(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A fresh, empty store of one of STORE_KINDS."""
    if kind.startswith("remote("):
        server = request.getfixturevalue(f"{kind[7:-1]}_server")
        return server.fresh_store()  # type: ignore[no-any-return]
    if kind == "postgres":
        from runtree.store.postgres import PostgresStore

        return PostgresStore(request.getfixturevalue("pg_url"))
    return SqliteStore(tmp_path / "store.db")


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = open_store_of_kind(request.param, request, tmp_path)
    yield s
    s.close()

__all__ = ["postgres_server", "sqlite_server"]
