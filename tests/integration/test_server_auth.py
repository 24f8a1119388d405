"""API keys over real HTTP: 401 without or with a wrong key, 403 across entities, keys stored only as digests."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runtree.domain import lineage
from runtree.domain.records import RunRecord
from runtree.errors import StoreError
from runtree.server import auth
from runtree.store.base import ApiKey, Store
from runtree.store.remote import AccessRefused, RemoteStore
from runtree.store.sqlite import SqliteStore
from tests.integration.server_fixture import Server, running_server


def _run(uid: str, entity: str, run_id: str = "a", **kw: object) -> RunRecord:
    return RunRecord(uid=uid, entity=entity, project="p", id=run_id, name=run_id, created_at=1.0, **kw)  # type: ignore[arg-type]


def _rows(n: int) -> list[tuple[int, float, dict[str, object]]]:
    return [(s, float(s), {"_step": s, "x": float(s)}) for s in range(n)]


@pytest.fixture
def server(sqlite_server: Server) -> Iterator[Server]:
    """The session's SQLite server with no runs, and a run 'ua' in entity alice and 'ub' in entity bob."""
    admin = sqlite_server.fresh_store()
    for uid, entity in (("u" * 31 + "a", "alice"), ("u" * 31 + "b", "bob")):
        admin.create_run(_run(uid, entity), lineage.new_run(uid))
        admin.append_rows(uid, 0, _rows(10))
    admin.close()
    yield sqlite_server


UA, UB = "u" * 31 + "a", "u" * 31 + "b"


@pytest.fixture
def connect(server: Server) -> Iterator[Callable[[str], RemoteStore]]:
    """RemoteStore(server, key) for the test, closed after it."""
    opened: list[RemoteStore] = []

    def make(key: str) -> RemoteStore:
        opened.append(RemoteStore(server.url, key))
        return opened[-1]

    yield make
    for s in opened:
        s.close()


def _key(server: Server, *entities: str, admin: bool = False) -> str:
    admin_store = RemoteStore(server.url, server.admin_key)
    try:
        return auth.create_key(admin_store, entities, admin=admin, label="test")
    finally:
        admin_store.close()


