"""runtree vs wandb (offline): run.log of a 64x64 RGB image on the training thread, and the media's disk cost.

    .venv/bin/python bench/media_log.py [--calls 2000] [--only runtree,wandb]

Each tracker runs in its own subprocess on the same loop: a 64x64x3 uint8 array made before the loop (a new
random one per call, so nothing is deduplicated), then, timed with perf_counter_ns on the training thread,
`run.log({"img": Image(array)})`: the constructor and the log call together, as a user writes it. runtree
encodes the PNG on its writer thread; wandb encodes in the constructor. Also timed: finish() after the last
log. Disk: the bytes of the run's media files (runtree: RUNTREE_DIR/files, the blobs; wandb: files/media)
and of the whole directory (database or .wandb log included). A second loop logs one image 200 times:
runtree stores it once (content-addressed), wandb once per step.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_US = 50.0


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def worker(tracker: str, calls: int, repeat: int) -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(calls)]
    same = arrays[0]
    d = Path(tempfile.mkdtemp(prefix=f"media-{tracker}-"))
    times: list[int] = []
    if tracker == "runtree":
        os.environ.update(RUNTREE_DIR=str(d), RUNTREE_SYSTEM_SAMPLE_INTERVAL="0", RUNTREE_CONSOLE="off")
        import runtree as lib

        run = lib.init(project="bench")
        Image = lib.Image
    else:
        os.environ.update(WANDB_SILENT="true", WANDB_DIR=str(d), WANDB_MODE="offline")
        import wandb as lib

        run = lib.init(project="bench", settings=lib.Settings(x_disable_stats=True, console="off"))
        Image = lib.Image
    Image(arrays[0])  # imports (Pillow, ...) outside the timing
    clock = time.perf_counter_ns
    for arr in arrays:
        t0 = clock()
        run.log({"img": Image(arr)})
        times.append(clock() - t0)
    for _ in range(repeat):
        run.log({"same": Image(same)})
    t0 = time.perf_counter()
    run.finish()
    finish_s = time.perf_counter() - t0
    media = _du(d / "files") if tracker == "runtree" else sum(_du(p / "files" / "media") for p in (d / "wandb").glob("offline-run-*"))
    us = sorted(t / 1000 for t in times)
    return {
        "tracker": tracker,
        "calls": calls,
        "mean_us": statistics.fmean(us),
        "p50_us": us[len(us) // 2],
        "p99_us": us[int(len(us) * 0.99)],
        "finish_s": finish_s,
        "media_bytes": media,
        "dir_bytes": _du(d),
        "images": calls + repeat,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=200, help="times one image is logged again (dedup)")
    ap.add_argument("--only", default="runtree,wandb")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker, a.calls, a.repeat)))
        return
    results = []
    for tracker in a.only.split(","):
        out = subprocess.run(
            [sys.executable, __file__, "--worker", tracker, "--calls", str(a.calls), "--repeat", str(a.repeat)],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if out.returncode != 0:
            print(f"{tracker}: failed\n{out.stderr[-2000:]}")
            continue
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = next((r for r in results if r["tracker"] == "runtree"), None)
    print(f"run.log({{'img': Image(64x64x3 uint8)}}) on the training thread, {a.calls} distinct images + 1 image x {a.repeat}")
    print(
        f"{'tracker':10} {'mean µs':>9} {'p50 µs':>8} {'p99 µs':>8} {'finish s':>9} {'media KiB':>10} {'dir KiB':>9}  ratio (mean, media)"
    )
    for r in results:
        ratio = (
            ""
            if base is None or r is base
            else f"  {r['mean_us'] / base['mean_us']:.1f}x, {r['media_bytes'] / max(1, base['media_bytes']):.2f}x"
        )
        print(
            f"{r['tracker']:10} {r['mean_us']:9.1f} {r['p50_us']:8.1f} {r['p99_us']:8.1f} {r['finish_s']:9.2f} "
            f"{r['media_bytes'] / 1024:10.0f} {r['dir_bytes'] / 1024:9.0f}{ratio}"
        )
    if base is not None:
        verdict = "PASS" if base["p50_us"] <= TARGET_US else "FAIL"
        print(f"target: runtree log of a 64x64 image <= {TARGET_US:.0f} µs on the training thread (p50 {base['p50_us']:.1f} µs): {verdict}")


if __name__ == "__main__":
    main()
