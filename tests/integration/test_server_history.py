"""History over real HTTP: pages, the keys filter, min/max downsampling, exact values, strict JSON for browsers."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from runtree.domain import lineage
from runtree.domain.records import RunRecord
from runtree.store.remote import RemoteStore
from runtree.store.wire import decode_columns
from tests.integration.server_fixture import Server

P, C = "p" * 32, "c" * 32
N = 10_000


def _strict(text: str) -> Any:
    return json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in what should be strict JSON"))


@pytest.fixture(scope="module")
def server(sqlite_server: Server) -> Iterator[Server]:
    """A parent of N rows (loss: noisy with spikes; acc: every other step; name: a string) and a fork at 6000."""
    store = sqlite_server.fresh_store()
    rnd = random.Random(7)
    store.create_run(RunRecord(uid=P, entity="e", project="h", id="parent", name="parent"), lineage.new_run(P))
    rows = []
    for s in range(N):
        row: dict[str, Any] = {"_step": s, "loss": math.exp(-s / 3000) + rnd.gauss(0, 0.05) + (5.0 if s % 997 == 0 else 0.0)}
        if s % 2 == 0:
            row["acc"] = s / N
        if s == 4321:
            row["loss"] = math.nan
        row["name"] = f"r{s}"
        rows.append((s, float(s), row))
    store.append_rows(P, 0, rows)
    store.create_run(RunRecord(uid=C, entity="e", project="h", id="child", name="child", parent_uid=P, fork_step=6000),
                     lineage.fork(lineage.new_run(P), 6000, C, 6000.0))  # fmt: skip
    store.append_rows(C, 0, [(s, float(s), {"_step": s, "loss": -1.0}) for s in range(6001, 7001)])
    store.close()
    yield sqlite_server


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {server.admin_key}"}) as c:
        yield c


@pytest.fixture
def remote(server: Server) -> Iterator[RemoteStore]:
    store = RemoteStore(server.url, server.admin_key, page_rows=700)
    yield store
    store.close()


def _same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)  # NaN-aware, unlike ==


def _pages(client: httpx.Client, uid: str, **params: Any) -> list[dict[str, Any]]:
    pages, params = [], dict(params)
    while True:
        page = _strict(client.get(f"/runs/{uid}/history", params=params).text)
        pages.append(page)
        if page["next_min_step"] is None:
            return pages
        params["min_step"] = page["next_min_step"]


def test_pages_join_into_the_whole_history(client: httpx.Client, remote: RemoteStore) -> None:
    pages = _pages(client, C, limit=1500)
    assert [p["n"] for p in pages] == [1500] * 4 + [1001]
    rows = [r for p in pages for r in decode_columns(p)]
    assert [r["_step"] for r in rows] == list(range(7001))
    # Through RemoteStore, pages of 700 rows fetched ahead in a thread: the same rows, values exact.
    assert _same(list(remote.read_rows(remote.read_segments(C))), rows)
    assert math.isnan(rows[4321]["loss"]) and "acc" not in rows[1] and rows[6001] == {"_step": 6001, "loss": -1.0}


def test_abandoning_a_read_midway_stops_its_fetching(remote: RemoteStore) -> None:
    it = remote.read_rows(remote.read_segments(P))
    assert [next(it)["_step"] for _ in range(1000)] == list(range(1000))
    it.close()  # joins the page thread; a hang here fails the test by timeout
    assert remote.last_row(remote.read_segments(P)) == (N - 1, float(N - 1))


def test_keys_filter_and_step_range(client: httpx.Client) -> None:
    (page,) = _pages(client, P, keys=["acc"], min_step=100, max_step=109)
    assert decode_columns(page) == [{"_step": s, "acc": s / N} for s in range(100, 110, 2)]
    (page,) = _pages(client, C, keys=["loss"], min_step=5999, max_step=6002)
    assert [r["_step"] for r in decode_columns(page)] == [5999, 6000, 6001, 6002]


def _buckets(steps: list[int], samples: int) -> list[list[int]]:
    """The documented rule: samples // 2 buckets of equal step width over the key's first..last step."""
    nb = samples // 2
    width = steps[-1] - steps[0] + 1
    out: list[list[int]] = [[] for _ in range(nb)]
    for i, s in enumerate(steps):
        out[min(nb - 1, int((s - steps[0]) * nb / width))].append(i)
    return out


