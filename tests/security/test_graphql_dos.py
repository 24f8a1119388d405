"""Issue 9 item 3: denial of service by any key holder, against a real server on PostgreSQL.

- a 400 KiB GraphQL document of 20,000 aliases (3-4 s of CPU and ~50 MB that stayed, in an lru_cache);
- variables nested 50,000 deep;
- 45 UpsertBuckets whose branch point names a missing run, each holding a worker thread for 20 s;
- forks waiting for a running parent's rows: no thread held, bounded per key, done when the rows come.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import httpx
import psutil
import pytest

from runtree.domain import lineage
from runtree.domain.records import RunRecord
from runtree.server import auth
from runtree.server.wandb.forkwait import MAX_WAITS_PER_KEY, MISSING_PARENT_WAIT
from runtree.store.remote import RemoteStore
from tests.integration.server_fixture import Server

PARENT = "d" * 32
UPSERT = "mutation UpsertBucket($name: String, $config: JSONString) { upsertBucket(input: {name: $name, modelName: \"p\", entityName: \"team\", config: $config}) { bucket { id name } inserted } }"  # noqa: E501
VIEWER = {"query": "query Viewer { viewer { entity } }", "operationName": "Viewer"}


@pytest.fixture
def server(postgres_server: Server) -> Iterator[Server]:
    admin = postgres_server.fresh_store()
    parent = RunRecord(uid=PARENT, entity="team", project="p", id="parent", name="parent", created_at=1.0, heartbeat_at=time.time())
    admin.create_run(parent, lineage.new_run(PARENT))  # a live heartbeat: the server's reaper leaves it running
    admin.close()
    yield postgres_server


@pytest.fixture
def basic(server: Server) -> dict[str, str]:
    admin = RemoteStore(server.url, server.admin_key)
    try:
        key = auth.create_key(admin, ["team"])
    finally:
        admin.close()
    return {"Authorization": "Basic " + base64.b64encode(f"api:{key}".encode()).decode()}


def _fork(name: str, parent: str, step: int) -> dict[str, Any]:
    config = {"_wandb": {"value": {"branch_point": {"run_id": parent, "step": step}}}}
    return {"query": UPSERT, "operationName": "UpsertBucket", "variables": {"name": name, "config": json.dumps(config)}}


def _rss(server: Server) -> int:
    return int(psutil.Process(server.process.pid).memory_info().rss)


def test_a_document_of_20000_aliases_is_refused_before_parsing(server: Server, basic: dict[str, str]) -> None:
    doc = "query Q {" + " ".join(f"a{i}: viewer {{ entity }}" for i in range(20_000)) + "}"
    assert len(doc) > 400_000
    httpx.post(f"{server.url}/graphql", json=VIEWER, headers=basic)
    before = _rss(server)
    with httpx.Client(headers=basic, timeout=30) as c:
        for i in range(20):
            r = c.post(f"{server.url}/graphql", json={"query": doc + f" # {i}"})
            assert "at most 32768 are allowed" in r.json()["errors"][0]["message"], r.text
        small = "query Q {" + " ".join(f"a{i}: viewer {{ entity }}" for i in range(25)) + "}"
        r = c.post(f"{server.url}/graphql", json={"query": small})
        assert "25 aliases; at most 20" in r.json()["errors"][0]["message"]
        r = c.post(f"{server.url}/graphql", json={"query": "query Q { viewer {" + " entity" * 200 + " } }"})
        assert "at most 150 are allowed" in r.json()["errors"][0]["message"]
        r = c.post(f"{server.url}/graphql", json={"query": "query Q " + "{ viewer " * 40 + "}" * 40})
        assert "nested too deeply" in r.json()["errors"][0]["message"] or "deeper than" in r.json()["errors"][0]["message"]
    assert _rss(server) - before < 20 << 20  # nothing of the refused documents stays
    assert httpx.post(f"{server.url}/graphql", json=VIEWER, headers=basic).json()["data"]["viewer"]["entity"] == "team"


@pytest.mark.parametrize("depth", [100, 50_000])
def test_variables_nested_deep_get_a_4xx(server: Server, basic: dict[str, str], depth: int) -> None:
    body = '{"query": "query Viewer { viewer { entity } }", "variables": {"x": ' + "[" * depth + "]" * depth + "}}"
    r = httpx.post(f"{server.url}/graphql", content=body, headers={**basic, "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, r.text
    assert "nest" in r.text
    assert server.alive()


def test_forks_of_a_missing_run_fail_fast_holding_no_thread(server: Server, basic: dict[str, str]) -> None:
    """The issue's 45 UpsertBuckets naming a missing parent: each held a worker thread for 20 s and stalled everyone."""
    started = time.monotonic()
    with ThreadPoolExecutor(45) as pool, httpx.Client(headers=basic, timeout=60, limits=httpx.Limits(max_connections=60)) as c:
        futures = [pool.submit(c.post, f"{server.url}/graphql", json=_fork(f"child{i}", "nosuchrun", 5)) for i in range(45)]
        time.sleep(1)
        for _ in range(10):  # the server answers others meanwhile
            assert c.post(f"{server.url}/graphql", json=VIEWER, timeout=5).status_code == 200
        answers = [f.result() for f in futures]
    elapsed = time.monotonic() - started
    waited = [r for r in answers if r.status_code == 200]
    assert len(waited) == MAX_WAITS_PER_KEY and len(answers) - len(waited) == 45 - MAX_WAITS_PER_KEY
    for r in waited:
        assert "no run 'nosuchrun' in team/p" in r.json()["errors"][0]["message"], r.text
    assert all(r.status_code == 429 for r in answers if r not in waited)
    assert elapsed < MISSING_PARENT_WAIT + 10, f"45 forks of a missing run took {elapsed:.1f} s"


def test_forks_waiting_for_their_parent_hold_no_thread_and_are_bounded_per_key(server: Server, basic: dict[str, str]) -> None:
    n = MAX_WAITS_PER_KEY + 8
    answers: list[httpx.Response] = []

    def fork(i: int) -> httpx.Response:
        with httpx.Client(headers=basic, timeout=60) as c:
            return c.post(f"{server.url}/graphql", json=_fork(f"child{i}", "parent", 10))

    pool = ThreadPoolExecutor(n)
    futures = [pool.submit(fork, i) for i in range(n)]
    done, _ = wait(futures, timeout=5)  # the ones over the per-key bound are answered at once
    refused = [f.result() for f in done]
    # While the rest wait, the server answers others at once: the waits hold no worker thread (the pool has 40).
    with httpx.Client(headers=basic, timeout=10) as c:
        for _ in range(20):
            assert c.post(f"{server.url}/graphql", json=VIEWER).status_code == 200
            assert c.get(f"{server.url}/api/v1/health").status_code == 200
    admin = RemoteStore(server.url, server.admin_key)
    try:
        admin.append_rows(PARENT, 0, [(s, float(s), {"_step": s, "x": float(s)}) for s in range(11)])
    finally:
        admin.close()
    answers = [f.result() for f in futures]
    pool.shutdown()
    too_many = [r for r in answers if r.status_code == 429]
    created = [r for r in answers if r.status_code == 200 and "errors" not in r.json()]
    assert len(too_many) == len(refused) == n - MAX_WAITS_PER_KEY, [r.text for r in answers]
    assert "already waiting for fork parents" in too_many[0].json()["errors"][0]["message"]
    assert len(created) == MAX_WAITS_PER_KEY and all(r.json()["data"]["upsertBucket"]["inserted"] for r in created)
