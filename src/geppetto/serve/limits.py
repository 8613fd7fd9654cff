"""Per-model concurrency: at most ``limit`` runs at once, ``queue`` more waiting, the rest refused.

A refused request is answered 429 with ``Retry-After`` by the caller; a waiter whose client goes
away (its task is cancelled) leaves the queue without taking a slot.
"""

from __future__ import annotations

import asyncio
import collections


class QueueFull(Exception):
    """Every slot is busy and the queue is full."""


class Limiter:
    __slots__ = ("_waiters", "active", "limit", "queue")

    def __init__(self, limit: int, queue: int) -> None:
        if limit < 1:
            raise ValueError(f"max concurrency must be at least 1, got {limit}")
        if queue < 0:
            raise ValueError(f"queue size must be at least 0, got {queue}")
        self.limit = limit
        self.queue = queue
        self.active = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self) -> None:
        """Take a slot, waiting in line if needed; :class:`QueueFull` when the line is full too."""
        if self.active < self.limit and not self._waiters:
            self.active += 1
            return
        if len(self._waiters) >= self.queue:
            raise QueueFull()
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot was handed over just as we were cancelled: pass it on
            else:
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        """Hand the slot to the next waiter, or free it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot moves over: active stays the same
                return
        self.active -= 1
