"""Pacing and retry policy, with a fake clock: nothing sleeps for real."""

from __future__ import annotations

import pytest

from engagement_lab.api import RateLimiter, RetryPolicy
from engagement_lab.sources.engagement.catalog import RATE_LIMIT_HEADERS as HEADERS

from .conftest import FakeClock


def headers(limit: int, remaining: int, reset: float) -> dict[str, str]:
    return {
        "x-per-minute-limit": str(limit),
        "x-per-minute-remaining": str(remaining),
        "x-per-minute-reset": str(int(reset)),
    }


def test_first_request_probes_then_the_budget_is_spent_and_waits_for_the_reset() -> None:
    clock = FakeClock(t=1000.0)
    waits: list[tuple[str, float]] = []
    limiter = RateLimiter(HEADERS, clock=clock, on_wait=lambda reason, s: waits.append((reason, s)))
    limiter.acquire()  # the probe
    limiter.release(headers(3, 2, 1020))
    for _ in range(2):
        limiter.acquire()
        limiter.release(None)
    assert clock.slept == []
    limiter.acquire()  # budget spent: wait until 1020 + margin
    assert clock.slept == [pytest.approx(20.25)]
    assert waits[0][0].startswith("rate limit")
    assert limiter.waits == 1


def test_headers_of_an_old_window_do_not_shrink_the_new_one() -> None:
    clock = FakeClock(t=1000.0)
    limiter = RateLimiter(HEADERS, clock=clock, per_window=10)
    limiter.acquire()
    limiter.release(headers(10, 9, 1020))
    clock.t = 1021.0
    limiter.acquire()  # new window
    limiter.release(headers(10, 0, 1020))  # a straggler from the old window
    assert limiter.remaining == 9


def test_a_429_spends_the_window() -> None:
    clock = FakeClock(t=1000.0)
    limiter = RateLimiter(HEADERS, clock=clock, per_window=100)
    limiter.exhausted(1030.0)
    limiter.acquire()
    assert clock.slept == [pytest.approx(30.25)]


def test_configured_budget_before_any_answer() -> None:
    clock = FakeClock(t=1000.0)
    limiter = RateLimiter(HEADERS, clock=clock, per_window=2)
    limiter.acquire()
    limiter.acquire()
    limiter.acquire()
    assert clock.slept == [pytest.approx(20.25)]  # next minute boundary is 1020


def test_backoff_is_capped_exponential_with_jitter() -> None:
    policy = RetryPolicy(base=0.5, cap=4.0, seed=1)
    draws = [policy.backoff(a) for a in range(8) for _ in range(50)]
    assert all(0 <= d <= 4.0 for d in draws)
    assert max(policy.backoff(0) for _ in range(50)) <= 0.5
    assert max(draws) > 3.0


@pytest.mark.parametrize(
    ("status", "retry"),
    [(500, True), (502, True), (503, True), (429, True), (400, False), (401, False), (403, False), (406, False)],
)
def test_what_is_retried(status: int, retry: bool) -> None:
    assert RetryPolicy.retryable(status) is retry


def test_the_old_name_of_the_budget_still_works_with_a_deprecation_warning() -> None:
    clock = FakeClock()
    with pytest.warns(DeprecationWarning, match="per_minute= is now called per_window="):
        old = RateLimiter(HEADERS, clock=clock, per_minute=7)
    assert (old.per_window, old.limit, old.remaining) == (7, 7, 7)
    with pytest.raises(TypeError, match="give per_window= only"):
        RateLimiter(HEADERS, clock=clock, per_minute=7, per_window=8)