@pytest.mark.parametrize(("samples", "window"), [(100, {}), (200, {"min_step": 2000, "max_step": 2999})])
def test_downsampling_keeps_each_buckets_min_and_max(client: httpx.Client, samples: int, window: dict[str, int]) -> None:
    full = [r for p in _pages(client, P, keys=["loss"], limit=100_000, **window) for r in decode_columns(p)]
    (page,) = _pages(client, P, keys=["loss"], samples=samples, **window)
    got = decode_columns(page)
    assert page["samples"] == samples and 0 < len(got) <= samples
    steps = [r["_step"] for r in full]
    values = [r["loss"] for r in full]
    kept = {r["_step"] for r in got}
    assert {"_step", "loss"} >= set().union(*got) and kept <= set(steps)
    for bucket in _buckets(steps, samples):
        finite = [i for i in bucket if math.isfinite(values[i])]
        lo, hi = min(finite, key=lambda i: values[i]), max(finite, key=lambda i: values[i])
        assert steps[lo] in kept and steps[hi] in kept
    assert max(values) == max(r["loss"] for r in got)  # the spikes survive
    if window:
        assert min(kept) >= 2000 and max(kept) <= 2999  # zooming asks for a finer step range


def test_downsampling_every_key_of_a_fork(client: httpx.Client) -> None:
    (page,) = _pages(client, C, samples=50)
    got = decode_columns(page)
    for key in ("loss", "acc", "name"):
        points = [r for r in got if key in r]
        assert 0 < len(points) <= 50, key
    assert any(r.get("loss") == -1.0 for r in got) and any(r["_step"] < 6000 for r in got if "loss" in r)
    assert len([r for r in got if "name" in r]) <= 25  # no numbers: one point (the first) per bucket


def test_strict_json_for_browsers_and_the_exact_dialect_for_remote_store(server: Server, client: httpx.Client, remote: RemoteStore) -> None:
    remote.update_run(P, summary={"loss": math.nan, "best": math.inf, "worst": -math.inf, "big": 2**70})
    d = _strict(client.get(f"/runs/{P}").text)
    assert d["summary"] == {"loss": "NaN", "best": "Infinity", "worst": "-Infinity", "big": 2**70}
    summary = remote.get_run(P).summary
    assert math.isnan(summary.pop("loss")) and summary == {"best": math.inf, "worst": -math.inf, "big": 2**70}


def test_system_metrics_and_console_lines(server: Server, client: httpx.Client, remote: RemoteStore) -> None:
    remote.append_system(P, 0, [(float(t), {"cpu": t, "gpu.0.temp": math.nan}) for t in range(0, 8000, 1000)])
    remote.append_logs(P, 0, [(i, float(i * 1000), i, "stdout", f"line {i}") for i in range(8)])
    segs = remote.read_segments(C)
    assert [v["cpu"] for _, v in remote.read_system(segs)] == list(range(0, 7000, 1000))  # cut at the fork's time
    assert all(math.isnan(v["gpu.0.temp"]) for _, v in remote.read_system(segs))
    assert [t for *_, t in remote.read_logs(segs)] == [f"line {i}" for i in range(7)]
    assert remote.last_log_seq(P, 0) == 7 and remote.last_log_seq(P, 1) is None
    ui = _strict(client.get(f"/runs/{C}/system").text)["samples"]
    assert ui[0] == [0.0, {"cpu": 0, "gpu.0.temp": "NaN"}]
    assert _strict(client.get(f"/runs/{C}/logs").text)["lines"][-1] == [6000.0, 6, "stdout", "line 6"]


def test_run_files_round_trip(remote: RemoteStore) -> None:
    blob = bytes(range(256)) * 1024  # 256 KiB, sent gzipped
    remote.put_file(P, "dir/model.bin", blob)
    remote.put_file(P, "diff.patch", b"+x\n")
    assert remote.read_file(P, "dir/model.bin") == blob
    assert remote.list_files(P) == ["diff.patch", "dir/model.bin"]
    with pytest.raises(FileNotFoundError, match="no file 'nope'"):
        remote.read_file(P, "nope")


def test_projects_with_run_counts_and_last_activity(client: httpx.Client) -> None:
    projects = _strict(client.get("/projects").text)["projects"]
    assert [(p["entity"], p["project"], p["runs"]) for p in projects] == [("e", "h", 2)]
    assert projects[0]["last_activity"] > 0


def test_openapi_document(client: httpx.Client) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["info"]["title"] == "runtree"
    for path in ("/api/v1/runs", "/api/v1/runs/{uid}/rows", "/api/v1/query/history", "/api/v1/runs/{uid}/history", "/api/v1/projects"):
        assert path in doc["paths"], path
