"""Seeded fault injection for the sandbox (all off by default) and the clocks it runs on."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from threading import Lock
from typing import Literal

__all__ = [
    "AcceleratedClock",
    "DroppedConnection",
    "Fault",
    "FaultConfig",
    "FaultPlan",
    "FixedClock",
    "WorldClock",
]

Fault = Literal["none", "server_error", "rate_limit", "drop", "truncate"]


class DroppedConnection(Exception):
    """Raised by the app when a fault says to drop the connection; the server closes the socket."""


@dataclass(frozen=True)
class FaultConfig:
    """What can go wrong, and how often.

    Parameters
    ----------
    error_rate : float
        Share of engagement requests answered 500, 502 or 503.
    rate_limit_rate : float
        Share answered 429 although the per-minute budget is not spent.
    drop_rate : float
        Share whose connection is closed before any response.
    truncate_rate : float
        Share whose body is cut short (the Content-Length promises more).
    latency_ms : float
        Added delay before every engagement response.
    seed : int
        Faults are drawn from a generator with this seed.
    """

    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    drop_rate: float = 0.0
    truncate_rate: float = 0.0
    latency_ms: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        rates = (self.error_rate, self.rate_limit_rate, self.drop_rate, self.truncate_rate)
        if any(not 0 <= r <= 1 for r in rates) or sum(rates) > 1:
            raise ValueError(f"fault rates must be in [0, 1] and sum to at most 1, got {rates}")
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, got {self.latency_ms}")

    @classmethod
    def mixed(cls, rate: float, *, seed: int = 0, latency_ms: float = 0.0) -> FaultConfig:
        """Spread ``rate`` over server errors (half), extra 429s, drops and truncations."""
        return cls(rate / 2, rate / 6, rate / 6, rate / 6, latency_ms, seed)


@dataclass
class FaultPlan:
    """Draws one fault per request from the config's seeded generator (thread-safe)."""

    config: FaultConfig
    _rng: random.Random = field(init=False)
    _lock: Lock = field(default_factory=Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.config.seed)

    def draw(self) -> tuple[Fault, int]:
        """The fault for the next request and, for server errors, its status."""
        c = self.config
        with self._lock:
            u, status = self._rng.random(), self._rng.choice((500, 502, 503))
        for fault, rate in (
            ("server_error", c.error_rate),
            ("rate_limit", c.rate_limit_rate),
            ("drop", c.drop_rate),
            ("truncate", c.truncate_rate),
        ):
            if u < rate:
                return fault, status  # type: ignore[return-value]
            u -= rate
        return "none", 200


class WorldClock:
    """The world's clock: ``now()`` is an aware UTC datetime (the real time, unless a subclass says otherwise).

    Not :class:`engagement_lab.api.pacing.Clock`, which paces a client (wall seconds and a sleep)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock(WorldClock):
    """A clock that moves only when told (tests, reproducible demos)."""

    at: datetime

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


@dataclass
class AcceleratedClock(WorldClock):
    """World time that runs ``speed`` times faster than the wall clock, starting at ``start``."""

    start: datetime
    speed: float = 60.0
    wall: Callable[[], float] = time.monotonic
    _origin: float = field(init=False)

    def __post_init__(self) -> None:
        self._origin = self.wall()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(self.wall() - self._origin) * self.speed)


def __getattr__(name: str) -> object:
    if name == "Clock":
        from ..options import deprecated

        deprecated(
            "sandbox Clock is now WorldClock (api.pacing.Clock paces a client); the old name works for one more release"
        )
        return WorldClock
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
