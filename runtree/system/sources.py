"""Readings of the machine and of this process through psutil, as W&B names them under `system.`.

Each source is a callable returning a dict of floats. Rates and counters need a baseline, so a source's
first call primes it: CPU percentages start on the second call, disk and network count from the first.
"""

from __future__ import annotations

import os
from typing import Any

import psutil

MB = 1024 * 1024
GB = 1024 * MB


def _busy_total(t: Any) -> tuple[float, float]:
    """(busy, total) seconds of a psutil cpu_times tuple, as psutil.cpu_percent counts them."""
    total = sum(t)
    # Linux counts guest time inside user/nice as well; psutil subtracts it so it is not counted twice.
    total -= getattr(t, "guest", 0.0) + getattr(t, "guest_nice", 0.0)
    idle = t.idle + getattr(t, "iowait", 0.0)
    return total - idle, total


class CpuSource:
    """system.cpu (the machine), system.cpu.<i>.cpu_percent (each core), system.proc.cpu.* (this process).

    Keeps its own baselines, so a user's psutil.cpu_percent() calls and ours do not shorten each other's interval.
    """

    def __init__(self, pid: int | None = None) -> None:
        self._proc = psutil.Process(pid)
        self._ncpu = psutil.cpu_count() or 1
        self._last: list[tuple[float, float]] | None = None

    def __call__(self) -> dict[str, float]:
        now = [_busy_total(t) for t in psutil.cpu_times(percpu=True)]
        last, self._last = self._last, now
        out: dict[str, float] = {}
        with self._proc.oneshot():
            proc = self._proc.cpu_percent(None)  # percent of one core; 0.0 on the first call
            out["system.proc.cpu.threads"] = float(self._proc.num_threads())
        if last is None or len(last) != len(now):
            return out
        busy = total = 0.0
        for i, ((b1, t1), (b0, t0)) in enumerate(zip(now, last, strict=True)):
            db, dt = max(b1 - b0, 0.0), t1 - t0
            busy, total = busy + db, total + dt
            out[f"system.cpu.{i}.cpu_percent"] = 100.0 * db / dt if dt > 0 else 0.0
        out["system.cpu"] = 100.0 * busy / total if total > 0 else 0.0
        out["system.proc.cpu.percent"] = proc / self._ncpu
        return out


class MemorySource:
    """system.memory_percent, system.memory.usedMB, system.proc.memory.{rssMB,percent,availableMB}."""

    def __init__(self, pid: int | None = None) -> None:
        self._proc = psutil.Process(pid)

    def __call__(self) -> dict[str, float]:
        vm = psutil.virtual_memory()
        rss = self._proc.memory_info().rss
        return {
            "system.memory_percent": float(vm.percent),
            "system.memory.usedMB": vm.used / MB,
            "system.proc.memory.availableMB": vm.available / MB,
            "system.proc.memory.rssMB": rss / MB,
            "system.proc.memory.percent": 100.0 * rss / vm.total if vm.total else 0.0,
        }


class DiskSource:
    """system.disk.in / system.disk.out: MB read / written on the machine since the first call; usage of `path`."""

    def __init__(self, path: str = os.sep) -> None:
        self._path = path
        self._base: tuple[int, int] | None = None

    def __call__(self) -> dict[str, float]:
        out: dict[str, float] = {}
        io = psutil.disk_io_counters()
        if io is not None:  # None where the kernel exposes no disks (some containers)
            if self._base is None:
                self._base = (io.read_bytes, io.write_bytes)
            out["system.disk.in"] = (io.read_bytes - self._base[0]) / MB
            out["system.disk.out"] = (io.write_bytes - self._base[1]) / MB
        usage = psutil.disk_usage(self._path)
        out[f"system.disk.{self._path}.usagePercent"] = float(usage.percent)
        out[f"system.disk.{self._path}.usageGB"] = usage.used / GB
        return out


class NetworkSource:
    """system.network.sent / system.network.recv: bytes the machine sent / received since the first call."""

    def __init__(self) -> None:
        self._base: tuple[int, int] | None = None

    def __call__(self) -> dict[str, float]:
        io = psutil.net_io_counters()
        if io is None:
            return {}
        if self._base is None:
            self._base = (io.bytes_sent, io.bytes_recv)
        return {"system.network.sent": float(io.bytes_sent - self._base[0]), "system.network.recv": float(io.bytes_recv - self._base[1])}


def psutil_sources(pid: int | None = None) -> list[CpuSource | MemorySource | DiskSource | NetworkSource]:
    """The machine and process sources, one per kind, so one failing reading does not hide the others."""
    return [CpuSource(pid), MemorySource(pid), DiskSource(), NetworkSource()]
