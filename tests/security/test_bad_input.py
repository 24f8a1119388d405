"""Issue 9 item 11: bad input that got a 500, now a 4xx (or 503) with a message, against a server on PostgreSQL.

NUL bytes in ids, names, notes, file names and query parameters; integers beyond bigint; lone surrogates in
keys or values (accepted, after which every history read of the run was a 500); JSON nested past what a
parser or an encoder follows; empty entity/project/id, arbitrary states and negative epochs on POST /runs;
a PostgreSQL pool with no free connection (500 PoolTimeout, where the docs promise 503). Each request leaves
the store as it was, and every run stays readable.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runtree.domain import lineage
from runtree.domain.records import RunRecord
from runtree.store.remote import RemoteStore
from tests.integration.server_fixture import Server, free_port, stop, wait_ready

UID = "e" * 32
BIG = 2**70


@pytest.fixture
def server(postgres_server: Server) -> Iterator[Server]:
    admin = postgres_server.fresh_store()
    run = RunRecord(uid=UID, entity="e", project="p", id="a", name="a", created_at=1.0, heartbeat_at=time.time())
    admin.create_run(run, lineage.new_run(UID))  # a live heartbeat: the server's reaper leaves it running
    admin.append_rows(UID, 0, [(s, float(s), {"_step": s, "x": float(s)}) for s in range(3)])
    admin.close()
    yield postgres_server


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.admin_key}"}, timeout=30) as c:
        yield c


def _run(**changes: Any) -> dict[str, Any]:
    return {"run": {"uid": "f" * 32, "entity": "e", "project": "p", "id": "b", "name": "b", **changes},
            "segments": [{"source_uid": "f" * 32, "epoch": 0, "first_step": 0}]}  # fmt: skip


def _snapshot(server: Server) -> Any:
    store = RemoteStore(server.url, server.admin_key)
    try:
        runs = store.list_runs()
        return runs, [list(store.read_rows(store.read_segments(r.uid))) for r in runs], [store.list_files(r.uid) for r in runs]
    finally:
        store.close()


def _fs(content: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"files": {"wandb-history.jsonl": {"offset": 0, "content": content or []}}, **extra}


J = {"Content-Type": "application/json"}
CASES: list[tuple[str, str, str, dict[str, Any], int, str]] = [
    # (name, method, path, request kwargs, status, words in the message)
    ("NUL in a run id", "POST", "/api/v1/runs", {"json": _run(id="b\x00")}, 422, "control character"),
    ("NUL in a run name", "POST", "/api/v1/runs", {"json": _run(name="b\x00")}, 422, "control character"),
    ("NUL in notes", "POST", "/api/v1/runs", {"json": _run(notes="x\x00y")}, 422, "control character"),
    ("NUL in a tag", "POST", "/api/v1/runs", {"json": _run(tags=["t\x00"])}, 422, "control character"),
    ("NUL in notes, PATCH", "PATCH", f"/api/v1/runs/{UID}", {"json": {"fields": {"notes": "x\x00"}}}, 422, "control character"),
    ("NUL in a file name", "PUT", f"/api/v1/runs/{UID}/files/a%00b.txt", {"content": b"x"}, 422, "file name"),
    ("NUL in a query parameter", "GET", "/api/v1/runs?entity=e%00", {}, 422, "entity"),
    ("NUL in a uid", "GET", "/api/v1/runs/a%00b", {}, 422, "uid"),
    ("NUL in a path's project", "GET", "/api/v1/entities/e/projects/p%00/runs/a", {}, 422, "project"),
    ("NUL in a history key", "GET", f"/api/v1/runs/{UID}/history?keys=x%00", {}, 422, "control character"),
    ("NUL in a console line", "POST", f"/api/v1/runs/{UID}/logs", {"json": {"epoch": 0, "lines": [[0, 1.0, None, "stdout", "a\x00"]]}},
     422, "NUL"),
    ("NUL in a key's prefix", "POST", "/api/v1/keys", {"json": {"key_hash": "a" * 64, "prefix": "rt_\x00", "created_at": 1.0}}, 422,
     "prefix"),
    ("NUL in a key's entity", "POST", "/api/v1/keys", {"json": {"key_hash": "a" * 64, "entities": ["e\x00"], "created_at": 1.0}}, 422,
     "entity"),
    ("a pid beyond bigint", "POST", "/api/v1/runs", {"json": _run(pid=BIG)}, 422, "pid"),
    ("an exit code beyond bigint", "PATCH", f"/api/v1/runs/{UID}", {"json": {"fields": {"exit_code": BIG}}}, 422, "exit_code"),
    ("a last-seq epoch beyond bigint", "GET", f"/api/v1/runs/{UID}/logs/last-seq?epoch={BIG}", {}, 422, "epoch"),
    ("a history bound beyond bigint", "GET", f"/api/v1/runs/{UID}/history?min_step={BIG}", {}, 422, "min_step"),
    ("an empty entity", "POST", "/api/v1/runs", {"json": _run(entity="")}, 422, "entity"),
    ("an empty project", "POST", "/api/v1/runs", {"json": _run(project="")}, 422, "project"),
    ("an empty id", "POST", "/api/v1/runs", {"json": _run(id="")}, 422, "run id"),
    ("an empty uid", "POST", "/api/v1/runs", {"json": _run(uid="")}, 422, "uid"),
    ("an arbitrary state", "POST", "/api/v1/runs", {"json": _run(state="hacked")}, 422, "not a run state"),
    ("an arbitrary state, PATCH", "PATCH", f"/api/v1/runs/{UID}", {"json": {"fields": {"state": "hacked"}}}, 422, "not a run state"),
    ("a negative epoch", "POST", "/api/v1/runs", {"json": _run(epoch=-1)}, 422, "epoch"),
    ("a negative segment epoch", "POST", "/api/v1/runs", {"json": {**_run(), "segments": [{"source_uid": "f" * 32, "epoch": -3,
     "first_step": 0}]}}, 422, "epoch"),
    ("a lone surrogate in a row key", "POST", f"/api/v1/runs/{UID}/rows",
     {"content": b'{"epoch": 0, "rows": [[7, 1.0, {"_step": 7, "\\ud800": 1}]]}', "headers": J}, 400, "lone surrogate"),
    ("a lone surrogate in a row value", "POST", f"/api/v1/runs/{UID}/rows",
     {"content": b'{"epoch": 0, "rows": [[7, 1.0, {"_step": 7, "k": "a\\udfffb"}]]}', "headers": J}, 400, "lone surrogate"),
    ("a lone surrogate with a NaN", "POST", f"/api/v1/runs/{UID}/rows",
     {"content": b'{"epoch": 0, "rows": [[7, 1.0, {"_step": 7, "n": NaN, "k": "\\ud800"}]]}', "headers": J}, 400, "lone surrogate"),
    ("a lone surrogate in a config", "PATCH", f"/api/v1/runs/{UID}",
     {"content": b'{"fields": {"config": {"\\udc00": 1}}}', "headers": J}, 400, "lone surrogate"),
    ("a config nested 3000 deep", "PATCH", f"/api/v1/runs/{UID}",
     {"content": b'{"fields": {"config": {"a": ' + b"[" * 3000 + b"]" * 3000 + b"}}}", "headers": J}, 400, "nested too deep"),
    ("a config nested 300 deep", "PATCH", f"/api/v1/runs/{UID}",
     {"content": b'{"fields": {"config": {"a": ' + b"[" * 300 + b"]" * 300 + b"}}}", "headers": J}, 422, "nests deeper than 64"),
    ("file_stream: a step beyond bigint", "POST", "/files/e/p/a/file_stream", {"json": _fs([f'{{"_step": {BIG}, "x": 1}}'])}, 422, "_step"),
    ("file_stream: a lone surrogate", "POST", "/files/e/p/a/file_stream", {"json": _fs(['{"_step": 9, "\\ud800": 1}'])}, 422, "surrogate"),
    ("file_stream: NUL on the console", "POST", "/files/e/p/a/file_stream",
     {"json": {"files": {"output.log": {"offset": 0, "content": ["2024-01-01T00:00:00.000000 a\x00b"]}}}}, 422, "NUL"),
    ("file_stream: an exit code beyond bigint", "POST", "/files/e/p/a/file_stream", {"json": _fs(complete=True, exitcode=BIG)},
     422, "exitcode"),
    ("file_stream: NUL in the entity", "POST", "/files/e%00/p/a/file_stream", {"json": _fs()}, 422, "entity"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "method", "path", "kwargs", "status", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_a_4xx_and_changes_nothing(
    server: Server, client: httpx.Client, name: str, method: str, path: str, kwargs: dict[str, Any], status: int, words: str
) -> None:
    before = _snapshot(server)
    r = client.request(method, path, **kwargs)
    assert r.status_code == status, r.text
    assert words in r.text, r.text
    assert client.get(f"/api/v1/runs/{UID}/history").status_code == 200  # the run stays readable
    assert _snapshot(server) == before


def test_graphql_bad_input_gets_errors_and_changes_nothing(server: Server, client: httpx.Client) -> None:
    before = _snapshot(server)
    upsert = "mutation U($n: String, $d: String, $e: String, $p: String) { upsertBucket(input: {name: $n, displayName: $d, entityName: $e, modelName: $p}) { bucket { id } } }"  # noqa: E501
    basic = {"Authorization": "Basic " + base64.b64encode(f"api:{server.admin_key}".encode()).decode()}
    for variables, words in [
        ({"n": "x\x00", "e": "e", "p": "p"}, "control character"),
        ({"n": "x", "d": "a\x00", "e": "e", "p": "p"}, "control character"),
        ({"n": "x", "e": "e\x00", "p": "p"}, "entity"),
        ({"n": "x", "e": "e", "p": "a/b"}, "project"),
    ]:
        r = client.post("/graphql", json={"query": upsert, "variables": variables}, headers=basic)
        assert r.status_code == 200 and words in r.json()["errors"][0]["message"], r.text
    assert _snapshot(server) == before


def test_nul_bytes_inside_row_keys_and_values_are_kept_exactly(server: Server, client: httpx.Client) -> None:
    row = {"_step": 5, "a\x00b": "c\x00d", "big": BIG}
    assert client.post(f"/api/v1/runs/{UID}/rows", json={"epoch": 0, "rows": [[5, 1.0, row]]}).status_code == 200
    store = RemoteStore(server.url, server.admin_key)
    try:
        (got,) = store.read_rows(store.read_segments(UID), min_step=5, max_step=5)
    finally:
        store.close()
    assert got == row


def test_a_pool_with_no_free_connection_answers_503(postgres_server: Server, tmp_path: Path) -> None:
    """Every pooled connection blocked behind a table lock: the next request waits RUNTREE_PG_POOL_TIMEOUT, then 503."""
    import psycopg

    port = free_port()
    log_path = tmp_path / "server.log"
    env = {**os.environ, "RUNTREE_PG_POOL_TIMEOUT": "2"}
    cmd = [sys.executable, "-m", "runtree.server", "--db", postgres_server.db_url, "--port", str(port), "--no-access-log"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {postgres_server.admin_key}"}
    try:
        wait_ready(proc, url, log_path)
        with psycopg.connect(postgres_server.db_url) as locker:
            locker.execute("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE")  # held until the block ends
            blocked: list[httpx.Response] = []
            threads = [threading.Thread(target=lambda: blocked.append(httpx.get(f"{url}/api/v1/runs", headers=headers, timeout=60)))
                       for _ in range(10)]  # fmt: skip
            for t in threads:
                t.start()
            _wait_for_lock_waiters(postgres_server.db_url, 10)  # the ten hold the pool's ten connections
            r = httpx.get(f"{url}/api/v1/runs", headers=headers, timeout=30)
            assert r.status_code == 503, r.text
            assert r.json()["error"]["type"] == "StoreError" and "no connection was free within 2 s" in r.json()["error"]["message"]
            locker.rollback()
        for t in threads:
            t.join(60)
        assert [b.status_code for b in blocked] == [200] * 10
        assert httpx.get(f"{url}/api/v1/runs", headers=headers).status_code == 200
    finally:
        stop(proc)


@pytest.mark.parametrize("depth", [200, 600, 1000])
def test_a_row_value_nested_deep_is_refused_or_read_back(server: Server, client: httpx.Client, depth: int) -> None:
    body = b'{"epoch": 0, "rows": [[8, 1.0, {"_step": 8, "v": ' + b"[" * depth + b"]" * depth + b"}]]}"
    r = client.post(f"/api/v1/runs/{UID}/rows", content=body, headers=J)
    assert r.status_code in (200, 400, 422), r.text
    history = client.get(f"/api/v1/runs/{UID}/history")
    assert history.status_code == 200, history.text
    store = RemoteStore(server.url, server.admin_key)
    try:
        steps = [row["_step"] for row in store.read_rows(store.read_segments(UID))]
    finally:
        store.close()
    assert steps == ([0, 1, 2, 8] if r.status_code == 200 else [0, 1, 2])


def test_file_stream_numbers_beyond_any_float_are_not_a_500(server: Server, client: httpx.Client) -> None:
    line = f'{{"_step": 9, "_timestamp": {10**400}, "x": 1}}'
    events = f'{{"_timestamp": {10**400}, "system.cpu": 1}}'
    body = {"files": {"wandb-history.jsonl": {"offset": 0, "content": [line]}, "wandb-events.jsonl": {"offset": 0, "content": [events]}}}
    r = client.post("/files/e/p/a/file_stream", json=body)
    assert r.status_code == 200, r.text  # the timestamp is the server's clock instead, as for a line without one
    store = RemoteStore(server.url, server.admin_key)
    try:
        assert [row["_step"] for row in store.read_rows(store.read_segments(UID))] == [0, 1, 2, 9]
    finally:
        store.close()


@pytest.mark.parametrize(
    "kwargs",
    [{"name": "a\x00"}, {"project": "a/b"}, {"id": "a b"}, {"notes": "x\ud800"}, {"tags": ["t\x00"]}, {"entity": "a b"},
     {"group": "g\x00"}],
    ids=["NUL name", "slash project", "space id", "surrogate notes", "NUL tag", "space entity", "NUL group"],
)  # fmt: skip
def test_the_sdks_init_refuses_what_the_server_refuses(rt_dir: Path, kwargs: dict[str, Any]) -> None:
    import runtree
    from runtree.errors import UsageError

    with pytest.raises(UsageError):
        runtree.init(**kwargs)
    assert not (rt_dir / "runtree.db").exists() or runtree.Api().runs() == []


def _wait_for_lock_waiters(db_url: str, n: int, timeout: float = 60.0) -> None:
    import psycopg

    name = db_url.rsplit("/", 1)[1]
    deadline = time.monotonic() + timeout
    with psycopg.connect(db_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", (name,)).fetchone()
            if row is not None and row[0] >= n:
                return
            time.sleep(0.1)
    pytest.fail(f"{n} requests did not come to wait on the lock within {timeout:g} s")
