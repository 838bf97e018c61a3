"""Client tests run against the sandbox: in-process for speed, over loopback for integration."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from engagement_lab.api import Clock, Credentials
from engagement_lab.sandbox import SandboxApp, SandboxTransport, World

BASE = "https://data-api.twitter.com"


@dataclass
class FakeClock(Clock):
    """Time moves only when something sleeps; sleeps are recorded, never real."""

    t: float = 1_780_000_000.0
    slept: list[float] = field(default_factory=list)

    def time(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += max(0.0, seconds)


@pytest.fixture(scope="session")
def world() -> World:
    return World(seed=7)


@pytest.fixture
def app(world: World) -> SandboxApp:
    return SandboxApp(world, rate_limit_per_minute=100_000)


@pytest.fixture
def credentials(app: SandboxApp) -> Credentials:
    return Credentials.from_mapping(app.info(BASE))


@pytest.fixture
def transport(app: SandboxApp) -> Iterator[SandboxTransport]:
    return SandboxTransport(app)


def owned(world: World, handle: str, n: int = 3, **where: str) -> list[str]:
    tweets = [t for t in reversed(world.tweets) if t.account == handle and t.status == "ok"]
    tweets = [t for t in tweets if all(getattr(t, k) == v for k, v in where.items())]
    return [t.tweet_id for t in tweets[:n]]
