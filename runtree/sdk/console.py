"""Console capture: sys.stdout and sys.stderr are teed, so the user still sees everything and each run's log
gets the lines, with timestamp and the run's step at the time.

A carriage return rewrites the current line as a terminal does, so a progress bar (tqdm) is stored as the
state it ended in, not as every refresh; while such a line is unfinished its current state is sent too (at most
once per LIVE_INTERVAL per stream, under the seq its final state will replace). Output written below Python
(os.write, C extensions) is not seen.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO, cast

_MAX_LINE = 64 * 1024  # characters; a longer line without a newline is stored in pieces of this size
LIVE_INTERVAL = 1.0  # seconds between two sends of an unfinished line's state (a progress bar's redraws)

Listener = Callable[[float, str, str, bool], None]  # (timestamp, stream, text, unfinished: the line's state so far)


def collapse(raw: str) -> str:
    """The text a terminal would show for one line written as `raw` (no newline in it)."""
    if raw.endswith("\r"):  # "\r\n" ends a line; it does not rewrite it
        raw = raw[:-1]
    cut = raw.rfind("\r")
    if cut < 0:
        return raw
    return raw[cut + 1 :].rstrip(" ")  # progress bars pad with spaces to blank out a longer previous state


class LineSplitter:
    """Turns written text into complete lines; keeps the unfinished one, reduced to its last state."""

    def __init__(self) -> None:
        self._buf = ""

    def feed(self, text: str) -> list[str]:
        """Lines completed by `text`, in order, each collapsed at its carriage returns."""
        lines: list[str] = []
        buf = self._buf + text
        start = 0
        while (end := buf.find("\n", start)) >= 0:
            lines.append(collapse(buf[start:end]))
            start = end + 1
        buf = buf[start:]
        # Only what follows the last "\r" can still be shown, so a bar that never ends its line stays small;
        # a final "\r" is kept whole, for it may be the first half of "\r\n".
        cut = buf.rfind("\r", 0, len(buf) - 1)
        if cut > 0:
            buf = buf[cut:]
        while len(buf) > _MAX_LINE:
            lines.append(collapse(buf[:_MAX_LINE]))
            buf = buf[_MAX_LINE:]
        self._buf = buf
        return lines

    def pending(self) -> str | None:
        """The unfinished line as it stands, or None when there is none or it shows nothing."""
        text = collapse(self._buf)
        return text if text.strip() else None

    def redrawn(self) -> bool:
        """Whether the unfinished line was rewritten by a carriage return (a progress bar, not a print midway)."""
        return "\r" in self._buf[:-1]

    def clear(self) -> None:
        self._buf = ""


class Tee:
    """Stands in for sys.stdout or sys.stderr: writes go on to the original stream, lines to the listeners."""

    def __init__(self, target: TextIO, stream: str) -> None:
        self.target = target
        self.stream = stream
        self._splitter = LineSplitter()
        self._listeners: list[Listener] = []
        self._lock = threading.RLock()  # reentrant: a signal handler may print while a write holds it
        self._live_at = 0.0  # when the unfinished line was last sent (time.monotonic)

    def write(self, s: str) -> int:
        n = self.target.write(s)
        if self._listeners and s and isinstance(s, str):
            with self._lock:
                lines = self._splitter.feed(s)
                ts = time.time()
                if lines:
                    for listener in self._listeners:
                        for line in lines:
                            listener(ts, self.stream, line, False)
                now = time.monotonic()
                if now - self._live_at >= LIVE_INTERVAL and self._splitter.redrawn() and (text := self._splitter.pending()) is not None:
                    self._live_at = now
                    for listener in self._listeners:
                        listener(ts, self.stream, text, True)
        return n

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.target.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno, buffer, ... of the real stream
        if name == "target":  # not set yet (copy, unpickling): do not recurse
            raise AttributeError(name)
        return getattr(self.target, name)

    def add(self, listener: Listener) -> None:
        with self._lock:
            self._listeners = [*self._listeners, listener]

    def remove(self, listener: Listener) -> bool:
        """Stop sending lines to `listener`, handing it the unfinished line first; True when none are left."""
        with self._lock:
            text = self._splitter.pending()
            if listener in self._listeners and text is not None:
                listener(time.time(), self.stream, text, False)
            self._listeners = [x for x in self._listeners if x != listener]
            if not self._listeners:
                self._splitter.clear()
            return not self._listeners


def attach(stream: str, listener: Listener) -> Tee | None:
    """Send the lines written to sys.<stream> to `listener`, teeing the stream unless it is teed already."""
    current = getattr(sys, stream)
    if current is None:  # pythonw and some embedders have no console
        return None
    if isinstance(current, Tee):
        tee = current
    else:
        tee = Tee(current, stream)
        setattr(sys, stream, cast(TextIO, tee))
    tee.add(listener)
    return tee


def detach(tee: Tee, listener: Listener) -> None:
    """Undo attach; the last listener to leave puts the original stream back, if nothing was put over the tee."""
    if tee.remove(listener) and getattr(sys, tee.stream) is tee:
        setattr(sys, tee.stream, tee.target)


class ConsoleCapture:
    """A run's share of the console: each line goes to `put_log(seq, ts, step, stream, text, live)`; `live`
    lines (an unfinished line's state, then its final state) replace what is stored at their seq."""

    def __init__(
        self, put_log: Callable[[int, float, int | None, str, str, bool], None], step: Callable[[], int | None], first_seq: int = 0
    ) -> None:
        self._put_log = put_log
        self._step = step
        self._seq = itertools.count(first_seq)  # next() on a count is atomic: stdout and stderr may race
        self._open: dict[str, int] = {}  # per stream, the seq of the unfinished line whose state was sent
        self._tees: list[Tee] = []
        self._pid = os.getpid()
        self._listener: Listener = self._on_line  # one bound method, so detach finds what attach added

    def _on_line(self, ts: float, stream: str, text: str, unfinished: bool) -> None:
        if os.getpid() != self._pid:  # a forked worker inherits the tee but not the writer thread that would store its lines
            return
        # Each stream's tee calls under its own lock, so one stream's entry is never raced.
        if unfinished:
            seq = self._open.get(stream)
            if seq is None:
                seq = self._open[stream] = next(self._seq)
            self._put_log(seq, ts, self._step(), stream, text, True)
            return
        seq = self._open.pop(stream, None)
        if seq is None:
            self._put_log(next(self._seq), ts, self._step(), stream, text, False)
        else:  # the final state replaces the live one, at the seq where the line began
            self._put_log(seq, ts, self._step(), stream, text, True)

    def start(self) -> None:
        for stream in ("stdout", "stderr"):
            tee = attach(stream, self._listener)
            if tee is not None:
                self._tees.append(tee)

    def stop(self) -> None:
        """Stop capturing; an unfinished line (a progress bar left open) is stored as it stands."""
        for s in (sys.stdout, sys.stderr):
            try:
                if s is not None:
                    s.flush()
            except (OSError, ValueError):  # a closed stream
                pass
        tees, self._tees = self._tees, []
        for tee in reversed(tees):
            detach(tee, self._listener)
        for stream, seq in list(self._open.items()):  # sent, then blanked (a leave=False bar): no stale state stays
            self._put_log(seq, time.time(), self._step(), stream, "", True)
        self._open.clear()
