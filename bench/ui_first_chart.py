"""How soon the run page draws its first chart for a run with 1,000,000 points per metric.

Makes (or reuses, with --store) an embedded store holding one run of N steps logging `loss` and `acc` at
every step, serves it with `runtree ui` (a fresh server process, so nothing is cached), opens the run page
in Chromium (Playwright, Debian's /usr/bin/chromium) and reads `window.__firstChartMs`: performance.now()
at the first uPlot draw, i.e. milliseconds from the start of navigation. Each load uses a fresh browser
context. Also reported: when the exact min/max downsample replaced the quick preview.

    .venv/bin/python bench/ui_first_chart.py                 # 1,000,000 steps, 5 page loads
    .venv/bin/python bench/ui_first_chart.py --steps 200000 --loads 3 --store /tmp/rt-bench
"""

from __future__ import annotations

import argparse
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from runtree.domain import ids, lineage
from runtree.domain.records import FINISHED, RunRecord
from runtree.store import open_store

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
BATCH = 20_000


def make_run(store_dir: Path, steps: int) -> str:
    """The uid of a finished run with `steps` rows of loss and acc (written straight to the store: quick)."""
    store = open_store(str(store_dir))
    try:
        for run in store.list_runs("bench", "ui"):
            if run.last_step == steps - 1:
                return run.uid
        now = time.time()
        uid = ids.make_uid()
        record = RunRecord(uid=uid, entity="bench", project="ui", id=ids.make_id(), name=f"{steps:,}-steps")
        record = record.evolve(created_at=now, updated_at=now, heartbeat_at=now)
        store.create_run(record, lineage.new_run(uid))
        t0 = time.perf_counter()
        for start in range(0, steps, BATCH):
            rows = []
            for s in range(start, min(steps, start + BATCH)):
                ts = now + s * 0.01
                loss = math.exp(-s / (steps / 5)) + 0.05 * math.sin(s / 97.0) + (0.3 if s % 50_021 == 0 else 0.0)
                rows.append((s, ts, {"_step": s, "_timestamp": ts, "_runtime": s * 0.01, "loss": loss, "acc": 1.0 - loss / 2}))
            store.append_rows(uid, 0, rows)
        summary = {"loss": loss, "acc": 1.0 - loss / 2}
        store.update_run(uid, state=FINISHED, last_step=steps - 1, finished_at=now + steps * 0.01, summary=summary)
        print(f"wrote {steps:,} rows in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        return uid
    finally:
        store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1_000_000, help="points per metric")
    p.add_argument("--loads", type=int, default=5, help="page loads to time (the first one hits a fresh server)")
    p.add_argument("--store", type=Path, default=None, help="store directory to make or reuse (default: a temporary one)")
    p.add_argument("--chromium", default="/usr/bin/chromium")
    a = p.parse_args()

    from playwright.sync_api import sync_playwright

    tmp = tempfile.TemporaryDirectory(prefix="rt-ui-bench-")
    store_dir = a.store or Path(tmp.name)
    uid = make_run(store_dir, a.steps)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNTREE_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "runtree.cli", "ui", "--dir", str(store_dir), "--port", str(port), "--no-browser"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("runtree ui did not start")
            time.sleep(0.1)
        firsts: list[float] = []
        exacts: list[float] = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=a.chromium, headless=True, args=CHROMIUM_ARGS)
            for i in range(a.loads):
                context = browser.new_context(viewport={"width": 1400, "height": 900})
                page = context.new_page()
                page.goto(f"{url}/r/{uid}")
                page.wait_for_function("window.__firstChartMs !== undefined", timeout=60_000)
                first = float(page.evaluate("window.__firstChartMs"))
                # The exact downsample has replaced the preview when the status line is empty again.
                page.wait_for_function("!document.querySelector('.status')?.textContent", timeout=120_000)
                exact = float(page.evaluate("performance.now()"))
                firsts.append(first)
                exacts.append(exact)
                print(f"load {i + 1}: first chart {first:.0f} ms, exact lines by {exact:.0f} ms", file=sys.stderr)
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(15)
        tmp.cleanup()
    print(
        f"first chart of a {a.steps:,}-points-per-metric run: {firsts[0]:.0f} ms on a fresh server, "
        f"median {statistics.median(firsts):.0f} ms over {len(firsts)} loads (max {max(firsts):.0f} ms); "
        f"exact min/max lines by {exacts[0]:.0f} ms (fresh), median {statistics.median(exacts):.0f} ms"
    )


if __name__ == "__main__":
    main()
