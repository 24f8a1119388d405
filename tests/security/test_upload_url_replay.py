"""Issue 9 item 1: a signed upload URL replayed against another run (cross-tenant file write), on PostgreSQL.

The attack: with `PUT {uid} {name} {expires}` as the signed text, a run whose uid is "<victim uid> x" gets a
URL for its file <name> that also signs `/files-upload/<victim uid>/x%20<name>`: the victim's run gains a
file. Now uids have one format checked at every entry, the signed text is JSON, and a URL is bound to the
key that asked for it (revoke the key and its URLs stop working).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest

from runtree.domain import lineage
from runtree.domain.records import RunRecord
from runtree.server import auth
from runtree.store.postgres import PostgresStore
from runtree.store.remote import RemoteStore
from tests.integration.server_fixture import Server

VICTIM_UID = "a" * 32
FILES = (
    "mutation F($e: String!, $p: String!, $r: String!, $f: [String!]!) {"
    " createRunFiles(input: {entityName: $e, projectName: $p, runName: $r, files: $f}) { runID files { name uploadUrl } } }"
)


@pytest.fixture
def server(postgres_server: Server) -> Iterator[Server]:
    admin = postgres_server.fresh_store()
    run = RunRecord(uid=VICTIM_UID, entity="alice", project="p", id="victim", name="victim", created_at=1.0, heartbeat_at=time.time())
    admin.create_run(run, lineage.new_run(VICTIM_UID))
    admin.close()
    yield postgres_server


def _key(server: Server, entity: str) -> str:
    admin = RemoteStore(server.url, server.admin_key)
    try:
        return auth.create_key(admin, [entity])
    finally:
        admin.close()


def _basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"api:{key}".encode()).decode()}


def _upload_url(server: Server, key: str, entity: str, run_id: str, name: str) -> str:
    body = {"query": FILES, "variables": {"e": entity, "p": "p", "r": run_id, "f": [name]}}
    r = httpx.post(f"{server.url}/graphql", json=body, headers=_basic(key))
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    url: str = r.json()["data"]["createRunFiles"]["files"][0]["uploadUrl"]
    return url


def _victim_files(server: Server) -> list[str]:
    admin = RemoteStore(server.url, server.admin_key)
    try:
        return admin.list_files(VICTIM_UID)
    finally:
        admin.close()


def _replay(url: str, uid: str, name: str) -> str:
    """The URL for `uid`'s file `name` made from `url` by moving the path split, its query kept."""
    return url.split("/files-upload/")[0] + f"/files-upload/{quote(uid, safe='')}/{quote(name)}?{urlsplit(url).query}"


def test_the_issues_attack_end_to_end(server: Server) -> None:
    """Bob makes a run whose uid is "<alice's uid> x", asks for its file's URL, and PUTs to alice's run with it."""
    bob = _key(server, "bob")
    run: dict[str, Any] = {"uid": f"{VICTIM_UID} x", "entity": "bob", "project": "p", "id": "evil", "name": "evil"}
    body = {"run": run, "segments": [{"source_uid": run["uid"], "epoch": 0, "first_step": 0}]}
    made = httpx.post(f"{server.url}/api/v1/runs", json=body, headers={"Authorization": f"Bearer {bob}"})
    if made.status_code == 201:  # what the server did before: the attack goes on
        url = _upload_url(server, bob, "bob", "evil", "pwned.txt")
        httpx.put(_replay(url, VICTIM_UID, "x pwned.txt"), content=b"written by bob")
    assert _victim_files(server) == []
    assert made.status_code == 422 and "is not a run uid" in made.json()["error"]["message"], made.text


def test_an_upload_url_replayed_against_another_run_is_refused(server: Server) -> None:
    """The issue's attack, step by step; the attacker's run is planted in the database as an older server let it be made."""
    bob = _key(server, "bob")
    evil_uid = f"{VICTIM_UID} x"
    db = PostgresStore(server.db_url)
    try:
        db.create_run(RunRecord(uid=evil_uid, entity="bob", project="p", id="evil", name="evil", created_at=2.0), lineage.new_run(evil_uid))
    finally:
        db.close()
    url = _upload_url(server, bob, "bob", "evil", "pwned.txt")
    replayed = _replay(url, VICTIM_UID, "x pwned.txt")
    r = httpx.put(replayed, content=b"written by bob")
    assert r.status_code == 403, r.text
    assert _victim_files(server) == []


def test_an_upload_url_works_only_while_its_key_exists(server: Server) -> None:
    alice = _key(server, "alice")
    url = _upload_url(server, alice, "alice", "victim", "notes.txt")
    assert httpx.put(url, content=b"one").status_code == 200
    other = _key(server, "alice")
    other_hash = auth.hash_key(other)
    assert httpx.put(url.replace(f"key={auth.hash_key(alice)}", f"key={other_hash}"), content=b"two").status_code == 403
    assert httpx.delete(f"{server.url}/api/v1/keys/{auth.hash_key(alice)}", headers={"Authorization": f"Bearer {server.admin_key}"}).json()
    r = httpx.put(url, content=b"three")
    assert r.status_code == 403 and "revoked" in r.text
    admin = RemoteStore(server.url, server.admin_key)
    try:
        assert admin.read_file(VICTIM_UID, "notes.txt") == b"one"
    finally:
        admin.close()


@pytest.mark.parametrize("name", ["../escape.txt", "a\x00b.txt", "/abs.txt"])
def test_a_file_name_outside_the_run_or_with_nul_is_refused(server: Server, name: str) -> None:
    alice = _key(server, "alice")
    body = {"query": FILES, "variables": {"e": "alice", "p": "p", "r": "victim", "f": [name]}}
    r = httpx.post(f"{server.url}/graphql", json=body, headers=_basic(alice))
    assert "file name" in r.json()["errors"][0]["message"], r.text
    assert _victim_files(server) == []
