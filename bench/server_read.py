"""How fast history goes through `runtree server`: ingest from one client, and reading 1,000,000 points back.

    .venv/bin/python bench/server_read.py [--db sqlite:///tmp/x.db | postgresql://...] [--shape 100000x10 --shape 1000000x1]

Starts `python -m runtree.server` on a free port over a fresh store (a temporary SQLite file unless --db),
then for each shape ROWSxKEYS (points = ROWS * KEYS metric values; every row also holds _step,
_timestamp and _runtime as the SDK writes them):
  ingest       RemoteStore.append_rows from one client, batches of 10,000 rows
  sdk ingest   runtree.init + run.log through RUNTREE_BASE_URL, until run.finish() returns (first shape only)
  rows         RemoteStore.read_rows -> a list of dicts (what Api.history builds on)
  Api.history  runtree.Api().run(path).history() -> pandas DataFrame
  columns      the UI's way: GET /runs/{uid}/history pages, orjson-decoded columns, no per-row objects
  sampled      GET /runs/{uid}/history?samples=1000 (min/max per bucket, every key)
  embedded     SqliteStore.read_rows on the same file, no HTTP (SQLite only)
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from runtree.api import Api
from runtree.domain import ids, lineage
from runtree.domain.records import RunRecord
from runtree.store.remote import RemoteStore


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(db_url: str, log_path: Path) -> Iterator[tuple[str, str]]:
    """(url, admin key) of a server over `db_url` while the block runs."""
    port = _free_port()
    cmd = [sys.executable, "-m", "runtree.server", "--db", db_url, "--port", str(port), "--no-access-log"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise SystemExit(f"server did not start:\n{log_path.read_text()}")
        found = re.search(r"(rt_[A-Za-z0-9_\-]{40,})", log_path.read_text())
        if found is None:
            raise SystemExit(f"the server printed no admin key (use a fresh --db):\n{log_path.read_text()}")
        yield url, found.group(1)
    finally:
        proc.terminate()
        proc.wait(15)


def make_rows(first: int, n: int, keys: int) -> list[tuple[int, float, dict[str, Any]]]:
    t0 = 1.7e9
    out = []
    for s in range(first, first + n):
        row: dict[str, Any] = {f"m{i}": random.random() for i in range(keys)}
        row.update(_step=s, _timestamp=t0 + s * 0.01, _runtime=s * 0.01)
        out.append((s, t0 + s * 0.01, row))
    return out


def timed(label: str, fn: Callable[[], Any], points: int, results: list[str]) -> Any:
    t = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t
    results.append(f"  {label:<44} {dt:7.2f} s   {points / dt / 1e6:6.2f} M points/s")
    print(results[-1], flush=True)
    return out


def columns_read(url: str, key: str, uid: str) -> int:
    """Every page of the run's history as columns, the way a chart reads it; returns the row count."""
    n, params = 0, {"limit": 200_000}
    with httpx.Client(base_url=url + "/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=120) as c:
        while True:
            page = orjson.loads(c.get(f"/runs/{uid}/history", params=params).content)
            n += page["n"]
            if page["next_min_step"] is None:
                return n
            params["min_step"] = page["next_min_step"]


def bench_shape(url: str, key: str, db_url: str, rows: int, keys: int, results: list[str]) -> None:
    store = RemoteStore(url, key)
    uid = ids.make_uid()
    run_id = f"bench{rows}x{keys}"
    store.create_run(RunRecord(uid=uid, entity="bench", project="read", id=run_id, name=run_id, state="finished"), lineage.new_run(uid))
    points = rows * keys
    results.append(f"{rows:,} rows x {keys} keys = {points:,} points")
    print(results[-1], flush=True)
    batches = [make_rows(i, min(10_000, rows - i), keys) for i in range(0, rows, 10_000)]
    timed("ingest: RemoteStore.append_rows (10k batches)", lambda: [store.append_rows(uid, 0, b) for b in batches], points, results)
    segs = store.read_segments(uid)
    got = timed("read: RemoteStore.read_rows -> dicts", lambda: list(store.read_rows(segs)), points, results)
    assert len(got) == rows and got[-1] == batches[-1][-1][2], "rows read back differ"
    del got
    df = timed(
        "read: Api().run(path).history() -> DataFrame", lambda: Api(store=url).run(f"bench/read/{run_id}").history(), points, results
    )
    assert len(df) == rows
    n = timed("read: GET history pages -> columns (UI)", lambda: columns_read(url, key, uid), points, results)
    assert n == rows
    timed(
        "read: GET history?samples=1000 (all keys)",
        lambda: httpx.get(
            f"{url}/api/v1/runs/{uid}/history", params={"samples": 1000}, headers={"Authorization": f"Bearer {key}"}, timeout=120
        ),
        points,
        results,
    )
    if db_url.startswith("sqlite:///"):
        from runtree.store.sqlite import SqliteStore

        local = SqliteStore(db_url[len("sqlite:///") :])
        timed("embedded: SqliteStore.read_rows, no HTTP", lambda: list(local.read_rows(segs)), points, results)
        local.close()
    store.close()


def sdk_ingest(url: str, key: str, rows: int, keys: int, tmp: str, results: list[str]) -> None:
    # RUNTREE_DIR only holds the SDK's last-run note here: the rows go to the server.
    os.environ.update(RUNTREE_BASE_URL=url, RUNTREE_API_KEY=key, RUNTREE_DIR=tmp)
    os.environ.update(RUNTREE_SYSTEM_SAMPLE_INTERVAL="0", RUNTREE_CONSOLE="off")
    import runtree

    def log_all() -> None:
        run = runtree.init(project="ingest", entity="bench")
        values = [random.random() for _ in range(keys)]
        names = [f"m{i}" for i in range(keys)]
        for _ in range(rows):
            run.log(dict(zip(names, values, strict=True)))
        run.finish()

    timed(f"ingest: runtree.init + run.log x {rows:,} + finish", log_all, rows * keys, results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="store URL for the server (default: a new temporary SQLite file)")
    ap.add_argument("--shape", action="append", help="ROWSxKEYS, repeatable (default: 100000x10 and 1000000x1)")
    args = ap.parse_args()
    shapes = [tuple(int(x) for x in s.lower().split("x")) for s in (args.shape or ["100000x10", "1000000x1"])]
    with tempfile.TemporaryDirectory() as tmp:
        db_url = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        results: list[str] = [f"server over {db_url.split('@')[-1]}, one client, {os.cpu_count()} CPUs"]
        print(results[0], flush=True)
        with server(db_url, Path(tmp) / "server.log") as (url, key):
            os.environ["RUNTREE_API_KEY"] = key  # for Api(store=url)
            for rows, keys in shapes:
                bench_shape(url, key, db_url, rows, keys, results)
            sdk_ingest(url, key, shapes[0][0], shapes[0][1], tmp, results)
    print("\n".join(results))


if __name__ == "__main__":
    main()
