"""The system-metrics sampler: a thread reading its sources every `interval` seconds into a sink.

Sources are passed in (callables returning {key: value}), so tests give it their own without patching.
A source that raises is warned about once (RuntreeWarning) and asked again next time; it never stops
the sampler or the run.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence

from runtree.errors import RuntreeWarning

Source = Callable[[], Mapping[str, float]]
Sink = Callable[[float, dict[str, float]], None]


class Sampler:
    """Reads every source each `interval` seconds (fixed rate) and hands the merged reading to `sink(ts, values)`."""

    def __init__(self, sources: Sequence[Source], sink: Sink, interval: float, *, name: str = "runtree-system") -> None:
        if interval <= 0:
            raise ValueError(f"sampler interval must be > 0 seconds, got {interval!r}")
        self.sources = list(sources)
        self.sink = sink
        self.interval = interval
        self.samples = 0  # readings handed to the sink
        self.cpu_seconds = 0.0  # CPU time the sampler thread spent reading, priming included
        self._failed: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling and wait for the thread to end (it is between readings, or finishing one)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def read(self) -> dict[str, float]:
        """One reading of every source, merged; a failing source is left out."""
        values: dict[str, float] = {}
        for i, source in enumerate(self.sources):
            try:
                values.update(source())
            except Exception as e:
                if i not in self._failed:
                    self._failed.add(i)
                    name = getattr(source, "__qualname__", None) or type(source).__name__
                    warnings.warn(
                        f"runtree: system metrics source {name} failed, its readings are left out: {e!r}", RuntreeWarning, stacklevel=2
                    )
        return values

    def sample(self) -> None:
        """Take one reading now and hand it to the sink (nothing when every source came back empty)."""
        ts = time.time()
        values = self.read()
        if values:
            self.sink(ts, values)
            self.samples += 1

    def _loop(self) -> None:
        t0 = time.thread_time()
        self.read()  # primes the sources: rates need a previous reading, counters a baseline
        self.cpu_seconds += time.thread_time() - t0
        next_at = time.monotonic() + self.interval
        try:
            while not self._stop.wait(max(0.0, next_at - time.monotonic())):
                t0 = time.thread_time()
                self.sample()
                self.cpu_seconds += time.thread_time() - t0
                next_at += self.interval
                now = time.monotonic()
                if next_at <= now:  # a slow reading or a suspended machine: skip the ticks missed, do not burst
                    next_at = now + self.interval
        finally:
            for source in self.sources:
                close = getattr(source, "close", None)
                if close is not None:
                    close()
