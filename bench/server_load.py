"""Issue 9: 16 SDK clients logging as fast as they can through one `runtree server` on PostgreSQL for 60 s.

    .venv/bin/python bench/server_load.py [--clients 16] [--seconds 60] [--workers 1] [--pg postgresql://postgres@127.0.0.1:5432/postgres]

Each client process runs runtree.init() + run.log({10 floats}) in a tight loop for --seconds, then run.finish(), with
RUNTREE_BASE_URL/RUNTREE_API_KEY pointing at the server. Measured per client and summed:
  rows/s     rows stored (counted back through the API) / time from "go" until the last client exited
  request    latency of every HTTP request the client's writer sent to append rows (p50, p99, max): what a
             training process waits on for its data to be stored
  log()      p99 and max of one log() call: where the writer's back-pressure shows in the training loop
  finish()   seconds from the last log() until finish() returned (the backlog uploading)
  server RSS the largest resident set of the server's processes, sampled every 0.5 s
Targets (PASS/FAIL printed): finish() < 10 s and request p99 < 2 s for every client. The issue's starting point:
17k rows/s, request p50 ~4 s, p99 16-25 s, finish() 82-93 s, server RSS 469 MB. JSON: bench/results/server_load.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

KEYS = 10
FINISH_TARGET = 10.0
P99_TARGET = 2.0
ROOT = Path(__file__).resolve().parent.parent


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


# ---------------------------------------------------------------- the client (a child process)


def client(seconds: float, idx: int) -> None:
    import runtree
    from runtree.store.remote import RemoteStore

    latencies: list[float] = []
    send = RemoteStore._send

    def timed(self: RemoteStore, method: str, path: str, **kw: Any) -> Any:
        t = time.perf_counter()
        try:
            return send(self, method, path, **kw)
        finally:
            if path.endswith("/rows"):
                latencies.append(time.perf_counter() - t)

    RemoteStore._send = timed  # type: ignore[method-assign]  # measuring, not changing, what the writer sends
    keys = [f"m{i}" for i in range(KEYS)]
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("client: no go signal")
    run = runtree.init(project="load", id=f"c{idx}")
    calls: list[float] = []
    rows = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(200):
            values = {k: random.random() for k in keys}
            t = time.perf_counter()
            run.log(values)
            calls.append(time.perf_counter() - t)
        rows += 200
    t = time.perf_counter()
    run.finish(quiet=True)
    finish = time.perf_counter() - t
    print(json.dumps({"idx": idx, "uid": run.uid, "rows": rows, "finish_s": finish, "requests": latencies,
                      "log_p99_us": _pct(calls, 0.99) * 1e6, "log_max_s": max(calls)}), flush=True)  # fmt: skip


# ---------------------------------------------------------------- orchestration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a process started with start_new_session=True, and its children (its own process group)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited ({proc.returncode}):\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server at {url} not ready after {timeout:.0f}s:\n{log.read_text(errors='replace')}")


def _rss_sampler(pid: int, stop: threading.Event, out: list[int]) -> None:
    import psutil

    while not stop.wait(0.5):
        try:
            root = psutil.Process(pid)
            total = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
        except psutil.Error:
            continue
        out.append(total)


def bench(admin_url: str, clients: int, seconds: float, workers: int, tmp: Path) -> dict[str, Any]:
    import psycopg

    from runtree.store.remote import RemoteStore

    name = f"bench_load_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    db = re.sub(r"/[^/]*$", "/" + name, admin_url)
    port = _free_port()
    log = tmp / "server.log"
    cmd = [sys.executable, "-m", "runtree.server", "--db", db, "--port", str(port), "--workers", str(workers), "--no-access-log"]
    senv = {k: v for k, v in os.environ.items() if not k.startswith(("RUNTREE_", "WANDB_"))}
    with open(log, "wb") as f:
        server = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=senv, start_new_session=True)
    procs: list[subprocess.Popen[bytes]] = []
    stop, rss = threading.Event(), []
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_http(f"{url}/api/v1/health", server, log)
        found = re.search(r"(rt_[A-Za-z0-9_\-]{40,})", log.read_text())
        if found is None:
            raise SystemExit(f"runtree server printed no admin key:\n{log.read_text()}")
        key = found.group(1)
        env = dict(senv, RUNTREE_BASE_URL=url, RUNTREE_API_KEY=key, RUNTREE_ENTITY="bench", RUNTREE_DIR=str(tmp / "rt"))
        env.update(RUNTREE_SYSTEM_SAMPLE_INTERVAL="0", RUNTREE_CONSOLE="off", XDG_CONFIG_HOME=str(tmp / "config"))
        env["PYTHONPATH"] = str(ROOT)
        me = str(Path(__file__).resolve())
        for i in range(clients):
            c = [sys.executable, me, "--client", "--seconds", str(seconds), "--idx", str(i)]
            procs.append(subprocess.Popen(c, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, start_new_session=True))
        for p in procs:
            assert p.stdout is not None
            if (line := p.stdout.readline().decode().strip()) != "ready":
                raise SystemExit(f"a client failed to start: {line!r}")
        sampler = threading.Thread(target=_rss_sampler, args=(server.pid, stop, rss), daemon=True)
        sampler.start()
        t0 = time.perf_counter()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write(b"go\n")
            p.stdin.flush()
        results = []
        for p in procs:
            out, _ = p.communicate(timeout=seconds + 600)
            if p.returncode != 0:
                raise SystemExit(f"a client failed (rc={p.returncode})")
            results.append(json.loads(out.decode().strip().splitlines()[-1]))
        wall = time.perf_counter() - t0
        stop.set()
        store = RemoteStore(url, key)
        stored = 0
        for r in results:
            last = store.last_row(store.read_segments(r["uid"]))
            stored += 0 if last is None else last[0] + 1
        store.close()
        requests = [x for r in results for x in r["requests"]]
        return {
            "clients": clients,
            "seconds": seconds,
            "workers": workers,
            "wall_s": wall,
            "rows_logged": sum(r["rows"] for r in results),
            "rows_stored": stored,
            "rows_per_s": stored / wall,
            "points_per_s": stored * KEYS / wall,
            "requests": len(requests),
            "request_p50_s": _pct(requests, 0.5),
            "request_p99_s": _pct(requests, 0.99),
            "request_max_s": max(requests, default=0.0),
            "finish_s": sorted(r["finish_s"] for r in results),
            "finish_max_s": max(r["finish_s"] for r in results),
            "finish_median_s": statistics.median(r["finish_s"] for r in results),
            "log_p99_us_median": statistics.median(r["log_p99_us"] for r in results),
            "log_max_s": max(r["log_max_s"] for r in results),
            "server_rss_max_mb": max(rss, default=0) / 2**20,
        }
    finally:
        stop.set()
        for p in procs:
            _stop(p)
        _stop(server)
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--idx", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=1, help="server worker processes")
    ap.add_argument("--pg", default=os.environ.get("RUNTREE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "server_load.json"))
    a = ap.parse_args()
    if a.client:
        client(a.seconds, a.idx)
        return
    with tempfile.TemporaryDirectory(prefix="runtree-load-") as tmp:
        r = bench(a.pg, a.clients, a.seconds, a.workers, Path(tmp))
    print(f"{r['clients']} clients x {r['seconds']:.0f} s through one server ({r['workers']} worker(s)) on PostgreSQL:")
    print(f"  stored      {r['rows_stored']:,} of {r['rows_logged']:,} rows logged; {r['rows_per_s']:,.0f} rows/s "
          f"({r['points_per_s']:,.0f} points/s) over {r['wall_s']:.1f} s")  # fmt: skip
    print(f"  requests    {r['requests']:,} appends: p50 {r['request_p50_s']:.2f} s, p99 {r['request_p99_s']:.2f} s, "
          f"max {r['request_max_s']:.2f} s")  # fmt: skip
    print(f"  finish()    median {r['finish_median_s']:.1f} s, max {r['finish_max_s']:.1f} s")
    print(f"  log()       p99 {r['log_p99_us_median']:.0f} us (median client), max {r['log_max_s']:.2f} s")
    print(f"  server RSS  {r['server_rss_max_mb']:.0f} MB at most")
    ok_finish, ok_p99 = r["finish_max_s"] < FINISH_TARGET, r["request_p99_s"] < P99_TARGET
    verdict = f"{'PASS' if ok_finish else 'FAIL'} finish() < {FINISH_TARGET:.0f} s;  "
    print(f"  {verdict}{'PASS' if ok_p99 else 'FAIL'} request p99 < {P99_TARGET:.0f} s")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
