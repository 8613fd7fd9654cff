"""The rate limiter on a fake clock: spacing, the token bucket, and header tightening."""

from __future__ import annotations

import pytest

from geppetto.batch.limits import RateLimiter, parse_headers, parse_reset


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def limiter(clock: Clock, rpm: float | None = None, tpm: float | None = None) -> RateLimiter:
    return RateLimiter(rpm, tpm, clock=clock, sleep=clock.sleep)


def test_requests_are_spaced_evenly_in_reservation_order() -> None:
    clock = Clock()
    lim = limiter(clock, rpm=120)  # one every 0.5 s
    waits = [lim.reserve(1) for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.5, 1.0, 1.5])
    clock.now += 10  # idle: no burst is saved up
    assert lim.reserve(1) == 0.0
    assert lim.reserve(1) == pytest.approx(0.5)


def test_no_limits_never_wait() -> None:
    lim = limiter(Clock())
    assert [lim.reserve(10_000) for _ in range(100)] == [0.0] * 100
    assert not lim.active


def test_token_bucket_reserves_estimates_and_settles_actual_usage() -> None:
    clock = Clock()
    lim = limiter(clock, tpm=600)  # 10 tokens a second, 600 in the bucket
    assert lim.reserve(500) == 0.0
    assert lim.reserve(200) == pytest.approx(10.0)  # 100 short at 10/s
    lim.settle(200, 400)  # that call used 200 more than reserved: 20 s more for the next
    assert lim.reserve(1) == pytest.approx(30.1)


def test_a_request_larger_than_the_bucket_waits_for_a_full_bucket_only() -> None:
    clock = Clock()
    lim = limiter(clock, tpm=60)
    assert lim.reserve(10_000) == 0.0  # capped at the bucket: a full minute's worth
    assert lim.reserve(1) == pytest.approx(1.0)


async def test_acquire_sleeps_the_reserved_wait() -> None:
    clock = Clock()
    lim = limiter(clock, rpm=60)
    await lim.acquire(1)
    await lim.acquire(1)
    assert clock.slept == [pytest.approx(1.0)]


def test_headers_tighten_the_request_limit_and_never_loosen_it() -> None:
    clock = Clock()
    lim = limiter(clock, rpm=60)
    lim.observe({"x-ratelimit-limit-requests": "600"})
    assert lim.rpm == 60
    lim.observe({"X-RateLimit-Limit-Requests": "30"})
    assert lim.rpm == 30
    assert lim.interval == pytest.approx(2.0)


def test_remaining_over_reset_spaces_requests() -> None:
    clock = Clock()
    lim = limiter(clock)
    lim.observe({"x-ratelimit-remaining-requests": "4", "x-ratelimit-reset-requests": "2s"})
    assert lim.reserve(1) == 0.0
    assert lim.reserve(1) == pytest.approx(0.5)


def test_an_exhausted_window_pauses_until_it_resets() -> None:
    clock = Clock()
    lim = limiter(clock, rpm=6000)
    lim.observe({"anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-requests-reset": "3"})
    assert lim.reserve(1) == pytest.approx(3.0)
    clock.now += 5
    assert lim.reserve(1) == 0.0


def test_token_headers_lower_the_balance() -> None:
    clock = Clock()
    lim = limiter(clock, tpm=6000)
    lim.observe({"x-ratelimit-remaining-tokens": "50"})
    assert lim.reserve(150) == pytest.approx(1.0)  # 100 short at 100/s
    lim.observe({"x-ratelimit-limit-tokens": "600"})
    assert lim.tpm == 600


def test_token_limit_from_headers_alone() -> None:
    clock = Clock()
    lim = limiter(clock)
    lim.observe({"anthropic-ratelimit-tokens-limit": "60", "anthropic-ratelimit-tokens-remaining": "60"})
    assert lim.reserve(60) == 0.0
    assert lim.reserve(30) == pytest.approx(30.0)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("20ms", 0.02),
        ("1h2m3.5s", 3723.5),
        ("2.5", 2.5),
        ("soon", None),
        ("", None),
    ],
)
def test_parse_reset_durations(text: str, seconds: float | None) -> None:
    assert parse_reset(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_parse_reset_rfc3339_time() -> None:
    assert parse_reset("2030-01-01T00:00:10Z", now=1893456000.0) == pytest.approx(10.0)
    assert parse_reset("2020-01-01T00:00:00Z", now=1893456000.0) == 0.0


def test_parse_headers_reads_both_providers() -> None:
    openai = parse_headers({"x-ratelimit-limit-tokens": "1000", "x-ratelimit-reset-tokens": "1s"})
    assert (openai.limit_tokens, openai.reset_tokens, openai.limit_requests) == (1000.0, 1.0, None)
    anthropic = parse_headers(
        {"anthropic-ratelimit-requests-limit": "50", "anthropic-ratelimit-requests-remaining": "x"}
    )
    assert (anthropic.limit_requests, anthropic.remaining_requests) == (50.0, None)


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="requests_per_minute must be positive"):
        RateLimiter(0)


class Recording:
    """A limiter that records what the runner reserves (``counts_tokens`` as given)."""

    def __init__(self, counts_tokens: bool) -> None:
        self.counts_tokens = counts_tokens
        self.reserved: list[int] = []
        self.settled: list[tuple[int, int]] = []

    async def acquire(self, tokens: int) -> None:
        self.reserved.append(tokens)

    def settle(self, reserved: int, used: int) -> None:
        self.settled.append((reserved, used))

    def observe(self, headers: object) -> None:
        return None


@pytest.mark.parametrize("counts", [True, False])
def test_the_runner_reserves_the_one_documented_estimate(counts: bool) -> None:
    """One token estimator (geppetto.engines.tokens) for budgets and counts alike; a limiter that
    does not count tokens is not charged for computing it."""
    import asyncio

    from geppetto.batch import BatchContext, BatchItem, run_item, seed_turn
    from geppetto.engines.echo import EchoEngine
    from geppetto.engines.tokens import estimate_tokens

    recording = Recording(counts)
    ctx = BatchContext(engine=EchoEngine(), limiter_factory=lambda _key, _rpm, _tpm: recording)
    item = BatchItem(id=1, prompt="a prompt of some length, with \u4e2d\u6587 in it", system="be brief")
    result = asyncio.run(run_item(item, ctx))
    assert result.ok
    expected = estimate_tokens(seed_turn(item, ctx)) if counts else 0
    assert recording.reserved == [expected]
    assert recording.settled[0][0] == expected


def test_a_local_limiter_counts_tokens_only_with_a_tokens_limit() -> None:
    clock = Clock()
    assert not limiter(clock, rpm=60).counts_tokens
    assert limiter(clock, tpm=1000).counts_tokens
    learned = limiter(clock)
    learned.observe({"x-ratelimit-limit-tokens": "5000"})
    assert learned.counts_tokens
