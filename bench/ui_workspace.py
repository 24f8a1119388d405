"""The project workspace at size: all panels cold and warm, the smoothing slider, and a 1,000-run table's search.

Makes two embedded stores (written straight to the store: quick): a project of RUNS runs x 12 metrics x STEPS
steps, and one of 1,000 runs (config and summary, a few rows each). Serves them with `runtree ui` (a fresh
server process, so nothing is cached), opens the workspace in Chromium (Playwright, Debian's /usr/bin/chromium)
with a viewport tall enough for every panel, and reports:

- cold: performance.now() when every panel has drawn every run (fresh server, fresh browser context);
- warm: the same after a reload (the server's series cache and the browser's module cache are warm);
- smoothing: from the slider's input event until the next frame, all visible panels redrawn (median of 10);
- table: per keystroke in the 1,000-run table's search box, from the input event to the next frame (median, max);
- how many lines a panel draws with 1,000 runs (the default is the top 100 of the table);
- for each, also the browser main thread's busy time (Chrome's TaskDuration: script, style, layout, paint
  setup), which a loaded machine inflates less than the wall time; the load average is printed with them.

    .venv/bin/python bench/ui_workspace.py                       # 100 runs x 12 metrics x 2,000 steps
    .venv/bin/python bench/ui_workspace.py --runs 50 --steps 500 --loads 2
Targets (printed PASS/FAIL): all panels <= 1.5 s cold and <= 0.5 s warm, smoothing <= 100 ms, keystroke < 100 ms.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from runtree.domain import lineage
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
METRICS = [
    "train/loss",
    "train/acc",
    "train/lr",
    "train/grad_norm",
    "val/loss",
    "val/acc",
    "val/f1",
    "val/auc",
    "sys/throughput",
    "sys/mem",
    "loss",
    "acc",
]


def make_workspace(store_dir: Path, runs: int, steps: int) -> None:
    store = open_store(str(store_dir))
    try:
        rnd = random.Random(0)
        t0 = time.time() - 86400
        for i in range(runs):
            uid = f"{i + 1:032x}"
            lr = 10 ** rnd.uniform(-5, -2)
            cfg = {"lr": lr, "optimizer": rnd.choice(["adam", "sgd", "lion"]), "batch_size": rnd.choice([32, 64, 128]), "seed": i % 3}
            rows = []
            for s in range(steps):
                q = 1.0 + 3 * abs(math.log10(lr) + 3.5)
                loss = 2.0 * math.exp(-s / (steps / 5) / q * 3) + 0.05 * rnd.random()
                row = {"_step": s, "_timestamp": t0 + i * 600 + s, "_runtime": float(s)}
                for k, m in enumerate(METRICS):
                    row[m] = loss * (1 + k / 10) if "loss" in m else 1 - loss / (2 + k) + 0.01 * rnd.random()
                rows.append((s, t0 + i * 600 + s, row))
            rec = RunRecord(
                uid=uid,
                entity="bench",
                project="ws",
                id=f"w{i:07d}",
                name=f"run-{i:03d}",
                state=FINISHED,
                created_at=t0 + i * 600,
                config=cfg,
                summary={k: v for k, v in rows[-1][2].items() if not k.startswith("_")},
                last_step=steps - 1,
            )
            store.create_run(rec, lineage.new_run(uid))
            store.append_rows(uid, 0, rows)
        for i in range(1000):
            uid = f"{0xF0000000 + i:032x}"
            cfg = {
                "lr": 10 ** rnd.uniform(-5, -2),
                "optimizer": rnd.choice(["adam", "sgd", "lion"]),
                "width": rnd.choice([64, 128, 256]),
                "seed": i,
            }
            rows = [(s, t0 + s, {"_step": s, "loss": 1.0 / (1 + s) + rnd.random(), "acc": rnd.random()}) for s in range(3)]
            rec = RunRecord(
                uid=uid,
                entity="bench",
                project="thousand",
                id=f"k{i:07d}",
                name=f"trial-{i:04d}-{cfg['optimizer']}",
                state=FINISHED,
                created_at=t0 + i,
                config=cfg,
                summary=dict(rows[-1][2]),
                last_step=2,
            )
            store.create_run(rec, lineage.new_run(uid))
            store.append_rows(uid, 0, rows)
    finally:
        store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(store_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNTREE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "runtree.cli", "ui", "--dir", str(store_dir), "--port", str(port), "--no-browser"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("runtree ui did not start")
        time.sleep(0.1)


ALL_DRAWN = """(n) => {
  const cards = [...document.querySelectorAll('section.panel[data-key]')].filter((c) => c.getBoundingClientRect().top < innerHeight);
  if (!cards.length || !cards.every((c) => c.dataset.lines === String(n) && c.querySelector('.uplot'))) return false;
  window.__allMs = window.__allMs || performance.now();
  return true;
}"""

ON_SCREEN = "[...document.querySelectorAll('section.panel[data-key]')].filter((c) => c.getBoundingClientRect().top < innerHeight).length"

NEXT_FRAME = """async ([selector, value]) => {
  const el = document.querySelector(selector);
  const t0 = performance.now();
  el.value = value;
  el.dispatchEvent(new Event('input', { bubbles: true }));
  await new Promise((r) => requestAnimationFrame(() => r()));
  return performance.now() - t0;
}"""


def busy(cdp: object) -> float:
    """Seconds the page's main thread has spent in tasks so far (Chrome's Performance.getMetrics TaskDuration)."""
    metrics = cdp.send("Performance.getMetrics")["metrics"]  # type: ignore[attr-defined]
    return float(next(m["value"] for m in metrics if m["name"] == "TaskDuration"))


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--loads", type=int, default=3, help="warm reloads to time after the cold load")
    p.add_argument("--height", type=int, default=4200, help="viewport height: 4200 px shows all 12 panels, 1000 px a screenful")
    p.add_argument("--chromium", default="/usr/bin/chromium")
    a = p.parse_args()

    from playwright.sync_api import sync_playwright

    load0 = os.getloadavg()[0]
    tmp = tempfile.TemporaryDirectory(prefix="rt-ws-bench-")
    store_dir = Path(tmp.name)
    t = time.perf_counter()
    make_workspace(store_dir, a.runs, a.steps)
    print(
        f"made {a.runs} runs x {len(METRICS)} metrics x {a.steps} steps and a 1,000-run project in {time.perf_counter() - t:.1f}s",
        file=sys.stderr,
    )
    server, url = serve(store_dir)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=a.chromium, headless=True, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1500, "height": a.height})
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            cdp.send("Performance.enable")
            page.goto(f"{url}/p/bench/ws?sweep=0")
            page.wait_for_function(ALL_DRAWN, arg=a.runs, timeout=120_000, polling="raf")
            cold = float(page.evaluate("window.__allMs"))
            cold_busy = busy(cdp) * 1000
            shown = int(page.evaluate(ON_SCREEN))
            print(f"cold: {shown} panels on screen x {a.runs} runs drawn at {cold:.0f} ms", file=sys.stderr)
            warms = []
            for _ in range(a.loads):
                page.reload()
                page.wait_for_function(ALL_DRAWN, arg=a.runs, timeout=120_000, polling="raf")
                warms.append(float(page.evaluate("window.__allMs")))
                print(f"warm: {warms[-1]:.0f} ms", file=sys.stderr)
            b0 = busy(cdp)
            steps = (0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99)
            smooth = [float(page.evaluate(NEXT_FRAME, ["input[aria-label=smoothing]", str(v)])) for v in steps]
            smooth_busy = (busy(cdp) - b0) * 1000 / len(steps)
            print(f"smoothing: {[round(x) for x in smooth]} ms", file=sys.stderr)
            context.close()

            context = browser.new_context(viewport={"width": 1500, "height": 1000})
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            cdp.send("Performance.enable")
            page.goto(f"{url}/p/bench/thousand?sweep=0")
            page.wait_for_selector("table.runs tbody tr[data-uid]")
            page.wait_for_function("document.querySelector('section.panel[data-key=\"loss\"]')?.dataset.lines === '100'", timeout=60_000)
            lines = int(page.evaluate("document.querySelector('section.panel[data-key=\"loss\"]').dataset.lines"))
            page.wait_for_timeout(1000)
            keys = []
            text = ""
            b0 = busy(cdp)
            for ch in "trial-01":
                text += ch
                keys.append(float(page.evaluate(NEXT_FRAME, ["input[aria-label='search runs']", text])))
            for _ in range(4):
                text = text[:-1]
                keys.append(float(page.evaluate(NEXT_FRAME, ["input[aria-label='search runs']", text])))
            key_busy = (busy(cdp) - b0) * 1000 / len(keys)
            print(f"keystrokes: {[round(x) for x in keys]} ms", file=sys.stderr)
            context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(15)
        tmp.cleanup()
    warm = statistics.median(warms) if warms else float("nan")
    print(f"load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, on {os.cpu_count()} CPUs")
    print(
        f"workspace, {a.runs} runs x 12 metrics x {a.steps} steps, {shown} panels on screen: "
        f"drawn {cold:.0f} ms cold {verdict(cold <= 1500)} "
        f"(main thread busy {cold_busy:.0f} ms), {warm:.0f} ms warm (median of {len(warms)}) {verdict(warm <= 500)}"
    )
    print(
        f"smoothing slider, the {shown} panels on screen redrawn: median {statistics.median(smooth):.0f} ms, max {max(smooth):.0f} ms "
        f"{verdict(statistics.median(smooth) <= 100)} (main thread busy {smooth_busy:.0f} ms per step)"
    )
    print(
        f"1,000-run table search: median {statistics.median(keys):.0f} ms per keystroke, max {max(keys):.0f} ms "
        f"{verdict(max(keys) < 100)} (main thread busy {key_busy:.0f} ms per keystroke); panels draw {lines} runs (the top 100)"
    )


if __name__ == "__main__":
    main()
