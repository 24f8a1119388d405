"""System metrics on real processes: samples at the set interval, a failing GPU source, no thread left behind."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import runtree
from runtree.errors import RuntreeWarning
from runtree.system import NvmlSource, Sampler, psutil_sources

TRAIN = """
import sys, time, runtree
run = runtree.init(project="sys", id="t", settings={"system_sample_interval": 0.2})
t0 = time.monotonic()
i = 0
while time.monotonic() - t0 < 1.5:
    run.log({"i": i})
    i += 1
    time.sleep(0.01)
run.finish()
"""


def _runtree_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("runtree")]


def test_samples_arrive_at_the_set_interval_from_a_real_process(rt_dir: Path) -> None:
    env = {**os.environ, "RUNTREE_SYSTEM_SAMPLE_INTERVAL": "10"}  # the setting passed to init wins over this
    p = subprocess.run([sys.executable, "-c", TRAIN], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    df = runtree.Api(store=str(rt_dir)).run("sys/t").system_metrics()
    ts = list(df["_timestamp"])
    assert 5 <= len(ts) <= 8, ts  # 1.5 s at 0.2 s: 7 samples, give or take the edges
    gaps = sorted(b - a for a, b in itertools.pairwise(ts))
    assert 0.15 <= gaps[len(gaps) // 2] <= 0.3, gaps  # fixed rate: the median gap is the interval
    for key in ("system.cpu", "system.proc.cpu.percent", "system.memory_percent", "system.proc.memory.rssMB",
                "system.network.sent", "system.network.recv", "system.proc.cpu.threads"):  # fmt: skip
        assert df[key].notna().all(), key
    assert (df["system.proc.memory.rssMB"] > 10).all()
    assert df["system.cpu"].between(0, 100).all() and df["system.proc.cpu.percent"].between(0, 100).all()
    if "system.disk.in" in df:  # absent where the kernel exposes no disk counters
        assert (df["system.disk.in"] >= 0).all()


def test_sampler_stops_at_finish_and_leaves_no_thread(rt_dir: Path) -> None:
    run = runtree.init(project="sys", settings={"system_sample_interval": 0.05, "console": "auto"})
    assert any(n.startswith("runtree-system-") for n in _runtree_threads())
    time.sleep(0.25)
    run.finish()
    assert _runtree_threads() == []
    n = len(runtree.Api().run(run.path).system_metrics())
    assert n >= 2
    time.sleep(0.15)
    assert len(runtree.Api().run(run.path).system_metrics()) == n  # nothing sampled after finish


def test_interval_zero_turns_the_sampler_off(rt_dir: Path) -> None:
    run = runtree.init(project="sys")  # rt_dir sets RUNTREE_SYSTEM_SAMPLE_INTERVAL=0
    assert not any(n.startswith("runtree-system-") for n in _runtree_threads())
    run.finish()
    assert runtree.Api().run(run.path).system_metrics().empty


def test_a_failing_gpu_source_does_not_stop_the_run(rt_dir: Path) -> None:
    def broken_gpu() -> dict[str, float]:
        raise RuntimeError("NVML: Unknown Error (the driver fell over)")

    run = runtree.init(project="sys")
    sampler = Sampler([broken_gpu, *psutil_sources()], run._writer.put_system, 0.05, name="runtree-system-test")
    with pytest.warns(RuntreeWarning, match="broken_gpu failed.*driver fell over") as caught:
        sampler.start()
        for i in range(20):
            run.log({"i": i})
            time.sleep(0.01)
        deadline = time.monotonic() + 5
        while sampler.samples < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        sampler.stop()
    assert len(caught) == 1 and not sampler.alive
    run.finish()
    api_run = runtree.Api().run(run.path)
    assert api_run.state == "finished" and list(api_run.history()["i"]) == list(range(20))
    df = api_run.system_metrics()
    assert len(df) >= 3 and df["system.cpu"].notna().all()
    assert not [c for c in df.columns if c.startswith("system.gpu.")]


def test_real_nvml_gpus_report_metrics() -> None:
    try:
        import pynvml
    except ImportError:
        pytest.skip("pynvml is not installed (pip install 'runtree[gpu]')")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as e:
        pytest.skip(f"NVML cannot start here, no NVIDIA GPU or driver: {e}")
    try:
        count = pynvml.nvmlDeviceGetCount()
    finally:
        pynvml.nvmlShutdown()
    if count == 0:
        pytest.skip("NVML found no GPU")
    src = NvmlSource()
    try:
        got = src()
    finally:
        src.close()
    assert src.active
    for i in range(count):
        assert 0 <= got[f"system.gpu.{i}.gpu"] <= 100
        assert 0 <= got[f"system.gpu.{i}.memoryAllocatedBytes"] <= got[f"system.gpu.{i}.memoryTotalBytes"]
        assert f"system.gpu.{i}.temp" in got
