"""Deadlines for many tasks on one timer: the per-call timeout of tool calls and MCP requests.

``asyncio.timeout`` schedules and cancels a timer handle per use, which costs more than the rest of
a fast tool call's bookkeeping. A :class:`Watchdog` keeps every live :class:`Deadline` in a set and
one timer armed at the earliest: a call that finishes in time costs a set insert and removal.
When the timer fires, the tasks of overdue deadlines are cancelled, and :meth:`Deadline.expired`
tells that cancellation apart from any other the way ``asyncio.timeout`` does (``Task.uncancel``),
so deadlines nest, with each other and with ``asyncio.timeout``.

    deadline = watchdog().watch(task, seconds)
    try:
        await work()
    except asyncio.CancelledError:
        if deadline.expired():
            raise TimeoutError from None
        raise
    finally:
        deadline.forget()
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

# Timer handles may fire up to the loop's clock resolution early; count those deadlines as reached.
_SLACK = 1e-3


class Deadline:
    """One watched span of one task."""

    __slots__ = ("_cancelling", "_dog", "_fired", "task", "when")

    def __init__(self, dog: Watchdog, task: asyncio.Task[Any], when: float) -> None:
        self._dog = dog
        self.task = task
        self.when = when
        self._cancelling = task.cancelling()
        self._fired = False

    def expired(self) -> bool:
        """Whether this deadline cancelled the task and no other cancellation is pending.

        Call it once, while handling the ``CancelledError``: it consumes the cancellation the
        deadline requested, as leaving an ``asyncio.timeout`` block does.
        """
        if not self._fired:
            return False
        self._fired = False
        return self.task.uncancel() <= self._cancelling

    def forget(self) -> None:
        """Stop watching (idempotent)."""
        self._dog._live.discard(self)


class Watchdog:
    """Cancels the tasks of one event loop whose deadline passed.

    It holds no reference to its loop, not even through a timer handle (the loop is the key it is
    kept under): a timer is never cancelled, one that is no longer the armed one does nothing.
    """

    __slots__ = ("_live", "_timer_at")

    def __init__(self) -> None:
        self._live: set[Deadline] = set()
        self._timer_at: float | None = None

    def watch(self, task: asyncio.Task[Any], seconds: float) -> Deadline:
        """Cancel ``task`` if the returned deadline is still watched ``seconds`` from now."""
        loop = asyncio.get_running_loop()
        deadline = Deadline(self, task, loop.time() + seconds)
        self._live.add(deadline)
        if self._timer_at is None or deadline.when < self._timer_at:
            self._arm(loop, deadline.when)
        return deadline

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        self._timer_at = when
        loop.call_at(when, self._check, when)

    def _check(self, armed_at: float) -> None:
        if armed_at != self._timer_at:
            return  # superseded by an earlier deadline's timer
        self._timer_at = None
        loop = asyncio.get_running_loop()
        due = loop.time() + _SLACK
        upcoming: float | None = None
        for deadline in list(self._live):
            if deadline.when <= due:
                self._live.discard(deadline)
                if not deadline.task.done():
                    deadline._fired = True
                    deadline.task.cancel()
            elif upcoming is None or deadline.when < upcoming:
                upcoming = deadline.when
        if upcoming is not None:
            self._arm(loop, upcoming)


_dogs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Watchdog] = weakref.WeakKeyDictionary()


def watchdog() -> Watchdog:
    """The running loop's watchdog (created on first use, dropped with the loop)."""
    loop = asyncio.get_running_loop()
    dog = _dogs.get(loop)
    if dog is None:
        dog = _dogs[loop] = Watchdog()
    return dog
