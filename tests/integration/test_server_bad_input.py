"""Bad requests over real HTTP: each gets a 4xx with a JSON error saying what was wrong; the server stays up and nothing changes."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from runtree.domain import lineage
from runtree.domain.records import RunRecord
from runtree.server.schemas import MAX_BATCH
from runtree.store.remote import RemoteStore
from tests.integration.server_fixture import Server

UID = "b" * 32


@pytest.fixture
def server(sqlite_server: Server) -> Iterator[Server]:
    store = sqlite_server.fresh_store()
    run = RunRecord(uid=UID, entity="e", project="p", id="a", name="a", created_at=1.0, heartbeat_at=time.time())
    store.create_run(run, lineage.new_run(UID))
    store.append_rows(UID, 0, [(s, float(s), {"_step": s, "x": float(s)}) for s in range(5)])
    store.close()
    yield sqlite_server


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {server.admin_key}"}) as c:
        yield c


def _snapshot(server: Server) -> Any:
    store = RemoteStore(server.url, server.admin_key)
    try:
        runs = store.list_runs()
        return runs, [store.read_segments(r.uid) for r in runs], [list(store.read_rows(store.read_segments(r.uid))) for r in runs]
    finally:
        store.close()


def _rows_body(rows: list[Any], **extra: Any) -> dict[str, Any]:
    return {"epoch": 0, "seq": 1, "rows": rows, **extra}


CASES: list[tuple[str, str, str, dict[str, Any], int, str, str]] = [
    # (name, method, path, request kwargs, status, error type, words in the message)
    ("malformed JSON", "POST", f"/runs/{UID}/rows", {"content": b'{"epoch": 0, "rows": [', "headers": {"Content-Type": "application/json"}},
     400, "malformed_json", "not valid JSON"),
    ("not an object", "POST", f"/runs/{UID}/rows", {"json": [1, 2, 3]}, 422, "invalid_request", "valid dictionary"),
    ("step of a wrong type", "POST", f"/runs/{UID}/rows", {"json": _rows_body([["5", 1.0, {}]])}, 422, "invalid_request", "rows.0.0"),
    ("row that is not a dict", "POST", f"/runs/{UID}/rows", {"json": _rows_body([[5, 1.0, "x"]])}, 422, "invalid_request", "rows.0.2"),
    ("negative step", "POST", f"/runs/{UID}/rows", {"json": _rows_body([[-1, 1.0, {}]])}, 422, "invalid_request", "greater than or equal"),
    ("missing epoch", "POST", f"/runs/{UID}/rows", {"json": {"rows": []}}, 422, "invalid_request", "epoch: Field required"),
    ("unknown field", "POST", f"/runs/{UID}/rows", {"json": _rows_body([], extra=1)}, 422, "invalid_request", "extra: Extra inputs"),
    ("steps backwards in a batch", "POST", f"/runs/{UID}/rows", {"json": _rows_body([[7, 1.0, {}], [6, 1.0, {}]])},
     422, "invalid_request", "row 1 has step 6 after step 7"),
    ("a batch over the limit", "POST", f"/runs/{UID}/rows", {"json": _rows_body([[s, 1.0, {}] for s in range(MAX_BATCH + 1)])},
     422, "invalid_request", f"over the limit of {MAX_BATCH}"),
    ("rows of an unknown run", "POST", "/runs/nope/rows", {"json": _rows_body([[7, 1.0, {}]])}, 404, "NoSuchRun", "'nope'"),
    ("an unknown run", "GET", "/runs/nope", {}, 404, "NoSuchRun", "no run has uid 'nope'"),
    ("a run id taken", "POST", "/runs", {"json": {"run": {"uid": "c" * 32, "entity": "e", "project": "p", "id": "a", "name": "x"},
     "segments": []}}, 409, "RunExists", "'a' is already taken in e/p"),
    ("a run field of a wrong type", "PATCH", f"/runs/{UID}", {"json": {"fields": {"state": 5}}}, 422, "invalid_request", "'state'"),
    ("a run field that does not exist", "PATCH", f"/runs/{UID}", {"json": {"fields": {"bogus": 1}}}, 422, "invalid_request",
     "cannot update run fields ['bogus']"),
    ("a bad query parameter", "GET", f"/runs/{UID}/history", {"params": {"samples": 1}}, 422, "invalid_request", "query.samples"),
    ("an unknown route", "GET", "/nothing/here", {}, 404, "not_found", "no route GET /api/v1/nothing/here"),
    ("a wrong method", "DELETE", f"/runs/{UID}", {}, 405, "method_not_allowed", "DELETE is not allowed"),
    ("a gzip body that does not decode", "POST", f"/runs/{UID}/rows",
     {"content": b"not gzip", "headers": {"Content-Encoding": "gzip", "Content-Type": "application/json"}}, 400, "bad_request", "gzip"),
    ("a gzip bomb", "POST", f"/runs/{UID}/rows",
     {"content": gzip.compress(b"[" + b" " * (65 << 20) + b"]"), "headers": {"Content-Encoding": "gzip", "Content-Type": "text/plain"}},
     413, "payload_too_large", "after gzip decoding"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "method", "path", "kwargs", "status", "kind", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_request(
    server: Server, client: httpx.Client, name: str, method: str, path: str, kwargs: dict[str, Any], status: int, kind: str, words: str
) -> None:
    before = _snapshot(server)
    r = client.request(method, path, **kwargs)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    error = r.json()["error"]
    assert error["type"] == kind and words in error["message"], error
    assert "sqlite:" not in error["message"]  # the store's location stays on the server
    assert client.get("/health").status_code == 200
    assert _snapshot(server) == before


def test_a_body_over_the_size_limit_is_refused_before_it_is_read(server: Server, client: httpx.Client) -> None:
    r = client.post(f"/runs/{UID}/rows", content=b" " * ((64 << 20) + 1), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["type"] == "payload_too_large"
    assert client.get("/health").status_code == 200


def test_json_nan_tokens_and_big_integers_are_accepted_exactly(server: Server, client: httpx.Client) -> None:
    body = '{"epoch": 0, "rows": [[9, 1.0, {"_step": 9, "n": NaN, "i": -Infinity, "big": 123456789012345678901234567890}]]}'
    r = client.post(f"/runs/{UID}/rows", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json() == {"seq": None, "rows": 1}
    page = client.post("/query/history", json={"segments": [{"source_uid": UID, "epoch": 0, "first_step": 9}]}).json()
    assert page["exact"] == {"n": [[0, "NaN"]], "i": [[0, "-Infinity"]], "big": [[0, "123456789012345678901234567890"]]}
    json.loads(client.get(f"/runs/{UID}/history").text, parse_constant=lambda c: pytest.fail(f"{c} in strict JSON"))
