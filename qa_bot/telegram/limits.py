"""Incoming limits: questions per user per minute, and answers generated at once (with a queue)."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager


class RateLimiter:
    """At most `per_window` questions per user in any sliding window of `window` seconds."""

    def __init__(
        self, per_window: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_window = per_window
        self.window = window
        self.clock = clock
        self._hits: dict[int, deque[float]] = {}

    def hit(self, user_id: int) -> int:
        """Count a question: 0 when it is allowed, else the whole seconds until the next one will be."""
        now = self.clock()
        hits = self._hits.setdefault(user_id, deque())
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        if len(hits) >= self.per_window:
            return max(1, math.ceil(self.window - (now - hits[0])))
        hits.append(now)
        if len(self._hits) > 10_000:
            self._forget_idle(now)
        return 0

    def _forget_idle(self, now: float) -> None:
        for user_id in [u for u, h in self._hits.items() if not h or now - h[-1] >= self.window]:
            del self._hits[user_id]


class AnswerSlots:
    """A global limit on answers being generated; callers beyond it wait in arrival order."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._semaphore = asyncio.Semaphore(size)
        self.waiting = 0

    def position(self) -> int:
        """0 when a slot is free now, else the place in the queue a new caller would take."""
        return self.waiting + 1 if self._semaphore.locked() or self.waiting else 0

    @asynccontextmanager
    async def slot(
        self, on_queued: Callable[[int], Awaitable[None]] | None = None, notice_after: float = 0.0
    ) -> AsyncIterator[None]:
        """Hold a slot; `on_queued(position)` is awaited when the wait lasts longer than `notice_after` s."""
        position = self.position()
        if position:
            await self._wait(position, on_queued, notice_after)
        else:
            await self._semaphore.acquire()  # a slot is free: no waiting
        try:
            yield
        finally:
            self._semaphore.release()

    async def _wait(
        self, position: int, on_queued: Callable[[int], Awaitable[None]] | None, notice_after: float
    ) -> None:
        self.waiting += 1
        acquire = asyncio.ensure_future(self._semaphore.acquire())
        try:
            if on_queued is not None:
                done, _ = await asyncio.wait({acquire}, timeout=notice_after)
                if not done:
                    await on_queued(position)
            await acquire
        except BaseException:
            if acquire.done() and not acquire.cancelled():
                self._semaphore.release()
            acquire.cancel()
            raise
        finally:
            self.waiting -= 1
