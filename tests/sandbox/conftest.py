"""Fixtures for driving the sandbox app in-process, signing requests with oauthlib (not our client)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from oauthlib.oauth1 import Client as OAuth1Signer

from engagement_lab.sandbox import SandboxApp, SandboxTransport, World

BASE = "https://data-api.twitter.com"


@dataclass
class Wall:
    """A wall clock for the app's rate limits and OAuth timestamps, moved by hand."""

    t: float = 1_780_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="session")
def world() -> World:
    return World(seed=7)


@pytest.fixture
def wall() -> Wall:
    return Wall()


@pytest.fixture
def app(world: World, wall: Wall) -> SandboxApp:
    return SandboxApp(world, wall=wall, rate_limit_per_minute=1000)


@pytest.fixture
def client(app: SandboxApp) -> Iterator[httpx.Client]:
    with httpx.Client(transport=SandboxTransport(app), base_url=BASE) as c:
        yield c


def oauth_header(app: SandboxApp, url: str, handle: str, *, wall: Callable[[], float], **overrides: Any) -> str:
    """Sign with oauthlib's own client, as an independent implementation."""
    account = app.world.accounts_by_handle[handle]
    options: dict[str, Any] = {
        "client_secret": app.tokens.consumer_secret,
        "resource_owner_key": account.access_token,
        "resource_owner_secret": account.access_token_secret,
        "timestamp": str(int(wall())),
    }
    options.update(overrides)
    signer = OAuth1Signer(app.tokens.consumer_key, **options)
    _, headers, _ = signer.sign(url, http_method="POST")
    return str(headers["Authorization"])


Poster = Callable[..., httpx.Response]


@pytest.fixture
def post(app: SandboxApp, client: httpx.Client, wall: Wall) -> Poster:
    """``post(endpoint, body, as_="acme")``: POST a JSON body signed as an account, or with bearer."""

    def _post(
        endpoint: str, body: Any, as_: str | None = "acme", headers: dict[str, str] | None = None
    ) -> httpx.Response:
        url = f"{BASE}/insights/engagement/{endpoint}"
        sent = {"Content-Type": "application/json", "Accept-Encoding": "gzip"}
        if as_ == "bearer":
            sent["Authorization"] = f"Bearer {app.tokens.bearer_token}"
        elif as_ is not None:
            sent["Authorization"] = oauth_header(app, url, as_, wall=wall)
        sent.update(headers or {})
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return client.post(url, content=content, headers=sent)

    return _post


@pytest.fixture
def ids(world: World) -> Callable[..., list[str]]:
    """``ids(account, status="ok", content=None, n=3, min_age_h=30)``: newest matching tweet ids."""

    def _ids(
        account: str, *, status: str = "ok", content: str | None = None, n: int = 3, min_age_h: float = 30
    ) -> list[str]:
        picked = [
            t.tweet_id
            for t in reversed(world.tweets)
            if t.account == account
            and t.status == status
            and (content is None or t.content_type == content)
            and world.now - t.created_at > timedelta(hours=min_age_h)
        ]
        return picked[:n]

    return _ids