def test_no_key_or_a_wrong_key_is_401(server: Server) -> None:
    for headers in ({}, {"Authorization": "Bearer rt_" + "x" * 43}, {"Authorization": "Bearer short"}, {"Authorization": "Token abc"}):
        r = httpx.get(f"{server.url}/api/v1/runs/{UA}", headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["error"]["type"] == "unauthorized"
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert httpx.get(f"{server.url}/api/v1/health").status_code == 200  # the one route without a key


def test_remote_store_says_which_variable_to_set(connect: Callable[[str], RemoteStore]) -> None:
    # AccessRefused (a StoreError and a PermissionError): the spool must not take it for an unreachable server.
    with pytest.raises(AccessRefused, match=r"refused the API key.*RUNTREE_API_KEY.*runtree login"):
        connect("").get_run(UA)
    with pytest.raises(AccessRefused, match="refused the API key: invalid API key"):
        connect("rt_" + "y" * 43).list_runs()


def test_bearer_and_basic_auth_as_the_wandb_client_sends_it(server: Server) -> None:
    key = _key(server, "alice")
    assert len(key) >= 40 and key.startswith("rt_")
    basic = base64.b64encode(f"api:{key}".encode()).decode()
    for header in (f"Bearer {key}", f"Basic {basic}"):
        r = httpx.get(f"{server.url}/api/v1/whoami", headers={"Authorization": header})
        assert r.status_code == 200 and r.json() == {"admin": False, "entities": ["alice"], "prefix": key[:8], "default_entity": "alice"}


def test_a_key_touches_only_its_entities(server: Server, connect: Callable[[str], RemoteStore]) -> None:
    alice = connect(_key(server, "alice"))
    assert alice.get_run(UA).entity == "alice"
    assert [r.uid for r in alice.list_runs()] == [UA]  # bob's run is not listed
    assert [r["_step"] for r in alice.read_rows(alice.read_segments(UA))] == list(range(10))
    alice.append_rows(UA, 0, [(10, 10.0, {"_step": 10})])
    for call in (
        lambda: alice.get_run(UB),
        lambda: alice.read_segments(UB),
        lambda: alice.list_runs("bob"),
        lambda: alice.append_rows(UB, 0, [(10, 10.0, {"_step": 10})]),
        lambda: alice.update_run(UB, name="mine"),
        lambda: list(alice.read_rows(lineage.new_run(UB))),
        lambda: alice.create_run(_run("c" * 32, "bob", "c"), lineage.new_run("c" * 32)),
        lambda: alice.update_run(UA, entity="bob"),  # moving a run into an entity it may not touch
    ):
        with pytest.raises(AccessRefused, match=r"refused access: key rt_.* may not access entity 'bob'"):
            call()
    r = httpx.get(f"{server.url}/api/v1/runs/{UB}/history", headers={"Authorization": f"Bearer {_key(server, 'alice')}"})
    assert r.status_code == 403 and r.json()["error"]["type"] == "forbidden"
    admin = connect(server.admin_key)
    assert admin.get_run(UB).name == "a" and len(list(admin.read_rows(lineage.new_run(UB)))) == 10  # nothing changed


def test_forking_across_entities_needs_read_access_to_the_parent(server: Server, connect: Callable[[str], RemoteStore]) -> None:
    child = "c" * 32
    segments = lineage.fork(lineage.new_run(UB), 5, child, 5.0)
    alice = connect(_key(server, "alice"))
    with pytest.raises(StoreError, match="may not access entity 'bob'"):
        alice.create_run(_run(child, "alice", "c", parent_uid=UB, fork_step=5), segments)
    both = connect(_key(server, "alice", "bob"))
    both.create_run(_run(child, "alice", "c", parent_uid=UB, fork_step=5), segments)
    assert [r["_step"] for r in both.read_rows(both.read_segments(child))] == list(range(6))
    # Reading the child's inherited rows still needs read access to the parent's entity.
    with pytest.raises(StoreError, match="rows of run bob/p/a"):
        list(alice.read_rows(both.read_segments(child)))


def test_only_admin_keys_manage_keys(server: Server, connect: Callable[[str], RemoteStore]) -> None:
    alice = connect(_key(server, "alice"))
    with pytest.raises(StoreError, match="not an admin key"):
        alice.list_keys()
    with pytest.raises(StoreError, match="not an admin key"):
        auth.create_key(alice, ["alice"])


def test_a_revoked_key_stops_at_once(server: Server, connect: Callable[[str], RemoteStore]) -> None:
    key = _key(server, "alice")
    store = connect(key)
    assert store.get_run(UA).uid == UA
    connect(server.admin_key).delete_key(auth.hash_key(key))
    with pytest.raises(StoreError, match="refused the API key"):
        store.get_run(UA)


def test_keys_are_stored_as_digests_only(tmp_path: Path) -> None:
    db = tmp_path / "keys.db"
    with running_server(f"sqlite:///{db}", tmp_path) as server:
        user_key = _key(server, "alice")
        keys = [server.admin_key, user_key]
        stored = sqlite3.connect(db).execute("SELECT key_hash, prefix, entities, admin FROM api_keys ORDER BY admin DESC").fetchall()
    assert [r[0] for r in stored] == [hashlib.sha256(k.encode()).hexdigest() for k in keys]
    assert [(r[1], r[3]) for r in stored] == [(server.admin_key[:8], 1), (user_key[:8], 0)]
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("keys.db*"))  # the database and its WAL
    for key in keys:
        assert key.encode() not in raw and key[8:].encode() not in raw
    assert server.admin_key in server.log()  # printed once, on the first start


