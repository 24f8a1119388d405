"""NVIDIA GPUs through NVML (`pynvml`, from the optional `nvidia-ml-py`): readings, and readings -> metric keys.

`gpu_metrics` is pure; `NvmlSource` does the NVML calls. No pynvml or no NVIDIA driver library is silent
(the machine has no NVIDIA GPU); any other NVML failure is one RuntreeWarning per source, never an exception.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runtree.errors import RuntreeWarning

PREFIX = "system.gpu."


@dataclass(frozen=True, slots=True)
class GpuReading:
    """One GPU at one moment, in NVML's units; None where the device does not report a value."""

    index: int
    utilization: float | None = None  # % of the sample period a kernel was running
    memory_utilization: float | None = None  # % of the sample period device memory was read or written
    memory_used: int | None = None  # bytes
    memory_total: int | None = None  # bytes
    temperature: float | None = None  # °C
    power_mw: float | None = None  # milliwatts
    power_limit_mw: float | None = None  # enforced power limit, milliwatts


def gpu_metrics(readings: Sequence[GpuReading]) -> dict[str, float]:
    """W&B's per-GPU keys (`system.gpu.0.gpu`, `.memoryAllocatedBytes`, `.temp`, `.powerWatts`, ...)."""
    out: dict[str, float] = {}
    for r in readings:
        p = f"{PREFIX}{r.index}."
        if r.utilization is not None:
            out[p + "gpu"] = float(r.utilization)
        if r.memory_utilization is not None:
            out[p + "memory"] = float(r.memory_utilization)
        if r.memory_used is not None:
            out[p + "memoryAllocatedBytes"] = float(r.memory_used)
            if r.memory_total:
                out[p + "memoryAllocated"] = 100.0 * r.memory_used / r.memory_total
        if r.memory_total is not None:
            out[p + "memoryTotalBytes"] = float(r.memory_total)
        if r.temperature is not None:
            out[p + "temp"] = float(r.temperature)
        if r.power_mw is not None:
            out[p + "powerWatts"] = r.power_mw / 1000.0
            if r.power_limit_mw:
                out[p + "powerPercent"] = 100.0 * r.power_mw / r.power_limit_mw
        if r.power_limit_mw is not None:
            out[p + "enforcedPowerLimitWatts"] = r.power_limit_mw / 1000.0
    return out


def _load_pynvml() -> Any | None:
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


class NvmlSource:
    """A sampler source reading every NVIDIA GPU. Initialises NVML on its first call, in the sampler thread.

    `lib` is the pynvml module (default: imported if installed); tests pass a stand-in object.
    """

    def __init__(self, lib: Any = None) -> None:
        self._lib: Any = lib
        self._handles: list[Any] | None = None  # None until initialised
        self._off = False
        self._warned = False

    @property
    def active(self) -> bool:
        """True once NVML is initialised and at least one GPU was found."""
        return bool(self._handles)

    def __call__(self) -> dict[str, float]:
        if self._off:
            return {}
        if self._handles is None:
            self._start()
            if self._off:
                return {}
        return gpu_metrics([self._read(i, h) for i, h in enumerate(self._handles or [])])

    def close(self) -> None:
        if self._handles is not None and not self._off:
            self._off = True
            try:
                self._lib.nvmlShutdown()
            except Exception:  # shutting down a broken NVML must not fail finish()
                pass

    def _start(self) -> None:
        lib = self._lib if self._lib is not None else _load_pynvml()
        if lib is None:
            self._off = True
            return
        self._lib = lib
        try:
            lib.nvmlInit()
        except lib.NVMLError as e:
            self._off = True
            if getattr(e, "value", None) != lib.NVML_ERROR_LIBRARY_NOT_FOUND:  # no driver library: no NVIDIA GPU here
                self._warn(f"runtree: NVML could not start, no GPU metrics for this run: {e}")
            return
        try:
            self._handles = [lib.nvmlDeviceGetHandleByIndex(i) for i in range(lib.nvmlDeviceGetCount())]
        except lib.NVMLError as e:
            self._handles = []
            self._warn(f"runtree: NVML could not list the GPUs, no GPU metrics for this run: {e}")
        if not self._handles:
            self.close()

    def _read(self, index: int, handle: Any) -> GpuReading:
        lib = self._lib
        util = self._field(index, "utilization", lib.nvmlDeviceGetUtilizationRates, handle)
        mem = self._field(index, "memory", lib.nvmlDeviceGetMemoryInfo, handle)
        return GpuReading(
            index=index,
            utilization=None if util is None else util.gpu,
            memory_utilization=None if util is None else util.memory,
            memory_used=None if mem is None else mem.used,
            memory_total=None if mem is None else mem.total,
            temperature=self._field(index, "temperature", lib.nvmlDeviceGetTemperature, handle, lib.NVML_TEMPERATURE_GPU),
            power_mw=self._field(index, "power", lib.nvmlDeviceGetPowerUsage, handle),
            power_limit_mw=self._field(index, "power limit", lib.nvmlDeviceGetEnforcedPowerLimit, handle),
        )

    def _field(self, index: int, what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except self._lib.NVMLError as e:
            if getattr(e, "value", None) != self._lib.NVML_ERROR_NOT_SUPPORTED:  # e.g. no power sensor: nothing to say
                self._warn(f"runtree: NVML could not read the {what} of GPU {index}; such readings are left out: {e}")
            return None

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(message, RuntreeWarning, stacklevel=2)
