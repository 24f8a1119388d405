"""Waiting for a fork's parent to log the fork step, without holding a worker thread.

`wandb sync` and a live parent race their children: an UpsertBucket may name a branch point the parent,
still running, has not logged yet. The resolver raises ParentNotReady; the /graphql endpoint then waits
asynchronously (the event loop, not a thread) and executes the operation again, until the step is there,
FORK_WAIT seconds pass, or the parent stops running. A parent that does not exist (a typo, or a parent whose
first UpsertBucket `wandb sync` sends a moment later) is waited for MISSING_PARENT_WAIT seconds only. At most
MAX_WAITS_PER_KEY requests of one key wait at once in a process; more are answered at once with 429.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from fastapi.responses import Response

from runtree.errors import NoSuchRun, StepOutOfRange

FORK_WAIT = 20.0  # seconds a fork waits for its running parent to log the fork step
MISSING_PARENT_WAIT = 5.0  # seconds a fork waits for a parent that does not exist yet
MAX_WAITS_PER_KEY = 32  # requests of one key waiting at once, per server process
_FIRST_PAUSE, _LONGEST_PAUSE = 0.1, 1.0


class ParentNotReady(StepOutOfRange):
    """A fork's parent is running and has not logged the fork step yet: the request may wait for it."""

    wait = FORK_WAIT


class ParentNotThere(NoSuchRun):
    """A fork's parent does not exist (yet): the request may wait for it, briefly."""

    wait = MISSING_PARENT_WAIT


WAITABLE = (ParentNotReady, ParentNotThere)


class Pending(Exception):
    """An answer that a wait may improve: the response as it stands, the key that asked, how long it may wait."""

    def __init__(self, response: Response, key: str, wait: float) -> None:
        super().__init__(key)
        self.response, self.key, self.wait = response, key, wait


class ForkWaits:
    """Retries of operations whose fork parent is not ready, bounded in time and per key."""

    def __init__(self, per_key: int = MAX_WAITS_PER_KEY) -> None:
        self.per_key = per_key
        self._waiting: Counter[str] = Counter()

    async def run(self, attempt: Callable[[], Awaitable[Response]], too_many: Callable[[str], Response]) -> Response:
        """`attempt()`'s response; while it raises Pending, pause and try again (its last response when time is up)."""
        try:
            return await attempt()
        except Pending as p:
            pending = p
        key = pending.key
        if self._waiting[key] >= self.per_key:
            return too_many(f"{self.per_key} requests of this key are already waiting for fork parents; try again later")
        self._waiting[key] += 1
        try:
            start = time.monotonic()
            pause = _FIRST_PAUSE
            while time.monotonic() + pause <= start + pending.wait:
                await asyncio.sleep(pause)
                pause = min(pause * 2, _LONGEST_PAUSE)
                try:
                    return await attempt()
                except Pending as p:
                    pending = p
            return pending.response
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key]
