"""What runs beside a training loop: the system-metrics sampler and the console capture."""

from __future__ import annotations

from typing import Any


def start(run: Any, writer: Any) -> list[Any]:
    """Start the run's background parts; each has a stop() that finish() calls."""
    return []