def test_the_first_admin_key_is_printed_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'first.db'}"
    with running_server(url, tmp_path / "one") as first:
        assert first.admin_key and "shown only this once" in first.log()
    with running_server(url, tmp_path / "two") as second:
        assert second.admin_key == "" and "rt_" not in second.log()
        assert httpx.get(f"{second.url}/api/v1/whoami", headers={"Authorization": f"Bearer {first.admin_key}"}).json()["admin"]


# -- the keys methods of every Store ----------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgres", "remote(sqlite)"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s: Store
    if request.param == "postgres":
        from runtree.store.postgres import PostgresStore

        s = PostgresStore(request.getfixturevalue("pg_url"))
    elif request.param == "sqlite":
        s = SqliteStore(tmp_path / "keys.db")
    else:
        s = request.getfixturevalue("sqlite_server").fresh_store()
    yield s
    s.close()


def test_store_keys(store: Store) -> None:
    had = store.list_keys()  # a server's store already holds its admin key
    first = ApiKey("a" * 64, ("alice",), False, "first", "rt_aaaaa", 10.0)
    assert store.create_key(first, only_if_first=True) is (not had)
    if had:
        assert store.create_key(first)
    assert not store.create_key(first)  # the same digest again
    second = ApiKey("b" * 64, (), True, "", "rt_bbbbb", 20.0)
    assert not store.create_key(second, only_if_first=True)
    assert store.create_key(second)
    assert store.find_key("a" * 64) == first and store.find_key("c" * 64) is None
    assert [k for k in store.list_keys() if k.key_hash in (first.key_hash, second.key_hash)] == [first, second]
    assert store.delete_key("a" * 64) and not store.delete_key("a" * 64)
    assert store.find_key("a" * 64) is None
    assert store.delete_key("b" * 64)


# -- the web UI's cookie, and the keys command ------------------------------------------------------
def _passed_authorization(method: str, headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The Authorization header KeyCookie hands to the app for a request with these headers."""
    seen: list[bytes | None] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(dict(scope["headers"]).get(b"authorization"))

    # Neither awaits anything, so one send() runs it through; no event loop (a test before may hold one in this thread).
    call = auth.KeyCookie(app)({"type": "http", "method": method, "headers": headers}, None, None)  # type: ignore[arg-type]
    with pytest.raises(StopIteration):
        call.send(None)
    return seen[0]


def test_the_ui_cookie_reads_and_changes_only_with_the_ui_header() -> None:
    key = "rt_" + "k" * 43
    cookie = (b"cookie", f"theme=dark; {auth.COOKIE}={key}".encode())
    assert _passed_authorization("GET", [cookie]) == f"Bearer {key}".encode()
    assert _passed_authorization("PATCH", [cookie]) is None  # a page on another site can make the browser send the cookie
    assert _passed_authorization("PATCH", [cookie, (b"x-runtree-ui", b"1")]) == f"Bearer {key}".encode()
    assert _passed_authorization("GET", [cookie, (b"authorization", b"Bearer other")]) == b"Bearer other"
    assert _passed_authorization("GET", [(b"cookie", f"{auth.COOKIE}=short".encode())]) is None


def test_keys_command(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"

    def keys(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "runtree.server", "keys", *args, "--db", db], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    key = keys("create", "--entity", "alice", "--entity", "bob", "--label", "ci")
    assert key.startswith("rt_") and len(key) >= 40
    assert keys("list") == f"{key[:8]}...\talice,bob\tci"
    store = SqliteStore(tmp_path / "cli.db")
    found = store.find_key(auth.hash_key(key))
    assert found is not None and found.entities == ("alice", "bob")
    assert keys("revoke", key[:8]) == f"revoked {key[:8]}..."
    assert store.find_key(auth.hash_key(key)) is None
    store.close()
    done = subprocess.run(
        [sys.executable, "-m", "runtree.server", "keys", "create", "--db", db], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and "at least one entity" in done.stderr
