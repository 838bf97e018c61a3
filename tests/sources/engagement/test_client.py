"""The one-request client: every status maps to the design's exception, transport failures included."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest

from engagement_lab import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    EngagementQuery,
    ForbiddenError,
    NotAcceptableError,
    RateLimitError,
    ServerError,
)
from engagement_lab.api import AsyncEngagementClient, Credentials, EngagementClient, RawResponse
from engagement_lab.sandbox import FaultConfig, Sandbox, SandboxApp, SandboxTransport, World
from engagement_lab.sources.engagement.client import forbidden_ids, raise_for_status

from ...api.conftest import BASE, owned


def request_for(ids: list[str], endpoint: str = "totals", metrics: list[str] | None = None):  # type: ignore[no-untyped-def]
    groupings = "per_tweet" if endpoint == "totals" else "hourly"
    return EngagementQuery(endpoint, ids, metrics or ["favorites", "impressions"], groupings).plan(  # type: ignore[arg-type]
        now=World(seed=7).now, age_rules="allow"
    )[0]


def test_success_returns_the_raw_body_and_headers(
    credentials: Credentials, transport: SandboxTransport, world: World
) -> None:
    with EngagementClient(credentials, base_url=BASE, transport=transport) as client:
        raw = client.send(request_for(owned(world, "acme")), account="acme")
    assert raw.status_code == 200
    assert set(raw.json()["per_tweet"]) == set(owned(world, "acme"))
    assert "x-per-minute-remaining" in raw.headers
    assert raw.sent.startswith(b'{"tweet_ids":[')
    assert "secret" not in repr(raw).lower()


def test_403_names_the_unowned_ids(credentials: Credentials, transport: SandboxTransport, world: World) -> None:
    foreign = owned(world, "acme_support", 2)
    with (
        EngagementClient(credentials, base_url=BASE, transport=transport) as client,
        pytest.raises(ForbiddenError) as info,
    ):
        client.send(request_for(owned(world, "acme", 1) + foreign), account="acme")
    assert info.value.tweet_ids == foreign
    assert info.value.status_code == 403
    assert info.value.request["account"] == "acme"


def test_400_keeps_the_api_messages(credentials: Credentials, transport: SandboxTransport, world: World) -> None:
    protected = [t.tweet_id for t in world.tweets if t.status == "protected"][:2]
    with (
        EngagementClient(credentials, base_url=BASE, transport=transport) as client,
        pytest.raises(BadRequestError) as info,
    ):
        client.send(request_for(protected, metrics=["favorites"]), account="acme_labs")
    assert info.value.messages == ["Tweet ID(s) are unavailable"]


def test_401_with_a_wrong_secret(app: SandboxApp, transport: SandboxTransport, world: World) -> None:
    wrong = Credentials.from_mapping({**app.info(BASE), "consumer_secret": "nope"})
    with (
        EngagementClient(wrong, base_url=BASE, transport=transport) as client,
        pytest.raises(AuthenticationError) as info,
    ):
        client.send(request_for(owned(world, "acme")), account="acme")
    assert "Invalid signature" in str(info.value)
    assert "nope" not in str(info.value)


def test_429_carries_the_reset_time(world: World) -> None:
    app = SandboxApp(world, rate_limit_per_minute=1)
    creds = Credentials.from_mapping(app.info(BASE))
    with EngagementClient(creds, base_url=BASE, transport=SandboxTransport(app)) as client:
        client.send(request_for(owned(world, "acme")), account="acme")
        with pytest.raises(RateLimitError) as info:
            client.send(request_for(owned(world, "acme")), account="acme")
    assert info.value.reset_at is not None
    assert info.value.reset_at > datetime.now(UTC)


@pytest.mark.parametrize(("fault", "error"), [("drop_rate", APIConnectionError), ("truncate_rate", APIConnectionError)])
def test_dropped_and_truncated_answers_are_connection_errors(world: World, fault: str, error: type[Exception]) -> None:
    app = SandboxApp(world, faults=FaultConfig(**{fault: 1.0}))  # type: ignore[arg-type]
    creds = Credentials.from_mapping(app.info(BASE))
    with (
        EngagementClient(creds, base_url=BASE, transport=SandboxTransport(app)) as client,
        pytest.raises(error, match="safe to retry"),
    ):
        client.send(request_for(owned(world, "acme")), account="acme")


def test_server_errors(world: World) -> None:
    app = SandboxApp(world, faults=FaultConfig(error_rate=1.0))
    creds = Credentials.from_mapping(app.info(BASE))
    with (
        EngagementClient(creds, base_url=BASE, transport=SandboxTransport(app)) as client,
        pytest.raises(ServerError) as info,
    ):
        client.send(request_for(owned(world, "acme")), account="acme")
    assert info.value.status_code in (500, 502, 503)


class _Timeout(httpx.BaseTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("too slow", request=request)


def test_timeouts(credentials: Credentials, world: World) -> None:
    with EngagementClient(credentials, base_url=BASE, transport=_Timeout()) as client, pytest.raises(APITimeoutError):
        client.send(request_for(owned(world, "acme")), account="acme")


@pytest.mark.parametrize(
    ("status", "error"),
    [(406, NotAcceptableError), (404, APIStatusError), (503, ServerError), (401, AuthenticationError)],
)
def test_status_mapping(status: int, error: type[Exception], world: World) -> None:
    raw = RawResponse(
        status, b'{"errors": ["nope"]}', {}, request_for(owned(world, "acme")), "acme", b"", datetime.now(UTC), 0.0
    )
    with pytest.raises(error, match="nope"):
        raise_for_status(raw)


def test_forbidden_id_parsing_handles_both_wordings() -> None:
    assert forbidden_ids(["Forbidden to access tweets: 1054424731825229824"]) == ["1054424731825229824"]
    older = "Forbidden to access tweets for author id 18435372: 640026211712786432, 640026277605339136"
    assert forbidden_ids([older]) == ["640026211712786432", "640026277605339136"]
    assert forbidden_ids(["Forbidden to access metrics: retweets"]) == []


def test_bearer_needs_a_token(app: SandboxApp, world: World) -> None:
    creds = Credentials.from_mapping({**app.info(BASE), "bearer_token": None})
    with (
        EngagementClient(creds, base_url=BASE, transport=SandboxTransport(app)) as client,
        pytest.raises(AuthenticationError, match="bearer token"),
    ):
        client.send(request_for(owned(world, "rival_co"), metrics=["favorites"]), account="bearer")


def test_async_client_over_loopback() -> None:
    with Sandbox(seed=7) as sandbox:
        creds = Credentials.from_mapping(sandbox.info)
        world = sandbox.app.world

        async def main() -> list[int]:
            async with AsyncEngagementClient(creds, base_url=sandbox.base_url) as client:
                answers = await asyncio.gather(
                    *(client.send(request_for(owned(world, "acme", n=k)), account="acme") for k in (1, 2, 3))
                )
            return [len(a.json()["per_tweet"]) for a in answers]

        assert asyncio.run(main()) == [1, 2, 3]
