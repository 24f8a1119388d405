"""Issue 4: concurrent ingest through `runtree server` into PostgreSQL, beside MLflow's tracking server on the same PostgreSQL.

    .venv/bin/python bench/server_ingest.py [--clients 8] [--rt-steps 60000] [--mlflow-steps 400]
        [--mlflow-python /tmp/wbenv/bin/python] [--pg postgresql://postgres@127.0.0.1:5432/postgres]

Same workload on both sides: CLIENTS processes each log STEPS steps of 10 float scalars into one run of their own.
  runtree  `python -m runtree.server --workers 2` over a fresh PostgreSQL database; each client runs
           runtree.init(project=...) + run.log({...10 floats}) per step + run.finish() (RUNTREE_BASE_URL/RUNTREE_API_KEY)
  MLflow   `mlflow server --backend-store-uri postgresql://... --workers 1` over another fresh database; each client
           creates a run and calls MlflowClient.log_batch with 1,000 metrics (100 steps x 10 keys) per call
           (the bulk API, the fair comparison), then sets the run terminated.
MLflow is far slower, so it gets fewer steps per client (--mlflow-steps); per-point rates stay comparable.
Wall time runs from the moment every client (already imported and connected) is told to go, until the last one
exits. Stored data is checked by SQL: runtree's `history` holds one row per step (10 points each), MLflow's
`metrics` one row per point. Targets: runtree >= 10x MLflow and >= 200,000 points/s. JSON goes to
bench/results/server_ingest.json. Every process started is stopped (by its process group) and both databases dropped.

The same file is the client (`--client runtree|mlflow`); the MLflow client runs in the MLflow venv and imports
no runtree code.
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
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

KEYS = 10
MLFLOW_BATCH_STEPS = 100  # x 10 keys = 1,000 metrics per log_batch call (MLflow's per-call limit)
TARGET_RATIO = 10.0
TARGET_RATE = 200_000.0
ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- clients (run in child processes)


def _wait_go() -> None:
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("client: no go signal")


def client_runtree(steps: int, idx: int) -> None:
    import runtree

    keys = [f"m{i}" for i in range(KEYS)]
    _wait_go()
    run = runtree.init(project="ingest", name=f"client-{idx}")
    for s in range(steps):
        run.log({k: random.random() for k in keys}, step=s)
    run.finish(quiet=True)


def client_mlflow(steps: int, idx: int, url: str, experiment_id: str) -> None:
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=url)
    keys = [f"m{i}" for i in range(KEYS)]
    _wait_go()
    run = client.create_run(experiment_id, run_name=f"client-{idx}")
    rid = run.info.run_id
    for first in range(0, steps, MLFLOW_BATCH_STEPS):
        ts = int(time.time() * 1000)
        batch = [Metric(k, random.random(), ts, s) for s in range(first, min(first + MLFLOW_BATCH_STEPS, steps)) for k in keys]
        client.log_batch(rid, metrics=batch)
    client.set_terminated(rid)


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


def _db_url(admin_url: str, name: str) -> str:
    return re.sub(r"/[^/]*$", "/" + name, admin_url)


def _run_clients(cmds: list[list[str]], env: dict[str, str]) -> float:
    """Start every client, wait until all are ready, say go, return seconds until the last one exits OK."""
    procs = [subprocess.Popen(c, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, start_new_session=True) for c in cmds]
    try:
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline().decode().strip()
            if line != "ready":
                p.wait()
                raise SystemExit(f"client failed to start (rc={p.returncode}): {line!r}")
        t0 = time.perf_counter()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write(b"go\n")
            p.stdin.flush()
        for p in procs:
            if p.wait() != 0:
                raise SystemExit(f"a client failed (rc={p.returncode})")
        return time.perf_counter() - t0
    finally:
        for p in procs:
            _stop(p)


def bench_runtree(admin_url: str, clients: int, steps: int, tmp: Path) -> dict[str, Any]:
    import psycopg

    name = f"bench_rt_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    db = _db_url(admin_url, name)
    port = _free_port()
    log = tmp / "runtree-server.log"
    cmd = [sys.executable, "-m", "runtree.server", "--db", db, "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", "2", "--no-access-log"]
    senv = {k: v for k, v in os.environ.items() if not k.startswith("RUNTREE_")}
    with open(log, "wb") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=senv, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_http(f"{url}/api/v1/health", proc, log)
        found = re.search(r"(rt_[A-Za-z0-9_\-]{40,})", log.read_text())
        if found is None:
            raise SystemExit(f"runtree server printed no admin key:\n{log.read_text()}")
        env = dict(senv, RUNTREE_BASE_URL=url, RUNTREE_API_KEY=found.group(1), RUNTREE_ENTITY="bench")
        env.update(RUNTREE_DIR=str(tmp / "rt-clients"), RUNTREE_SYSTEM_SAMPLE_INTERVAL="0", RUNTREE_CONSOLE="off")
        me = str(Path(__file__).resolve())
        cmds = [[sys.executable, me, "--client", "runtree", "--steps", str(steps), "--idx", str(i)] for i in range(clients)]
        wall = _run_clients(cmds, env)
        with psycopg.connect(db) as conn:
            rows = conn.execute("SELECT count(*) FROM history").fetchone()[0]  # type: ignore[index]
            runs = conn.execute("SELECT count(*) FROM runs").fetchone()[0]  # type: ignore[index]
        return {"wall_s": wall, "steps_per_client": steps, "history_rows": rows, "runs": runs, "points": rows * KEYS}
    finally:
        _stop(proc)
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def bench_mlflow(admin_url: str, clients: int, steps: int, tmp: Path, mlflow_python: str) -> dict[str, Any]:
    import psycopg

    name = f"bench_mlflow_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    db = _db_url(admin_url, name)
    port = _free_port()
    log = tmp / "mlflow-server.log"
    mlflow_bin = str(Path(mlflow_python).parent / "mlflow")
    art = tmp / "mlartifacts"
    # SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; name psycopg2, the driver MLflow documents.
    backend = db.replace("postgresql://", "postgresql+psycopg2://", 1)
    cmd = [mlflow_bin, "server", "--backend-store-uri", backend, "--default-artifact-root", str(art)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with open(log, "wb") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=tmp, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_http(f"{url}/health", proc, log, timeout=180)
        req = urllib.request.Request(
            f"{url}/api/2.0/mlflow/experiments/create",
            data=json.dumps({"name": "ingest"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            exp = json.loads(r.read())["experiment_id"]
        me = str(Path(__file__).resolve())
        cmds = [
            [mlflow_python, me, "--client", "mlflow", "--steps", str(steps), "--idx", str(i), "--url", url, "--experiment", exp]
            for i in range(clients)
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "RUNTREE_"))}
        wall = _run_clients(cmds, env)
        with psycopg.connect(db) as conn:
            points = conn.execute("SELECT count(*) FROM metrics").fetchone()[0]  # type: ignore[index]
            runs = conn.execute("SELECT count(*) FROM runs").fetchone()[0]  # type: ignore[index]
        return {"wall_s": wall, "steps_per_client": steps, "metrics_rows": points, "runs": runs, "points": points}
    finally:
        _stop(proc)
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--rt-steps", type=int, default=60_000, help="steps per runtree client (10 points each)")
    p.add_argument("--mlflow-steps", type=int, default=400, help="steps per MLflow client (10 points each)")
    p.add_argument("--mlflow-python", default="/tmp/wbenv/bin/python")
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres", help="PostgreSQL admin URL")
    p.add_argument("--only", choices=["runtree", "mlflow"], default=None)
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "server_ingest.json"))
    # client mode
    p.add_argument("--client", choices=["runtree", "mlflow"], help=argparse.SUPPRESS)
    p.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    p.add_argument("--idx", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--experiment", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.client == "runtree":
        client_runtree(a.steps, a.idx)
        return
    if a.client == "mlflow":
        client_mlflow(a.steps, a.idx, a.url, a.experiment)
        return

    results: dict[str, Any] = {"clients": a.clients, "keys_per_step": KEYS, "cpus": os.cpu_count()}
    results["loadavg_before"] = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-server-ingest-") as d:
        tmp = Path(d)
        if a.only in (None, "runtree"):
            r = bench_runtree(a.pg, a.clients, a.rt_steps, tmp)
            r["expected_points"] = a.clients * a.rt_steps * KEYS
            r["points_per_s"] = r["points"] / r["wall_s"]
            results["runtree"] = r
        if a.only in (None, "mlflow"):
            m = bench_mlflow(a.pg, a.clients, a.mlflow_steps, tmp, a.mlflow_python)
            m["expected_points"] = a.clients * a.mlflow_steps * KEYS
            m["points_per_s"] = m["points"] / m["wall_s"]
            results["mlflow"] = m
    results["loadavg_after"] = os.getloadavg()
    ok = True
    for side in ("runtree", "mlflow"):
        if side in results and results[side]["points"] != results[side]["expected_points"]:
            ok = False
            print(f"WARNING: {side} stored {results[side]['points']:,} points, expected {results[side]['expected_points']:,}")
    rt_rate = results.get("runtree", {}).get("points_per_s")
    ml_rate = results.get("mlflow", {}).get("points_per_s")
    ratio = rt_rate / ml_rate if rt_rate and ml_rate else None
    results["ratio_runtree_over_mlflow"] = ratio
    results["targets"] = {
        "ratio>=10x": None if ratio is None else ratio >= TARGET_RATIO,
        "runtree>=200k_points_per_s": None if rt_rate is None else rt_rate >= TARGET_RATE,
        "counts_verified": ok,
    }

    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"Server ingest into PostgreSQL: {a.clients} client processes x 10 float scalars/step")
    for col in ("server", "client API", "steps/client", "points stored", "wall s", "points/s"):
        t.add_column(col, justify="left" if col in ("server", "client API") else "right")
    rows = (("runtree", "runtree (--workers 2)", "run.log per step"), ("mlflow", "MLflow (--workers 1)", "log_batch 1,000/call"))
    for side, label, api in rows:
        if side in results:
            x = results[side]
            t.add_row(label, api, f"{x['steps_per_client']:,}", f"{x['points']:,}", f"{x['wall_s']:.1f}", f"{x['points_per_s']:,.0f}")
    con = Console(width=max(Console().width, 110))
    con.print(t)
    if ratio is not None:
        con.print(f"runtree / MLflow: {ratio:.1f}x   (target >= {TARGET_RATIO:.0f}x: {'PASS' if ratio >= TARGET_RATIO else 'FAIL'})")
    if rt_rate is not None:
        con.print(f"runtree points/s: {rt_rate:,.0f}   (target >= {TARGET_RATE:,.0f}: {'PASS' if rt_rate >= TARGET_RATE else 'FAIL'})")
    con.print(f"load average before {results['loadavg_before'][0]:.2f}, after {results['loadavg_after'][0]:.2f} ({os.cpu_count()} CPUs)")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    con.print(f"wrote {out}")


if __name__ == "__main__":
    main()
