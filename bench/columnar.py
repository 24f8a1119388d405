"""Issue 13's table in one command: reads, forks, init, listings, disk, memory and log() — runtree beside a floor.

    .venv/bin/python bench/columnar.py              # the issue's sizes (several minutes on 2 busy cores)
    .venv/bin/python bench/columnar.py --scale 0.1  # every size / 10, for a quick look
    .venv/bin/python bench/columnar.py --peers      # also wandb offline's log() and disk per point

Server figures go through `python -m runtree.server` over a fresh PostgreSQL database (--pg, default the local
test server), falling back to a SQLite file when PostgreSQL cannot be reached. The floor of each figure is the
least a Python program can do for it: reads and disk, a JSON-lines file of the same rows read back with orjson;
log(), appending the dict to a list; RSS, the same loop storing nothing; a fork, copying the parent's rows.
Each figure is a median of --repeat runs where it is cheap to repeat; ratios are runtree / floor.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_read import server

import runtree
from runtree.domain import ids, lineage
from runtree.domain.records import RunRecord
from runtree.store import open_store
from runtree.store.base import Store

T0 = 1.7e9
RESULTS: list[tuple[str, str, str, str]] = []  # figure, runtree, floor / peer, ratio


def rows(first: int, n: int, keys: int) -> Iterator[tuple[int, float, dict[str, Any]]]:
    rnd = random.Random(first)
    for s in range(first, first + n):
        row: dict[str, Any] = {f"m{i}": rnd.random() for i in range(keys)}
        row.update(_timestamp=T0 + s * 0.01, _runtime=s * 0.01, _step=s)
        yield s, T0 + s * 0.01, row


def fill(store: Store, uid: str, n: int, keys: int, first: int = 0, batch: int = 10_000) -> None:
    buf: list[tuple[int, float, dict[str, Any]]] = []
    for r in rows(first, n, keys):
        buf.append(r)
        if len(buf) == batch:
            store.append_rows(uid, 0, buf)
            buf = []
    if buf:
        store.append_rows(uid, 0, buf)


def new_run(store: Store, project: str, name: str) -> RunRecord:
    rec = RunRecord(ids.make_uid(), "bench", project, ids.make_id(), name, state="finished", created_at=time.time())
    store.create_run(rec, lineage.new_run(rec.uid))
    return rec


def median(f: Callable[[], Any], repeat: int) -> float:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def fmt(v: float, unit: str) -> str:
    if unit == "s":
        return f"{v * 1000:.1f} ms" if v < 1 else f"{v:.2f} s"
    if unit == "us":
        return f"{v:.2f} µs"
    if unit == "B":
        return f"{v:.1f} B"
    if unit == "MB":
        return f"{v:.0f} MB"
    return f"{v:g}"


def note(figure: str, ours: float, floor: float | None, unit: str, peer: str = "") -> None:
    ratio = f"{ours / floor:.2f}x" if floor else "—"
    other = (fmt(floor, unit) if floor is not None else "—") + (f"; {peer}" if peer else "")
    RESULTS.append((figure, fmt(ours, unit), other, ratio))
    print(f"  {figure}: {fmt(ours, unit)} (floor {other}, {ratio})", flush=True)


def jsonl(path: Path, n: int, keys: int) -> Path:
    with open(path, "wb") as f:
        for _s, _t, row in rows(0, n, keys):
            f.write(orjson.dumps(row) + b"\n")
    return path


def read_jsonl(path: Path, key: str) -> list[Any]:
    out = []
    with open(path, "rb") as f:
        for line in f:
            row = orjson.loads(line)
            if key in row:
                out.append(row[key])
    return out


def db_bytes(d: Path) -> int:
    import sqlite3

    db = d / "runtree.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return db.stat().st_size


@contextmanager
def pg_database(base_url: str) -> Iterator[str | None]:
    try:
        import psycopg

        name = f"runtree_bench_{os.getpid()}"
        with psycopg.connect(base_url, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
    except Exception as e:  # no PostgreSQL here: the server figures use SQLite
        print(f"bench: PostgreSQL at {base_url} not usable ({e}); server figures on SQLite", file=sys.stderr)
        yield None
        return
    url = base_url.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def pg_history_bytes(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM")
        q = "SELECT COALESCE(SUM(pg_total_relation_size(c)), 0) FROM unnest(ARRAY['history', 'history_chunks', 'history_columns']) c"
        return int(conn.execute(q).fetchone()[0])  # type: ignore[index]


LOG_SCRIPT = """
import json, resource, sys, time
n, store = int(sys.argv[1]), sys.argv[2]
rows = [{f"m{i}": 0.5 + i * 1e-3 + s * 1e-9 for i in range(10)} for s in range(min(n, 1000))]
if store == "floor":
    sink = []
    log = sink.append
