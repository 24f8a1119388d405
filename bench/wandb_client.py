"""The real wandb client logging to `runtree server`, against the same client logging to nothing (offline).

Measures, on the training process: the time of each `run.log` call (mean, p50, p99) and the wall time of
init, the logging loop and finish for N steps; and on the server: the ingest rate of C wandb clients logging
at once (history points per second, from the first client's first log to the last client's finish, which
returns only when the client has uploaded everything), checked by reading every row back.

    .venv/bin/python bench/wandb_client.py                      # SQLite server in a temp dir
    .venv/bin/python bench/wandb_client.py --db postgresql://postgres@127.0.0.1:5432/bench --steps 20000 --clients 8
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

CLIENT = r"""
import json, os, sys, time
import wandb

steps, metrics, project = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter()
run = wandb.init(project=project, entity="bench", config={"steps": steps})
t1 = time.perf_counter()
names = [f"m{k}" for k in range(metrics)]
times = []
clock = time.perf_counter
loop_start_wall = time.time()
for i in range(steps):
    row = {n: i * 0.001 + k for k, n in enumerate(names)}
    a = clock()
    run.log(row)
    times.append(clock() - a)
t2 = time.perf_counter()
run.finish()
t3 = time.perf_counter()
times.sort()
print(json.dumps({
    "id": run.id, "init_s": t1 - t0, "loop_s": t2 - t1, "finish_s": t3 - t2, "total_s": t3 - t0,
    "log_mean_us": 1e6 * sum(times) / len(times), "log_p50_us": 1e6 * times[len(times) // 2],
    "log_p99_us": 1e6 * times[int(len(times) * 0.99)], "loop_start": loop_start_wall, "end": time.time(),
}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(db: str, workdir: Path, workers: int) -> tuple[subprocess.Popen[bytes], str, str]:
    port = _free_port()
    log = open(workdir / "server.log", "wb")  # noqa: SIM115 (open while the server runs)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNTREE_")}
    cmd = [sys.executable, "-m", "runtree.server", "--db", db, "--port", str(port), "--workers", str(workers), "--no-access-log"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise SystemExit((workdir / "server.log").read_text())
        time.sleep(0.2)
    found = re.search(r"^\s+(rt_\w{40,})\s*$", (workdir / "server.log").read_text(), re.M)
    if found is None:
        raise SystemExit("the server printed no admin key: give --db a new, empty database")
    return proc, url, found.group(1)


def client_env(workdir: Path, name: str, url: str | None, key: str | None) -> dict[str, str]:
    home = workdir / name
    for d in ("wandb", "config", "cache", "home"):
        (home / d).mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNTREE_"))}
    env.update(
        WANDB_ERROR_REPORTING="false",
        WANDB_SILENT="true",
        WANDB_DIR=str(home / "wandb"),
        WANDB_CONFIG_DIR=str(home / "config"),
        WANDB_CACHE_DIR=str(home / "cache"),
        HOME=str(home / "home"),
        WANDB_X_DISABLE_STATS="true",
    )
    if url is None:
        env["WANDB_MODE"] = "offline"
    else:
        env.update(WANDB_BASE_URL=url, WANDB_API_KEY=str(key))
    return env


def run_clients(n: int, steps: int, metrics: int, project: str, envs: list[dict[str, str]]) -> list[dict[str, Any]]:
    procs = [
        subprocess.Popen([sys.executable, "-c", CLIENT, str(steps), str(metrics), project], env=envs[i], stdout=subprocess.PIPE, text=True)
        for i in range(n)
    ]
    out = []
    for p in procs:
        stdout, _ = p.communicate(timeout=1800)
        if p.returncode != 0:
            raise SystemExit(f"a wandb client failed (exit {p.returncode})")
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def _cpu(proc: psutil.Process) -> float:
    """CPU seconds of the server and its worker processes so far."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return min(runs, key=lambda r: r["total_s"])


def _row(label: str, r: dict[str, Any]) -> str:
    return (
        f"{label:<28} log mean {r['log_mean_us']:7.1f} us  p50 {r['log_p50_us']:6.1f} us  p99 {r['log_p99_us']:7.1f} us"
        f"   init {r['init_s']:5.2f} s  loop {r['loop_s']:6.2f} s  finish {r['finish_s']:5.2f} s  total {r['total_s']:6.2f} s"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", help="an empty store for the server (default: SQLite in a temp dir)")
    p.add_argument("--steps", type=int, default=20000, help="steps logged by the single client")
    p.add_argument("--metrics", type=int, default=10, help="metrics per step")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--client-steps", type=int, default=5000, help="steps logged by each of the concurrent clients")
    p.add_argument("--workers", type=int, default=1, help="server processes")
    p.add_argument("--repeat", type=int, default=2, help="runs of each single-client mode; the faster is kept")
    p.add_argument("--json", help="also write the figures here")
    a = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="runtree-wandb-bench-") as tmp:
        work = Path(tmp)
        db = a.db or f"sqlite:///{work / 'server.db'}"
        proc, url, key = start_server(db, work, a.workers)
        try:
            offline, online = [], []
            for i in range(a.repeat):  # alternated, so a slow moment of the machine hits both
                offline.append(run_clients(1, a.steps, a.metrics, "single", [client_env(work, f"offline{i}", None, None)])[0])
                online.append(run_clients(1, a.steps, a.metrics, "single", [client_env(work, f"online{i}", url, key)])[0])
            envs = [client_env(work, f"c{i}", url, key) for i in range(a.clients)]
            server = psutil.Process(proc.pid)
            cpu0 = _cpu(server)
            many = run_clients(a.clients, a.client_steps, a.metrics, "many", envs)
            server_cpu = _cpu(server) - cpu0
            window = max(r["end"] for r in many) - min(r["loop_start"] for r in many)
            points = a.clients * a.client_steps * (a.metrics + 3)  # + _step, _timestamp, _runtime
            os.environ["RUNTREE_API_KEY"] = key
            import runtree

            api = runtree.Api(store=url)
            stored = sum(len(api.run(f"bench/many/{r['id']}").history(pandas=False)) for r in many)
        finally:
            proc.terminate()
            proc.wait(30)

    offline, online = _best(offline), _best(online)
    extra_us = online["log_mean_us"] - offline["log_mean_us"]
    figures = {
        "steps": a.steps,
        "metrics": a.metrics,
        "offline": offline,
        "online": online,
        "extra_per_log_us": extra_us,
        "extra_total_s": online["total_s"] - offline["total_s"],
        "clients": a.clients,
        "client_steps": a.client_steps,
        "ingest_window_s": window,
        "ingest_points_per_s": points / window,
        "ingest_rows_per_s": a.clients * a.client_steps / window,
        "rows_stored": stored,
        "server_cpu_s": server_cpu,
        "server_cpu_us_per_row": 1e6 * server_cpu / (a.clients * a.client_steps),
        "db": db.split("://")[0],
    }
    print(f"wandb {a.steps} steps x {a.metrics} metrics, one client ({figures['db']} server):")
    print(_row("offline (logs to nothing)", offline))
    print(_row("online (runtree server)", online))
    print(f"extra per run.log: {extra_us:+.1f} us; extra wall time for {a.steps} steps: {figures['extra_total_s']:+.2f} s")
    print(
        f"{a.clients} clients x {a.client_steps} steps x {a.metrics} metrics at once: {figures['ingest_points_per_s']:,.0f} points/s "
        f"({figures['ingest_rows_per_s']:,.0f} rows/s) over {window:.1f} s; {stored} of {a.clients * a.client_steps} rows read back"
    )
    print(f"server CPU: {server_cpu:.2f} s in all, {figures['server_cpu_us_per_row']:.0f} us per row of {a.metrics + 3} values")
    if stored != a.clients * a.client_steps:
        raise SystemExit("some rows did not arrive")
    if a.json:
        Path(a.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
