"""NVML readings -> W&B metric keys (a pure function), and NvmlSource against a stand-in NVML library."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from runtree.errors import RuntreeWarning
from runtree.system.nvml import GpuReading, NvmlSource, gpu_metrics


def test_full_reading() -> None:
    r = GpuReading(0, utilization=87, memory_utilization=40, memory_used=20 * 2**30, memory_total=80 * 2**30, temperature=61,
                   power_mw=250_000, power_limit_mw=500_000)  # fmt: skip
    assert gpu_metrics([r]) == {
        "system.gpu.0.gpu": 87.0,
        "system.gpu.0.memory": 40.0,
        "system.gpu.0.memoryAllocatedBytes": 20.0 * 2**30,
        "system.gpu.0.memoryAllocated": 25.0,
        "system.gpu.0.memoryTotalBytes": 80.0 * 2**30,
        "system.gpu.0.temp": 61.0,
        "system.gpu.0.powerWatts": 250.0,
        "system.gpu.0.powerPercent": 50.0,
        "system.gpu.0.enforcedPowerLimitWatts": 500.0,
    }


def test_missing_values_leave_their_keys_out() -> None:
    assert gpu_metrics([GpuReading(3, utilization=5)]) == {"system.gpu.3.gpu": 5.0}
    assert gpu_metrics([GpuReading(1, power_mw=1500)]) == {"system.gpu.1.powerWatts": 1.5}
    assert gpu_metrics([GpuReading(0, memory_used=10, memory_total=0)]) == {
        "system.gpu.0.memoryAllocatedBytes": 10.0,
        "system.gpu.0.memoryTotalBytes": 0.0,
    }
    assert gpu_metrics([]) == {}


def test_several_gpus_by_index() -> None:
    got = gpu_metrics([GpuReading(0, utilization=1), GpuReading(1, utilization=2)])
    assert got == {"system.gpu.0.gpu": 1.0, "system.gpu.1.gpu": 2.0}


# -- a stand-in for the pynvml module: plain objects, nothing patched ------------------------------
class FakeNVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(f"NVML error {value}")
        self.value = value


@dataclass
class Util:
    gpu: int
    memory: int


@dataclass
class Mem:
    used: int
    total: int


class FakeNvml:
    NVMLError = FakeNVMLError
    NVML_ERROR_NOT_SUPPORTED = 3
    NVML_ERROR_DRIVER_NOT_LOADED = 9
    NVML_ERROR_LIBRARY_NOT_FOUND = 12
    NVML_ERROR_GPU_IS_LOST = 15
    NVML_TEMPERATURE_GPU = 0

    def __init__(self, gpus: int = 2, init_error: int | None = None, power_error: int | None = None) -> None:
        self.gpus, self.init_error, self.power_error = gpus, init_error, power_error
        self.calls: list[str] = []

    def nvmlInit(self) -> None:
        self.calls.append("init")
        if self.init_error is not None:
            raise FakeNVMLError(self.init_error)

    def nvmlShutdown(self) -> None:
        self.calls.append("shutdown")

    def nvmlDeviceGetCount(self) -> int:
        return self.gpus

    def nvmlDeviceGetHandleByIndex(self, i: int) -> str:
        return f"h{i}"

    def nvmlDeviceGetUtilizationRates(self, h: str) -> Util:
        return Util(gpu=50 + int(h[1:]), memory=10)

    def nvmlDeviceGetMemoryInfo(self, h: str) -> Mem:
        return Mem(used=1000, total=4000)

    def nvmlDeviceGetTemperature(self, h: str, sensor: int) -> int:
        assert sensor == self.NVML_TEMPERATURE_GPU
        return 70

    def nvmlDeviceGetPowerUsage(self, h: str) -> int:
        if self.power_error is not None:
            raise FakeNVMLError(self.power_error)
        return 100_000

    def nvmlDeviceGetEnforcedPowerLimit(self, h: str) -> int:
        return 400_000


def test_source_reads_every_gpu_and_shuts_nvml_down() -> None:
    lib = FakeNvml(gpus=2)
    src = NvmlSource(lib)
    got = src()
    assert src.active
    assert got["system.gpu.0.gpu"] == 50 and got["system.gpu.1.gpu"] == 51
    assert got["system.gpu.1.memoryAllocated"] == 25.0 and got["system.gpu.1.powerPercent"] == 25.0
    assert src() == got and lib.calls == ["init"]  # initialised once
    src.close()
    src.close()
    assert lib.calls == ["init", "shutdown"]
    assert src() == {}


def test_no_driver_library_is_silent() -> None:
    src = NvmlSource(FakeNvml(init_error=FakeNvml.NVML_ERROR_LIBRARY_NOT_FOUND))
    assert src() == {} and src() == {} and not src.active  # filterwarnings=error: any warning fails this test


def test_no_gpus_is_silent_and_releases_nvml() -> None:
    lib = FakeNvml(gpus=0)
    assert NvmlSource(lib)() == {}
    assert lib.calls == ["init", "shutdown"]


def test_broken_driver_warns_once() -> None:
    lib = FakeNvml(init_error=FakeNvml.NVML_ERROR_DRIVER_NOT_LOADED)
    src = NvmlSource(lib)
    with pytest.warns(RuntreeWarning, match="NVML could not start") as caught:
        assert src() == {}
        assert src() == {}
    assert len(caught) == 1 and lib.calls == ["init"]


def test_unsupported_reading_is_left_out_silently() -> None:
    got = NvmlSource(FakeNvml(gpus=1, power_error=FakeNvml.NVML_ERROR_NOT_SUPPORTED))()
    assert "system.gpu.0.powerWatts" not in got and "system.gpu.0.powerPercent" not in got
    assert got["system.gpu.0.temp"] == 70 and got["system.gpu.0.enforcedPowerLimitWatts"] == 400


def test_failing_reading_warns_once_and_keeps_the_others() -> None:
    src = NvmlSource(FakeNvml(gpus=2, power_error=FakeNvml.NVML_ERROR_GPU_IS_LOST))
    with pytest.warns(RuntreeWarning, match="power of GPU 0") as caught:
        for _ in range(3):
            got: dict[str, Any] = src()
            assert got["system.gpu.1.gpu"] == 51 and "system.gpu.0.powerWatts" not in got
    assert len(caught) == 1
