"""The workspace's server side: shared settings in every store, many runs' series in one request, short-id links, importance."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from runtree.domain import lineage
from runtree.domain.records import RunRecord
from runtree.server.auth import hash_key, make_key
from runtree.store.base import Store
from tests.integration.server_fixture import Server


def test_a_setting_is_stored_replaced_and_kept_exactly(store: Store) -> None:
    scope = "workspace/e/p"
    assert store.get_setting(scope) is None
    layout = {"panels": {"loss": {"pinned": True, "smoothing": 0.6}}, "order": ["loss", "val/acc"], "note": "ünïcode", "n": 1e-300}
    store.put_setting(scope, layout)
    assert store.get_setting(scope) == layout
    store.put_setting(scope, {"order": []})
    assert store.get_setting(scope) == {"order": []}
    assert store.get_setting("workspace/e/other") is None


def _strict(text: str) -> Any:
    return json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in what should be strict JSON"))


A, B, C = "a" * 32, "b" * 32, "c" * 32
N = 3000


@pytest.fixture(scope="module")
def server(sqlite_server: Server) -> Iterator[Server]:
    """Runs A (N steps of loss, epoch every 100 steps, a NaN), its fork B at 1000, and C in another entity."""
    store = sqlite_server.fresh_store()
    store.create_run(
        RunRecord(uid=A, entity="e", project="w", id="runa0001", name="a", config={"lr": 0.1, "opt": "adam"}, summary={"loss": 0.5}),
        lineage.new_run(A),
    )
    rows = []
    for s in range(N):
        row: dict[str, Any] = {"_step": s, "_timestamp": 1000.0 + s, "loss": 1.0 / (1 + s) + (0.5 if s % 2 else 0.0)}
        if s % 100 == 0:
            row["epoch"] = s // 100
        if s == 77:
            row["loss"] = math.nan
        if s == 5:
            row["loss"] = "text"
        if s == 6:
            row["loss"] = 2**70  # beyond 64 bits: still a number on the chart
        rows.append((s, 1000.0 + s, row))
    store.append_rows(A, 0, rows)
    store.create_run(
        RunRecord(
            uid=B,
            entity="e",
            project="w",
            id="runb0001",
            name="b",
            parent_uid=A,
            fork_step=1000,
            config={"lr": 0.01, "opt": "sgd"},
            summary={"loss": 0.9},
        ),
        lineage.fork(lineage.new_run(A), 1000, B, 2000.0),
    )
    store.append_rows(B, 0, [(s, 3000.0 + s, {"_step": s, "_timestamp": 3000.0 + s, "loss": 2.0}) for s in range(1001, 1101)])
    store.create_run(RunRecord(uid=C, entity="other", project="w", id="runb0001", name="c"), lineage.new_run(C))
    store.close()
    yield sqlite_server


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {server.admin_key}"}) as c:
        yield c


def test_series_of_many_runs_in_one_request(client: httpx.Client) -> None:
    r = client.post("/query/series", json={"uids": [A, B], "keys": ["loss"], "x": "epoch", "samples": 200, "time": True})
    assert r.status_code == 200, r.text
    runs = _strict(r.text)["runs"]
    a, b = runs[A]["loss"], runs[B]["loss"]
    assert a["points"] == N - 1  # the text value is not a point on a line
    assert 6 in a["steps"] and a["values"][a["steps"].index(6)] == pytest.approx(2.0**70, rel=1e-6)
    assert len(a["steps"]) <= 200 and a["steps"] == sorted(a["steps"])
    assert None in a["values"] or 77 not in a["steps"]  # NaN travels as null
    assert max(v for v in a["values"] if v is not None) >= 1.0  # the first point's value survives downsampling
    assert a["time"][0] == 1000.0 + a["steps"][0]
    assert [x for s, x in zip(a["steps"], a["x"], strict=True) if s % 100] == [None] * sum(1 for s in a["steps"] if s % 100)
    assert all(x == s // 100 for s, x in zip(a["steps"], a["x"], strict=True) if s % 100 == 0)  # epoch from the same row
    # The fork: the parent's rows up to 1000, then its own.
    assert b["points"] == 1000 - 0 + 100 and b["steps"][-1] == 1100 and b["values"][-1] == 2.0


def test_smoothing_is_applied_to_the_full_resolution_series(client: httpx.Client) -> None:
    raw = _strict(client.post("/query/series", json={"uids": [A], "keys": ["loss"], "samples": 4000, "smoothing": 0.9}).text)
    low = _strict(client.post("/query/series", json={"uids": [A], "keys": ["loss"], "samples": 100, "smoothing": 0.9}).text)
    assert "time" not in raw["runs"][A]["loss"]  # only when asked
    full = dict(zip(raw["runs"][A]["loss"]["steps"], raw["runs"][A]["loss"]["smooth"], strict=True))
    sampled = low["runs"][A]["loss"]
    for step, value in zip(sampled["steps"], sampled["smooth"], strict=True):
        assert value == pytest.approx(full[step], rel=1e-6)  # not an EMA of the 100 kept points (32-bit floats)
    # Alternating values (0.5 apart) smooth to a line that hardly alternates.
    tail = [v for v in raw["runs"][A]["loss"]["smooth"][-50:] if v is not None]
    assert max(tail) - min(tail) < 0.2


def test_series_refuses_bad_input_with_a_message(client: httpx.Client) -> None:
    assert client.post("/query/series", json={"uids": [], "keys": ["loss"]}).status_code == 422
    assert client.post("/query/series", json={"uids": [A], "keys": ["loss"], "smoothing": 1.5}).status_code == 422
    r = client.post("/query/series", json={"uids": ["nope"], "keys": ["loss"]})
    assert r.status_code == 404 and "nope" in r.json()["error"]["message"]


def test_a_short_id_resolves_to_every_readable_run_with_it(client: httpx.Client, server: Server) -> None:
    assert [x["uid"] for x in client.get("/resolve/runa0001").json()["runs"]] == [A]
    assert [x["uid"] for x in client.get(f"/resolve/{A}").json()["runs"]] == [A]
    assert sorted(x["uid"] for x in client.get("/resolve/runb0001").json()["runs"]) == [B, C]
    assert client.get("/resolve/zzzzzzzz").status_code == 404
    key, record = make_key(["e"])
    with httpx.Client(base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {server.admin_key}"}) as c:
        c.post(
            "/keys", json={"key_hash": hash_key(key), "entities": ["e"], "admin": False, "label": "", "prefix": key[:8], "created_at": 1.0}
        )
    with httpx.Client(base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {key}"}) as c:
        assert [x["uid"] for x in c.get("/resolve/runb0001").json()["runs"]] == [B]  # C is in an entity it may not read
        assert c.get("/settings/workspace/other/w").status_code == 403
        assert c.put("/settings/workspace/e/w", json={"value": {"order": ["loss"]}}).status_code == 204
        assert c.get("/settings/workspace/e/w").json() == {"value": {"order": ["loss"]}}
    assert record.entities == ("e",)


def test_settings_scope_and_size_are_checked(client: httpx.Client) -> None:
    r = client.put("/settings/users/me", json={"value": 1})
    assert r.status_code == 422 and "workspace/<entity>/<project>" in r.json()["error"]["message"]
    r = client.put("/settings/workspace/e/w", content=json.dumps({"value": "x" * 300_000}))
    assert r.status_code == 422 and "over the limit" in r.json()["error"]["message"]
    assert client.put("/settings/workspace/e/w", content=b"{not json").status_code == 422


def test_importance_ranks_config_keys_for_a_metric(client: httpx.Client) -> None:
    r = client.post("/query/importance", json={"uids": [A, B], "metric": "loss", "params": ["lr", "opt"]})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["runs"] == 2 and "at least 3" in got["note"]
    assert {p["key"] for p in got["params"]} == {"lr", "opt=adam", "opt=sgd"}
