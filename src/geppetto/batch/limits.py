"""Per-profile rate limits: requests/min and tokens/min, tightened by the provider's headers.

Requests are spaced evenly (one every ``60 / rpm`` seconds, no burst), so a limit holds over any
window, not only on average. Tokens use a bucket of one minute's worth that refills continuously:
a request reserves its estimated input tokens up front (the balance may go negative, which makes
the next callers wait) and :meth:`RateLimiter.settle` corrects the estimate by the usage the
provider reported. Reservations are taken before any ``await``, so concurrent callers queue in
order without a lock.

The engines copy the provider's rate-limit headers (OpenAI ``x-ratelimit-*``, Anthropic
``anthropic-ratelimit-*``) into ``inference_result.extra.rate_limits``; :meth:`RateLimiter.observe`
only ever tightens: a lower advertised limit replaces the configured one, ``remaining`` over
``reset`` spaces requests further, and an exhausted window pauses everyone until it resets.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class Limiter(Protocol):
    """What the runner needs; a distributed executor may share one across processes."""

    async def acquire(self, tokens: int) -> None: ...

    def settle(self, reserved: int, used: int) -> None: ...

    def observe(self, headers: Mapping[str, str]) -> None: ...


@dataclass(slots=True)
class HeaderLimits:
    """The rate-limit headers of one response, normalized (``None`` where absent)."""

    limit_requests: float | None = None
    remaining_requests: float | None = None
    reset_requests: float | None = None  # seconds from now
    limit_tokens: float | None = None
    remaining_tokens: float | None = None
    reset_tokens: float | None = None


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_reset(value: str, now: float | None = None) -> float | None:
    """Seconds until a reset: ``"1s"``, ``"6m0s"``, ``"20ms"`` (OpenAI), a number of seconds, or
    an RFC 3339 time (Anthropic)."""
    text = value.strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    parts = _DURATION_PART.findall(text)
    if parts and "".join(n + u for n, u in parts) == text:
        return sum(float(n) * _UNIT[u] for n, u in parts)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def parse_headers(headers: Mapping[str, str]) -> HeaderLimits:
    """Normalize OpenAI-style and Anthropic-style rate-limit headers (names case-insensitive)."""
    h = {name.lower(): str(value) for name, value in headers.items()}
    out = HeaderLimits()
    for kind in ("requests", "tokens"):
        limit = _number(h.get(f"x-ratelimit-limit-{kind}") or h.get(f"anthropic-ratelimit-{kind}-limit"))
        remaining = _number(
            h.get(f"x-ratelimit-remaining-{kind}") or h.get(f"anthropic-ratelimit-{kind}-remaining")
        )
        reset_text = h.get(f"x-ratelimit-reset-{kind}") or h.get(f"anthropic-ratelimit-{kind}-reset")
        reset = parse_reset(reset_text) if reset_text else None
        setattr(out, f"limit_{kind}", limit)
        setattr(out, f"remaining_{kind}", remaining)
        setattr(out, f"reset_{kind}", reset)
    return out


class RateLimiter:
    """Requests/min and tokens/min for one profile (``None``: no limit until headers say one)."""

    def __init__(
        self,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        given = (("requests_per_minute", requests_per_minute), ("tokens_per_minute", tokens_per_minute))
        for name, value in given:
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        self.rpm = requests_per_minute
        self.tpm = tokens_per_minute
        self._clock = clock
        self._sleep = sleep
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._header_interval = 0.0
        self._balance = float(tokens_per_minute or 0)
        self._balance_at = clock()

    @property
    def interval(self) -> float:
        """Seconds between two request starts."""
        base = 60.0 / self.rpm if self.rpm else 0.0
        return max(base, self._header_interval)

    @property
    def counts_tokens(self) -> bool:
        """Whether reservations matter (a tokens/min limit is known): else callers skip the estimate."""
        return bool(self.tpm)

    @property
    def active(self) -> bool:
        return bool(self.rpm or self.tpm or self._header_interval or self._paused_until > self._clock())

    def _refill(self, now: float) -> None:
        if self.tpm:
            self._balance = min(self.tpm, self._balance + (now - self._balance_at) * self.tpm / 60.0)
        self._balance_at = now

    def reserve(self, tokens: int) -> float:
        """Take a request slot and ``tokens`` now; returns how long the caller must wait first."""
        now = self._clock()
        start = max(now, self._paused_until)
        if self.rpm or self._header_interval:
            start = max(start, self._next_slot)
            self._next_slot = start + self.interval
        if self.tpm:
            self._refill(now)
            self._balance -= min(float(tokens), self.tpm)
            if self._balance < 0:
                start = max(start, now + (-self._balance) * 60.0 / self.tpm)
        return start - now

    async def acquire(self, tokens: int) -> None:
        wait = self.reserve(tokens)
        if wait > 0:
            await self._sleep(wait)

    def settle(self, reserved: int, used: int) -> None:
        """Correct a reservation by the tokens the provider reported using."""
        if self.tpm and used > 0:
            self._refill(self._clock())
            self._balance -= used - min(float(reserved), self.tpm)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Tighten the limits from one response's rate-limit headers (never loosen them)."""
        info = parse_headers(headers)
        now = self._clock()
        if info.limit_requests and (self.rpm is None or info.limit_requests < self.rpm):
            self.rpm = info.limit_requests
        if info.remaining_requests is not None and info.reset_requests is not None:
            if info.remaining_requests <= 0:
                self._paused_until = max(self._paused_until, now + info.reset_requests)
            else:
                self._header_interval = info.reset_requests / info.remaining_requests
        if info.limit_tokens and (self.tpm is None or info.limit_tokens < self.tpm):
            if self.tpm is None:
                self._balance = info.limit_tokens
                self._balance_at = now
            self.tpm = info.limit_tokens
            self._balance = min(self._balance, self.tpm)
        if info.remaining_tokens is not None:
            if info.remaining_tokens <= 0 and info.reset_tokens is not None:
                self._paused_until = max(self._paused_until, now + info.reset_tokens)
            elif self.tpm:
                self._refill(now)
                self._balance = min(self._balance, info.remaining_tokens)
