"""Rate limits shared by every actor of a Ray batch: one actor holds the limiters.

:class:`SharedLimits` is plain Python (the Ray executor wraps it with ``ray.remote``) holding one
:class:`~geppetto.batch.limits.RateLimiter` per profile. An actor's :class:`RemoteLimiter` asks it
for a slot (it answers how long to wait, so the waiting happens in the caller and the holder
never blocks), and forwards usage corrections and the provider's rate-limit headers without
waiting for an answer. Requests/min therefore hold for the whole pool, not per actor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from geppetto.batch.limits import RateLimiter


class SharedLimits:
    """The limiter holder (one Ray actor per batch run)."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._limiters: dict[str, RateLimiter] = {}
        self._requests: dict[str, int] = {}
        self._clock = clock

    def _limiter(self, key: str, rpm: float | None, tpm: float | None) -> RateLimiter:
        limiter = self._limiters.get(key)
        if limiter is None:
            if self._clock is not None:
                limiter = RateLimiter(rpm, tpm, clock=self._clock)
            else:
                limiter = RateLimiter(rpm, tpm)
            self._limiters[key] = limiter
        return limiter

    def reserve(self, key: str, rpm: float | None, tpm: float | None, tokens: int) -> float:
        """Take a slot for one request of profile ``key``; seconds the caller must wait first."""
        self._requests[key] = self._requests.get(key, 0) + 1
        return self._limiter(key, rpm, tpm).reserve(tokens)

    def settle(self, key: str, reserved: int, used: int) -> None:
        limiter = self._limiters.get(key)
        if limiter is not None:
            limiter.settle(reserved, used)

    def observe(self, key: str, headers: dict[str, str]) -> None:
        limiter = self._limiters.get(key)
        if limiter is not None:
            limiter.observe(headers)

    def requests(self) -> dict[str, int]:
        """Slots handed out per profile (what a run reports, and what tests check)."""
        return dict(self._requests)


class RemoteLimiter:
    """The :class:`~geppetto.batch.limits.Limiter` an actor's items use: it asks the holder."""

    def __init__(self, holder: Any, key: str, rpm: float | None, tpm: float | None) -> None:
        self._holder = holder  # a Ray actor handle of SharedLimits
        self._key = key
        self._rpm = rpm
        self._tpm = tpm

    async def acquire(self, tokens: int) -> None:
        wait = await self._holder.reserve.remote(self._key, self._rpm, self._tpm, tokens)
        if wait > 0:
            await asyncio.sleep(wait)

    def settle(self, reserved: int, used: int) -> None:
        self._holder.settle.remote(self._key, reserved, used)

    def observe(self, headers: Mapping[str, str]) -> None:
        self._holder.observe.remote(self._key, dict(headers))


def remote_limiter_factory(holder: Any) -> Callable[[str, float | None, float | None], RemoteLimiter]:
    """The ``limiter_factory`` of a :class:`~geppetto.batch.context.BatchContext` in an actor."""

    def factory(key: str, rpm: float | None, tpm: float | None) -> RemoteLimiter:
        return RemoteLimiter(holder, key, rpm, tpm)

    return factory
