"""What the system-metrics sampler costs the training process, as % of one core at the default 10 s interval.

    .venv/bin/python bench/sampler_cpu.py [--samples 100] [--interval 0.1]

Samples at a short interval to get many readings quickly, then scales the CPU time per sample to one
sample every 10 s. Two measures: the sampler thread's own CPU time (time.thread_time around each reading),
and the whole process's CPU time of a real run with the sampler on minus one with it off (this adds the
writer storing the samples in SQLite). Target: under 0.5 % of one core.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import runtree
from runtree.sdk.settings import Settings
from runtree.system import NvmlSource, Sampler, psutil_sources

DEFAULT_INTERVAL = Settings().system_sample_interval
TARGET_PERCENT = 0.5


def thread_cost(samples: int, interval: float) -> tuple[float, int, list[str]]:
    """(CPU seconds per sample of the sampler thread, samples taken, keys of one sample)."""
    got: list[dict[str, float]] = []
    s = Sampler([*psutil_sources(), NvmlSource()], lambda ts, v: got.append(v), interval, name="runtree-system-bench")
    s.start()
    while s.samples < samples:
        time.sleep(interval)
    s.stop()
    return s.cpu_seconds / s.samples, s.samples, sorted(got[-1])


def process_cost(seconds: float, interval: float) -> tuple[float, int]:
    """(process CPU seconds per stored sample: run with the sampler on minus off, samples stored)."""
    spent = {}
    stored = 0
    with tempfile.TemporaryDirectory() as d:
        for name, every in (("off", 0.0), ("on", interval)):
            run = runtree.init(project="bench", dir=d, settings={"console": "off", "system_sample_interval": every})
            c0 = time.process_time()
            time.sleep(seconds)
            run.finish()
            spent[name] = time.process_time() - c0
            if every:
                stored = len(runtree.Api(store=d).run(run.path).system_metrics())
    return (spent["on"] - spent["off"]) / max(stored, 1), stored


def percent_of_core(cpu_per_sample: float, every: float = DEFAULT_INTERVAL) -> float:
    return 100.0 * cpu_per_sample / every


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--interval", type=float, default=0.1, help="seconds between samples while measuring")
    args = ap.parse_args()

    per_sample, n, keys = thread_cost(args.samples, args.interval)
    print(f"sampler thread: {n} samples of {len(keys)} metrics, {per_sample * 1e3:.2f} ms CPU per sample")
    print(f"  at the default {DEFAULT_INTERVAL:g} s interval: {percent_of_core(per_sample):.4f} % of one core")
    whole, stored = process_cost(args.samples * args.interval, args.interval)
    print(f"whole process (sampler + writer storing, on minus off): {stored} samples, {whole * 1e3:.2f} ms CPU per sample")
    print(f"  at the default {DEFAULT_INTERVAL:g} s interval: {percent_of_core(whole):.4f} % of one core")
    worst = max(percent_of_core(per_sample), percent_of_core(whole))
    print(f"{'OK' if worst < TARGET_PERCENT else 'OVER'}: {worst:.4f} % of one core (target < {TARGET_PERCENT} %)")


if __name__ == "__main__":
    main()
