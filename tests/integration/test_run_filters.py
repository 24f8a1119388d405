"""W&B's run filter language and order, evaluated in SQL by every store (SQLite, PostgreSQL, and a server's)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runtree.domain import lineage
from runtree.domain.records import RunRecord
from runtree.domain.runfilter import parse_filter, parse_order, to_spec
from runtree.errors import UsageError
from runtree.server import auth
from runtree.store.base import Store
from runtree.store.remote import RemoteStore
from tests.integration.conftest import open_store_of_kind
from tests.integration.server_fixture import Server


@pytest.fixture(params=["sqlite", "postgres", "remote(sqlite)"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = open_store_of_kind(request.param, request, tmp_path)
    _seed(s)
    yield s
    s.close()


RUNS: list[dict[str, Any]] = [
    {"id": "a", "name": "exp-alpha", "state": "finished", "created_at": 1000.0, "tags": ("base", "gpu"),
     "config": {"lr": 0.1, "opt": {"name": "adam"}, "bs": 32}, "summary": {"loss": 0.5, "acc": 0.9, "nested.k": 1}},
    {"id": "b", "name": "exp-beta", "state": "running", "created_at": 2000.0, "tags": ("gpu",),
     "config": {"lr": 0.01, "opt": {"name": "sgd"}, "bs": "big"}, "summary": {"loss": 0.2, "acc": math.nan}},
    {"id": "c", "name": "other", "state": "crashed", "created_at": 3000.0, "tags": (),
     "config": {"lr": 0.001, "flag": True}, "summary": {"loss": float("inf")}},
    {"id": "d", "name": "exp-delta", "state": "finished", "created_at": 4000.0, "tags": ("base",),
     "config": {"opt": {"name": "adam"}}, "summary": {}},
]


def _seed(s: Store) -> None:
    for i, r in enumerate(RUNS):
        rec = RunRecord(uid=f"u{i}", entity="e", project="p", **r)
        s.create_run(rec, lineage.new_run(rec.uid))
    other = RunRecord(uid="x9", entity="e", project="q", id="z", name="exp-z", created_at=5.0, config={"lr": 0.1})
    s.create_run(other, lineage.new_run("x9"))


def ids(store: Store, spec: dict[str, Any] | None, order: str | None = "+created_at", **kw: Any) -> list[str]:
    found = store.query_runs("e", "p", parse_filter(spec), parse_order(order), **kw)
    return [r.id for r in found]


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ({"config.lr": {"$gt": 0.005}}, ["a", "b"]),
        ({"config.lr": 0.1}, ["a"]),
        ({"config.lr.value": 0.1}, ["a"]),  # W&B's stored config shape, as users write it
        ({"config.opt.name": "adam"}, ["a", "d"]),
        ({"config.bs": {"$gte": 0}}, ["a"]),  # a number filter never matches the string "big"
        ({"config.bs": {"$regex": "^b"}}, ["b"]),
        ({"config.flag": True}, ["c"]),
        ({"config.lr": None}, ["d"]),  # missing matches null, as in MongoDB
        ({"config.lr": {"$exists": False}}, ["d"]),
        ({"config.lr": {"$ne": 0.1}}, ["b", "c", "d"]),
        ({"config.lr": {"$in": [0.1, 0.001]}}, ["a", "c"]),
        ({"config.lr": {"$nin": [0.1, 0.001]}}, ["b", "d"]),
        ({"summary_metrics.loss": {"$lt": 0.3}}, ["b"]),  # inf is stored, read as null: not < 0.3
        ({"summary_metrics.nested.k": 1}, ["a"]),
        ({"summary.acc": {"$gt": 0.5}}, ["a"]),
        ({"state": "finished"}, ["a", "d"]),
        ({"state": {"$in": ["running", "crashed"]}}, ["b", "c"]),
        ({"state": {"$ne": "finished"}}, ["b", "c"]),
        ({"tags": "gpu"}, ["a", "b"]),
        ({"tags": {"$in": ["base"]}}, ["a", "d"]),
        ({"tags": {"$nin": ["gpu"]}}, ["c", "d"]),
        ({"displayName": {"$regex": "^exp-(a|d)"}}, ["a", "d"]),
        ({"display_name": "other"}, ["c"]),
        ({"name": "b"}, ["b"]),  # W&B's `name` is the run id
        ({"createdAt": {"$gt": "1970-01-01T00:40:00"}}, ["c", "d"]),
        ({"created_at": {"$lte": 2000}}, ["a", "b"]),
        ({"$and": [{"config.lr": {"$lt": 0.05}}, {"state": {"$ne": "crashed"}}]}, ["b"]),
        ({"$or": [{"config.lr": 0.1}, {"tags": "base"}]}, ["a", "d"]),
        ({"$nor": [{"state": "finished"}]}, ["b", "c"]),
        ({"config.lr": {"$gt": 0.0001, "$lt": 0.05}}, ["b", "c"]),
    ],
)
def test_filter(store: Store, spec: dict[str, Any], want: list[str]) -> None:
    assert ids(store, spec) == want
    assert store.count_runs("e", "p", parse_filter(spec)) == len(want)
    assert parse_filter(to_spec(parse_filter(spec))) == parse_filter(spec)  # what a remote store sends


def test_order_and_pages(store: Store) -> None:
    assert ids(store, None, None) == ["d", "c", "b", "a"]  # W&B's default: newest first
    assert ids(store, None, "-config.lr") == ["a", "b", "c", "d"]  # runs without the key last
    assert ids(store, None, "+summary_metrics.loss") == ["b", "a", "c", "d"]
    assert ids(store, None, "display_name") == ["a", "b", "d", "c"]
    assert ids(store, None, "-created_at", limit=2) == ["d", "c"]
    assert ids(store, None, "-created_at", limit=2, offset=2) == ["b", "a"]
    assert [r.id for r in store.query_runs("e", None, None, parse_order("created_at"))] == ["z", "a", "b", "c", "d"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"confg.lr": 1}, "cannot filter or order runs by 'confg.lr'"),
        ({"config.lr": {"$gt": [1]}}, "is not a string, number"),
        ({"config.lr": {"$near": 1}}, "unknown operator '$near'"),
        ({"$xor": []}, "unknown run filter operator"),
        ({"$or": []}, "needs a non-empty list"),
        ({"displayName": {"$regex": "("}}, "$regex '('"),
        ({"createdAt": {"$gt": "yesterday"}}, "not an ISO time"),
    ],
)
def test_a_bad_filter_is_refused_with_its_reason(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("$", r"\$").replace("(", r"\(").replace("[", r"\[")):
        parse_filter(spec)


def test_a_key_queries_only_its_entities(sqlite_server: Server) -> None:
    admin = sqlite_server.fresh_store()
    try:
        _seed(admin)
        admin.create_run(RunRecord(uid="o1", entity="other", project="p", id="o", name="o", created_at=1.0), lineage.new_run("o1"))
        key = auth.create_key(admin, ["e"])
    finally:
        admin.close()
    mine = RemoteStore(sqlite_server.url, key)
    try:
        assert {r.entity for r in mine.query_runs(None, None, None, parse_order(None))} == {"e"}
        assert mine.count_runs(None, "p", parse_filter({"config.lr": {"$gt": 0}})) == 3
        with pytest.raises(PermissionError, match="may not access entity 'other'"):
            mine.query_runs("other", "p", None, parse_order(None))
        with pytest.raises(UsageError, match=r"limit must be 0\.\.10000"):
            mine.query_runs("e", "p", parse_filter({"config.lr": {"$gt": 0}}), parse_order(None), limit=20000)
    finally:
        mine.close()
