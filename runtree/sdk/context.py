"""What runs beside a training loop: metadata collection, the system-metrics sampler and the console capture."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from runtree.errors import RuntreeWarning
from runtree.sdk.console import ConsoleCapture
from runtree.sdk.metadata import MetadataCollector
from runtree.sdk.writer import NullWriter, Writer
from runtree.system import NvmlSource, Sampler, psutil_sources

if TYPE_CHECKING:
    from runtree.sdk.run import Run


class Part(Protocol):
    def stop(self) -> None: ...


def start(run: Run, writer: Writer | NullWriter) -> list[Part]:
    """Start the run's background parts as its settings ask; each has a stop() that finish() calls, last first."""
    if not isinstance(writer, Writer):  # a disabled run stores nothing
        return []
    store, uid = writer.store, writer.uid
    tag = uid[:8]

    def metadata() -> Part:
        m = MetadataCollector(
            lambda meta: writer.set_fields(metadata=meta),
            lambda name, data: store.put_file(uid, name, data),
            run.start_time,
            name=f"runtree-metadata-{tag}",
        )
        m.start()
        return m

    def sampler() -> Part | None:
        interval = run.settings.system_sample_interval
        if interval <= 0:
            return None
        s = Sampler([*psutil_sources(), NvmlSource()], writer.put_system, interval, name=f"runtree-system-{tag}")
        s.start()
        return s

    def console() -> Part | None:
        if run.settings.console == "off":
            return None
        # A resumed run numbers its lines on from the last stored; a new one starts at 0 without asking the store,
        # so capture starts even when init found the server down.
        last = store.last_log_seq(uid, writer.epoch) if run.resumed else None
        c = ConsoleCapture(writer.put_log, lambda: run.step, 0 if last is None else last + 1)
        c.start()
        return c

    parts: list[Part] = []
    starters: list[tuple[str, Callable[[], Part | None]]] = [
        ("metadata", metadata),
        ("system metrics", sampler),
        ("console capture", console),
    ]
    for what, starter in starters:
        try:
            part = starter()
        except Exception as e:  # the run logs on without this part
            warnings.warn(f"runtree: {what} could not start for run {run.path}: {e}", RuntreeWarning, stacklevel=3)
            continue
        if part is not None:
            parts.append(part)
    return parts