else:
    import runtree
    run = runtree.init(project="rss", dir=store, settings={"console": "off", "system_sample_interval": 0})
    log = run.log
times = []
pc = time.perf_counter_ns
for s in range(n):
    r = dict(rows[s % len(rows)])
    t = pc()
    log(r)
    times.append(pc() - t)
if store != "floor":
    run.finish()
hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM:")]  # reset at exec, unlike ru_maxrss
rss = int(hwm[0].split()[1]) / 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"mean_us": sum(times) / len(times) / 1000, "rss_mb": rss}))
"""


def log_proc(n: int, store: str) -> dict[str, float]:
    env = {**os.environ, "RUNTREE_CONSOLE": "off"}
    for var in ("RUNTREE_BASE_URL", "RUNTREE_API_KEY"):
        env.pop(var, None)
    out = subprocess.run([sys.executable, "-c", LOG_SCRIPT, str(n), store], capture_output=True, text=True, env=env, check=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def init_time(repeat: int, **kw: Any) -> float:
    """Median time of runtree.init() alone in project "many" (each run finished afterwards, untimed)."""
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        run = runtree.init(project="many", settings={"console": "off", "system_sample_interval": 0}, reinit="create_new", **kw)
        out.append(time.perf_counter() - t)
        run.finish()
    return statistics.median(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=float, default=1.0, help="multiply every size by this (0.1 for a quick look)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres", help="a PostgreSQL server to make a database on")
    p.add_argument("--peers", action="store_true", help="also wandb offline (log() and disk per point)")
    a = p.parse_args()
    big, mid, runs_n = int(1_000_000 * a.scale), int(100_000 * a.scale), int(10_000 * a.scale)
    depth, w2_runs = max(5, int(100 * a.scale)), max(5, int(200 * a.scale))
    tmp = Path(tempfile.mkdtemp(prefix="runtree-bench-"))
    os.environ.update(RUNTREE_CONSOLE="off", RUNTREE_SYSTEM_SAMPLE_INTERVAL="0", RUNTREE_ENTITY="bench")
    settings = {"console": "off", "system_sample_interval": 0}

    print(f"== embedded (SQLite) in {tmp}", flush=True)
    d10, d1 = tmp / "e10", tmp / "e1"
    s10, s1 = open_store(str(d10)), open_store(str(d1))
    r10, r1 = new_run(s10, "p", "ten-keys"), new_run(s1, "p", "one-key")
    t = time.perf_counter()
    fill(s10, r10.uid, mid, 10)
    fill(s1, r1.uid, big, 1)
    print(f"  (filled {mid:,} x 10 and {big:,} x 1 in {time.perf_counter() - t:.1f} s)")
    f10, f1 = jsonl(tmp / "r10.jsonl", mid, 10), jsonl(tmp / "r1.jsonl", big, 1)
    api10, api1 = runtree.Api(store=str(d10)), runtree.Api(store=str(d1))
    note(
        f"read one metric, {mid:,} points, embedded",
        median(lambda: api10.run(f"bench/p/{r10.id}").history(keys=["m3"]), a.repeat),
        median(lambda: read_jsonl(f10, "m3"), a.repeat),
        "s",
    )
    note(
        f"read {big:,} points x 1 key, embedded",
        median(lambda: api1.run(f"bench/p/{r1.id}").history(keys=["m0"]), a.repeat),
        median(lambda: read_jsonl(f1, "m0"), a.repeat),
        "s",
    )
    note("disk per point, 10 keys, embedded", db_bytes(d10) / (mid * 10), f10.stat().st_size / (mid * 10), "B")
    note("disk per point, 1 key, embedded", db_bytes(d1) / big, f1.stat().st_size / big, "B")

    # fork of the long run: init, then finish; the floor copies the parent's rows into a new run
    def fork_times(parent: str, step: int, **kw: Any) -> tuple[float, float]:
        t = time.perf_counter()
        child = runtree.init(project="p", fork_from=f"{parent}?_step={step}", settings=settings, reinit="create_new", **kw)
        t_init = time.perf_counter() - t
        child.log({"m0": 0.0})
        t = time.perf_counter()
        child.finish()
        return t_init, time.perf_counter() - t

    inits, finishes = zip(*(fork_times(r1.id, big - 1000, dir=str(d1)) for _ in range(a.repeat)), strict=True)

    def copy() -> None:
        c = new_run(s1, "p", "copy")
        buf = []
        for row in s1.read_rows(s1.read_segments(r1.uid), None, big - 1000):
            buf.append((row["_step"], row["_timestamp"], row))
            if len(buf) == 10_000:
                s1.append_rows(c.uid, 0, buf)
                buf = []
        s1.append_rows(c.uid, 0, buf)

    copy_s = median(copy, 1)
    note(f"fork of a {big:,}-row parent: init, embedded", statistics.median(inits), copy_s, "s")
    note(f"fork of a {big:,}-row parent: finish, embedded", statistics.median(finishes), copy_s, "s")

    chain: list[float] = []
    parent_id = r10.id
    for _ in range(depth):
        at = f"{parent_id}?_step={mid - 1 + len(chain) * 10}"
        child = runtree.init(project="p", dir=str(d10), fork_from=at, settings=settings, reinit="create_new")
        for _ in range(10):
            child.log({"m0": 1.0})
        t = time.perf_counter()
        child.finish()
        chain.append(time.perf_counter() - t)
        parent_id = child.id
    last = fmt(chain[-1], "s")
    note(f"fork chain of depth {depth}: each fork's finish (median; last {last}), embedded", statistics.median(chain), None, "s")

    for i in range(runs_n):
        new_run(s10, "many", f"r{i}")
    note(f"init() in a project of {runs_n:,} runs, embedded", init_time(a.repeat, dir=str(d10)), None, "s")
    env = {**os.environ}
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "runtree.cli", "runs", "bench/many", "--dir", str(d10)], stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    first = None
    for line in proc.stdout:
        if first is None and b"\xe2\x94\x82" in line:  # the first table row
            first = time.perf_counter() - t
    proc.wait()
    total = time.perf_counter() - t
    api_runs = median(lambda: len(runtree.Api(store=str(d10)).runs("bench/many")), 1)
    figure = f"`runtree runs` with {runs_n:,} runs: first page (all drawn in {fmt(total, 's')})"
    note(figure, first or total, api_runs, "s", "floor = Api().runs all")

    imp = "import time; t = time.perf_counter(); import {}; print(time.perf_counter() - t)"

    def import_time(module: str) -> float:
        runs = [subprocess.run([sys.executable, "-c", imp.format(module)], capture_output=True, text=True, check=True) for _ in range(5)]
        return statistics.median(float(r.stdout) for r in runs)

    note("import runtree (no pandas, numpy, FastAPI, graphql)", import_time("runtree"), import_time("json, sqlite3, threading"), "s")
    n_log = mid
    ours, floor = log_proc(n_log, str(tmp / "rss")), log_proc(n_log, "floor")
    note(f"peak RSS of a process logging {n_log:,} steps", ours["rss_mb"], floor["rss_mb"], "MB")
    note(f"log() of 10 scalars, {n_log:,} calls, mean", ours["mean_us"], floor["mean_us"], "us")
    long = log_proc(big, str(tmp / "rss-long"))
    note(f"log() of 10 scalars, {big:,} calls, mean (RSS {long['rss_mb']:.0f} MB)", long["mean_us"], floor["mean_us"], "us")

    def w2(**kw: Any) -> None:
        for i in range(w2_runs):
            run = runtree.init(project="w2", name=f"w{i}", settings=settings, reinit="create_new", **kw)
            for s in range(1000):
                run.log({f"m{k}": s * 0.001 + k for k in range(10)})
            run.finish()

    w2_embedded = median(lambda: w2(dir=str(tmp / "w2")), 1)

    def w2_floor() -> None:
        for i in range(w2_runs):
            with open(tmp / f"w2-{i}.jsonl", "wb") as f:
                for s in range(1000):
                    f.write(orjson.dumps({**{f"m{k}": s * 0.001 + k for k in range(10)}, "_step": s}) + b"\n")

    w2_floor_s = median(w2_floor, 1)
    note(f"W2: {w2_runs} runs x 1,000 steps, embedded", w2_embedded, w2_floor_s, "s")

    print("== through `runtree server`", flush=True)
    with pg_database(a.pg) as pg_url:
        db = pg_url or f"sqlite:///{tmp / 'server.db'}"
        with server(db, tmp / "server.log") as (url, key):
            os.environ.update(RUNTREE_BASE_URL=url, RUNTREE_API_KEY=key)
            remote = open_store(url)
            before = pg_history_bytes(pg_url) if pg_url else 0
            q10 = new_run(remote, "p", "ten-keys")
            fill(remote, q10.uid, mid, 10)
            mid10 = pg_history_bytes(pg_url) if pg_url else 0
            q1 = new_run(remote, "p", "one-key")
            fill(remote, q1.uid, big, 1)
            if pg_url:
                after = pg_history_bytes(pg_url)
                note("disk per point, 10 keys, PostgreSQL", (mid10 - before) / (mid * 10), f10.stat().st_size / (mid * 10), "B")
                note("disk per point, 1 key, PostgreSQL", (after - mid10) / big, f1.stat().st_size / big, "B")
            rapi = runtree.Api(store=url)
            note(
                f"read {big:,} points x 1 key, over the server",
                median(lambda: rapi.run(f"bench/p/{q1.id}").history(keys=["m0"]), a.repeat),
                median(lambda: read_jsonl(f1, "m0"), a.repeat),
                "s",
            )
            note(
                f"read {mid:,} rows x 10 keys, over the server",
                median(lambda: rapi.run(f"bench/p/{q10.id}").history(), a.repeat),
                median(lambda: [orjson.loads(line) for line in f10.read_bytes().splitlines()], a.repeat),
                "s",
            )
            inits, finishes = zip(*(fork_times(q1.id, big - 1000) for _ in range(a.repeat)), strict=True)
            note(f"fork of a {big:,}-row parent: init, server", statistics.median(inits), copy_s, "s", "floor = embedded copy")
            note(f"fork of a {big:,}-row parent: finish, server", statistics.median(finishes), copy_s, "s", "floor = embedded copy")
            chain = []
            parent_id = q10.id
            for _ in range(depth):
                at = f"{parent_id}?_step={mid - 1 + len(chain) * 10}"
                child = runtree.init(project="p", fork_from=at, settings=settings, reinit="create_new")
                for _ in range(10):
                    child.log({"m0": 1.0})
                t = time.perf_counter()
                child.finish()
                chain.append(time.perf_counter() - t)
                parent_id = child.id
            last = fmt(chain[-1], "s")
            note(f"fork chain of depth {depth}: each fork's finish (median; last {last}), server", statistics.median(chain), None, "s")

            def many_runs() -> None:
                direct = open_store(pg_url) if pg_url else None
                for i in range(runs_n):
                    new_run(direct or remote, "many", f"r{i}")
                note(f"init() in a project of {runs_n:,} runs, server", init_time(a.repeat), None, "s")

            def w2_server() -> None:
                note(f"W2: {w2_runs} runs x 1,000 steps, server", median(w2, 1), w2_floor_s, "s", f"embedded {fmt(w2_embedded, 's')}")

            for step in (many_runs, w2_server):  # a shared PostgreSQL may be restarted under us: retry once
                for attempt in (1, 2):
                    try:
                        step()
                        break
                    except Exception as e:
                        print(f"bench: {step.__name__} failed ({type(e).__name__}: {e}); {'retrying' if attempt == 1 else 'left out'}")
                        time.sleep(15)
            os.environ.pop("RUNTREE_BASE_URL")
            os.environ.pop("RUNTREE_API_KEY")

    if a.peers:
        print("== wandb offline", flush=True)
        peer_script = (
            "import json,resource,sys,time,wandb\n"
            "run=wandb.init(mode='offline',dir=sys.argv[2],project='b')\n"
            "n=int(sys.argv[1]);ts=[]\n"
            "for s in range(n):\n"
            "    r={f'm{i}':0.5+i*1e-3+s*1e-9 for i in range(10)};t=time.perf_counter_ns();run.log(r);ts.append(time.perf_counter_ns()-t)\n"
            "run.finish()\n"
            "hwm=[ln for ln in open('/proc/self/status') if ln.startswith('VmHWM:')]\n"
            "print(json.dumps({'mean_us':sum(ts)/len(ts)/1000,'rss_mb':int(hwm[0].split()[1])/1024}))\n"
        )
        wdir = tmp / "wandb"
        wdir.mkdir()
        n = min(n_log, 20_000)
        out = subprocess.run([sys.executable, "-c", peer_script, str(n), str(wdir)], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            w = json.loads(out.stdout.strip().splitlines()[-1])
            size = sum(f.stat().st_size for f in wdir.rglob("*.wandb"))
            RESULTS.append((f"wandb offline: log() of 10 scalars ({n:,} calls)", fmt(w["mean_us"], "us"), "", ""))
            RESULTS.append(("wandb offline: disk per point, 10 keys", fmt(size / (n * 10), "B"), "", ""))
            RESULTS.append(("wandb offline: peak RSS (its Go core not counted)", fmt(w["rss_mb"], "MB"), "", ""))
        else:
            print(f"bench: wandb offline failed: {out.stderr[-500:]}", file=sys.stderr)

    print()
    print("| figure | runtree | floor (or peer) | runtree / floor |")
    print("|---|---|---|---|")
    for fig, ours_s, floor_s, ratio in RESULTS:
        print(f"| {fig} | {ours_s} | {floor_s} | {ratio} |")
    out_path = Path(__file__).resolve().parent / "results" / "columnar.json"
    out_path.parent.mkdir(exist_ok=True)
    out_path.write_text(json.dumps([dict(zip(("figure", "runtree", "floor", "ratio"), r, strict=True)) for r in RESULTS], indent=1))


if __name__ == "__main__":
    main()
