"""Pacing and retries, pure: the clock and the sleep are injected, so tests never wait for real.

:class:`RateLimiter` spends the budget the API announces in its rate-limit headers (the limit, what remains and
when the window resets: ``x-per-minute-*`` on the Engagement API, ``x-rate-limit-*`` on X API v2) and waits for
the reset before a 429 can happen.
:class:`RetryPolicy` says what to retry (5xx, timeouts, dropped connections, 429 after the reset) and how
long to back off (capped exponential with full jitter); 400/401/403/406 are never retried.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import InitVar, dataclass, field

from ..options import renamed

__all__ = ["Clock", "RateLimiter", "RetryPolicy", "SystemClock", "WaitCallback"]

WaitCallback = Callable[[str, float], None]
"""Called as ``on_wait(reason, seconds)`` before every pause for the rate limit."""


class Clock:
    """Wall time in epoch seconds and a way to wait; replace both in tests."""

    def time(self) -> float:
        raise NotImplementedError

    def sleep(self, seconds: float) -> None:
        raise NotImplementedError


class SystemClock(Clock):
    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


@dataclass
class RateLimiter:
    """A budget of requests per window, shared by every worker of a fetch (thread-safe).

    Until the first response tells the limit, one request at a time goes out (or ``per_window`` is used
    when given). After that a request is sent only while the current window has budget left; otherwise the
    caller waits until the announced reset (plus ``margin`` seconds for clock skew). ``per_minute`` is the
    previous release's name of ``per_window``.
    """

    header_names: tuple[str, str, str]
    """The limit, remaining and reset headers the API announces its budget in (each source's catalog)."""
    clock: Clock = field(default_factory=SystemClock)
    per_window: int | None = None
    margin: float = 0.25
    on_wait: WaitCallback | None = None
    window: float = 60.0
    """Seconds per budget window: 60 for the Engagement API, 900 for X API v2 (300 per 15 minutes)."""
    per_minute: InitVar[int | None] = None
    limit: int | None = field(init=False, default=None)
    remaining: int | None = field(init=False, default=None)
    reset_at: float | None = field(init=False, default=None)
    waits: int = field(init=False, default=0)
    waited_seconds: float = field(init=False, default=0.0)
    _in_flight: int = field(init=False, default=0)
    _cond: threading.Condition = field(init=False, default_factory=threading.Condition)

    def __post_init__(self, per_minute: int | None) -> None:
        self.per_window = renamed("per_minute", per_minute, "per_window", self.per_window)
        if self.per_window is not None:
            self.limit = self.remaining = self.per_window
            self.reset_at = (self.clock.time() // self.window + 1) * self.window

    def acquire(self) -> None:
        """Block until a request may be sent, and count it against the window."""
        while True:
            with self._cond:
                now = self.clock.time()
                if self.reset_at is not None and now >= self.reset_at + self.margin:
                    passed = 1 + (now - self.reset_at) // self.window
                    self.remaining, self.reset_at = self.limit, self.reset_at + self.window * passed
                if self.limit is None:
                    if self._in_flight == 0:  # probe: learn the limit from the first answer
                        self._in_flight += 1
                        return
                    self._cond.wait(timeout=0.05)
                    continue
                if self.remaining is None or self.remaining > 0:
                    self.remaining = None if self.remaining is None else self.remaining - 1
                    self._in_flight += 1
                    return
                pause = max(0.0, (self.reset_at or now) + self.margin - now)
                self.waits += 1
                self.waited_seconds += pause
            if self.on_wait is not None:
                self.on_wait("rate limit: budget spent, waiting for the reset", pause)
            self.clock.sleep(pause)

    def release(self, headers: Mapping[str, str] | None = None) -> None:
        """A request finished; learn from its rate-limit headers (when the response had them)."""
        with self._cond:
            self._in_flight = max(0, self._in_flight - 1)
            if headers:
                self._learn(headers)
            self._cond.notify_all()

    def _learn(self, headers: Mapping[str, str]) -> None:
        limit_header, remaining_header, reset_header = self.header_names
        try:
            limit = int(headers[limit_header])
            remaining = int(headers[remaining_header])
        except (KeyError, ValueError):
            return
        reset = headers.get(reset_header)
        new_reset = float(reset) if reset else (self.clock.time() // self.window + 1) * self.window
        if self.reset_at is None or new_reset > self.reset_at:  # a newer window
            self.reset_at, self.remaining = new_reset, remaining
        elif new_reset == self.reset_at and self.remaining is not None:  # same window: trust the lower count
            self.remaining = min(self.remaining, remaining)
        self.limit = limit

    def exhausted(self, reset_at: float | None) -> None:
        """The API said 429: spend the window until ``reset_at`` (epoch seconds) or the next minute."""
        with self._cond:
            self.remaining = 0
            self.reset_at = reset_at if reset_at is not None else (self.clock.time() // self.window + 1) * self.window
            if self.limit is None:
                self.limit = 1


@dataclass(frozen=True)
class RetryPolicy:
    """What to retry and how long to wait.

    Parameters
    ----------
    max_attempts : int
        Attempts per request for 5xx, timeouts and connection failures (429s do not use them up, up to
        ``max_rate_limited``).
    base, cap : float
        Backoff ``min(cap, base * 2**attempt)`` seconds with full jitter.
    max_rate_limited : int
        How many 429s one request may meet before giving up.
    seed : int, optional
        Jitter seed, for reproducible tests.
    """

    max_attempts: int = 6
    base: float = 0.5
    cap: float = 30.0
    max_rate_limited: int = 20
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False, compare=False, default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.seed is not None:
            self._rng.seed(self.seed)

    @staticmethod
    def retryable(status: int) -> bool:
        """Whether an answer with this status is worth another try (5xx; 429 after the reset)."""
        return status == 429 or status >= 500

    def backoff(self, attempt: int) -> float:
        """Seconds before retry number ``attempt`` (0-based)."""
        return self._rng.uniform(0, min(self.cap, self.base * 2**attempt))
