"""What the machine is doing while a run trains: a sampler thread and the sources it reads (psutil, NVML)."""

from __future__ import annotations

from runtree.system.nvml import GpuReading, NvmlSource, gpu_metrics
from runtree.system.sampler import Sampler, Source
from runtree.system.sources import psutil_sources

__all__ = ["GpuReading", "NvmlSource", "Sampler", "Source", "gpu_metrics", "psutil_sources"]
