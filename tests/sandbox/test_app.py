"""The sandbox answers like the Engagement API: statuses, headers, bodies and shapes (in-process)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from engagement_lab import catalog
from engagement_lab.sandbox import FaultConfig, SandboxApp, SandboxTransport, World

from .conftest import BASE, Poster, Wall, oauth_header

Ids = Callable[..., list[str]]
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
HOUR = re.compile(r"^\d{2}$")


def body(ids: list[str], metrics: list[str], group_by: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "tweet_ids": ids,
        "engagement_types": metrics,
        "groupings": {"g": {"group_by": group_by or ["tweet.id", "engagement.type"]}},
        **extra,
    }


class TestSuccess:
    def test_totals_user_context(self, post: Poster, ids: Ids) -> None:
        tweets = ids("acme")
        r = post("totals", body(tweets, ["impressions", "engagements", "favorites"]))
        assert r.status_code == 200
        assert r.headers["content-encoding"] == "gzip"
        data = r.json()
        assert set(data) == {"g"}
        assert set(data["g"]) == set(tweets)
        for per_metric in data["g"].values():
            assert set(per_metric) == {"impressions", "engagements", "favorites"}
            assert all(isinstance(v, str) and v.isdigit() for v in per_metric.values())
            assert int(per_metric["engagements"]) <= int(per_metric["impressions"])

    def test_bearer_reads_public_metrics_of_any_tweet(self, post: Poster, ids: Ids) -> None:
        tweets = ids("rival_co") + ids("acme", n=1)
        r = post(
            "totals",
            body(tweets, ["favorites", "retweets", "quote_tweets", "replies", "video_views"]),
            as_="bearer",
        )
        assert r.status_code == 200
        assert set(r.json()["g"]) == set(tweets)

    def test_rate_limit_headers_on_every_engagement_response(self, post: Poster, ids: Ids) -> None:
        r = post("totals", body(ids("acme"), ["favorites"]))
        assert r.headers[catalog.HEADER_LIMIT] == "1000"
        assert r.headers[catalog.HEADER_REMAINING] == "999"
        assert int(r.headers[catalog.HEADER_RESET]) % 60 == 0

    def test_28hr_is_hour_aligned_and_lists_zero_hours(self, post: Poster, ids: Ids, world: World) -> None:
        r = post("28hr", body(ids("acme", n=1), ["impressions"], list(catalog.FOUR_ITEM_ORDERS[0])))
        data = r.json()
        assert (data["start"], data["end"]) == ("2026-05-31T08:00:00Z", "2026-06-01T12:00:00Z")
        (per_type,) = data["g"].values()
        hours = [(d, h) for d, hh in per_type["impressions"].items() for h in hh]
        assert len(hours) == 28
        assert hours[0] == ("2026-05-31", "08")
        assert hours[-1] == ("2026-06-01", "11")

    def test_historical_echoes_window(self, post: Poster, ids: Ids) -> None:
        r = post(
            "historical",
            body(ids("acme", n=1), ["impressions"], start="2026-05-01", end="2026-05-03T07:20:00Z"),
        )
        assert (r.json()["start"], r.json()["end"]) == ("2026-05-01T00:00:00Z", "2026-05-03T08:00:00Z")


LEGAL_ORDERS = [
    list(p)
    for n in (1, 2, 3)
    for p in itertools.permutations(catalog.GROUP_BY_VALUES, n)
    if not ("engagement.hour" in p and "engagement.day" in p and p.index("engagement.hour") < p.index("engagement.day"))
] + [list(o) for o in catalog.FOUR_ITEM_ORDERS]


def _leaves(node: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], int]]:
    if isinstance(node, str):
        return [(path, int(node))]
    return [leaf for key, child in node.items() for leaf in _leaves(child, (*path, key))]


@pytest.mark.parametrize("group_by", LEGAL_ORDERS, ids=lambda g: ",".join(x.split(".")[1] for x in g))
def test_every_group_by_order_nests_and_sums_consistently(post: Poster, ids: Ids, group_by: list[str]) -> None:
    tweets = ids("acme", n=2)
    metrics = ["impressions", "favorites"]
    request = {
        "tweet_ids": tweets,
        "engagement_types": metrics,
        "start": "2026-05-20T05:00:00Z",
        "end": "2026-05-22T17:00:00Z",
        "groupings": {"shape": {"group_by": group_by}, "grand": {"group_by": ["engagement.type"]}},
    }
    data = post("historical", request).json()
    leaves = _leaves(data["shape"])
    for path, _ in leaves:
        assert len(path) == len(group_by)
        for dim, key in zip(group_by, path, strict=True):
            expected = {
                "tweet.id": lambda k: k in tweets,
                "engagement.type": lambda k: k in metrics,
                "engagement.day": lambda k: bool(DAY.match(k)),
                "engagement.hour": lambda k: bool(HOUR.match(k)) and 0 <= int(k) <= 23,
            }[dim]
            assert expected(key), (dim, key)
    if "engagement.type" in group_by:
        pos = group_by.index("engagement.type")
        for metric in metrics:
            total = sum(v for p, v in leaves if p[pos] == metric)
            assert total == int(data["grand"][metric])
    else:
        assert sum(v for _, v in leaves) == sum(int(v) for v in data["grand"].values())


def test_hour_without_day_gives_hour_of_day_buckets(post: Poster, ids: Ids) -> None:
    data = post(
        "historical",
        body(ids("acme", n=1), ["impressions"], ["tweet.id", "engagement.type", "engagement.hour"]),
    ).json()
    (per_type,) = data["g"].values()
    assert sorted(per_type["impressions"]) == [f"{h:02d}" for h in range(24)]


def test_day_then_hour_variant(world: World, wall: Wall, ids: Ids) -> None:
    app = SandboxApp(world, wall=wall, hour_only="day_then_hour")
    with httpx.Client(transport=SandboxTransport(app), base_url=BASE) as client:
        url = f"{BASE}/insights/engagement/28hr"
        headers = {"Authorization": oauth_header(app, url, "acme", wall=wall), "Accept-Encoding": "gzip"}
        r = client.post(
            url,
            json=body(ids("acme", n=1), ["impressions"], ["tweet.id", "engagement.type", "engagement.hour"]),
            headers=headers,
        )
    (per_type,) = r.json()["g"].values()
    assert all(DAY.match(k) for k in per_type["impressions"])
    assert all(HOUR.match(h) for hours in per_type["impressions"].values() for h in hours)


class TestReservedKeys:
    def test_deleted_tweets_are_listed_and_the_rest_served(self, post: Poster, ids: Ids, world: World) -> None:
        deleted = next(t.tweet_id for t in world.tweets if t.status == "deleted" and t.account == "acme")
        alive = ids("acme", n=2)
        r = post("totals", body([*alive, deleted], ["favorites"]))
        assert r.status_code == 200
        data = r.json()
        assert data["unavailable_tweet_ids"] == [deleted]
        assert data["errors"] == ["1 Tweet ID(s) are unavailable"]
        assert set(data["g"]) == set(alive)

    def test_unknown_ids_are_unavailable(self, post: Poster, ids: Ids) -> None:
        data = post("totals", body([*ids("acme", n=1), "20"], ["favorites"])).json()
        assert data["unavailable_tweet_ids"] == ["20"]

    def test_old_tweets_get_unsupported_impressions(self, post: Poster, world: World) -> None:
        old = [
            t.tweet_id
            for t in world.tweets
            if t.account == "acme"
            and t.status == "ok"
            and timedelta(days=95) < world.now - t.created_at < timedelta(days=1000)
        ][:2]
        data = post("totals", body(old, ["impressions", "favorites"])).json()
        assert data["unsupported_for_impressions_engagements_tweet_ids"] == old
        assert any("older than 90 days" in e for e in data["errors"])
        assert all(data["g"][i]["impressions"] == "0" for i in old)
        assert any(int(data["g"][i]["favorites"]) > 0 for i in old)

    def test_very_old_videos_get_unsupported_video_views(self, post: Poster, world: World) -> None:
        ancient = [t.tweet_id for t in world.tweets if world.now - t.created_at > timedelta(days=1800)]
        assert len(ancient) == 3
        data = post("totals", body(ancient, ["video_views", "favorites"]), as_="bearer").json()
        assert data["unsupported_for_video_views_tweet_ids"] == ancient
        assert all(data["g"][i]["video_views"] == "0" for i in ancient)


class TestErrors:
    def test_406_without_gzip(self, post: Poster, ids: Ids) -> None:
        r = post("totals", body(ids("acme"), ["favorites"]), headers={"Accept-Encoding": "identity"})
        assert r.status_code == 406
        assert "requires gzip compression" in r.json()["errors"][0]

    @pytest.mark.parametrize(
        ("header", "reason"),
        [
            (None, "Unknown Authorization Type"),
            ("Basic abc", "Unknown Authorization Type"),
            ("Bearer nope", "Invalid or expired bearer token"),
        ],
    )
    def test_401_bad_or_missing_credentials(self, post: Poster, ids: Ids, header: str | None, reason: str) -> None:
        r = post(
            "totals",
            body(ids("acme"), ["favorites"]),
            as_=None,
            headers={"Authorization": header} if header else {},
        )
        assert r.status_code == 401
        assert r.json()["errors"] == [f"Your account could not be authenticated. Reason: {reason}"]

    def test_401_wrong_secret_stale_timestamp_replayed_nonce_unknown_token(
        self, app: SandboxApp, client: httpx.Client, wall: Wall, ids: Ids
    ) -> None:
        url = f"{BASE}/insights/engagement/totals"
        payload = body(ids("acme"), ["favorites"])

        def send(auth: str) -> httpx.Response:
            return client.post(url, json=payload, headers={"Authorization": auth, "Accept-Encoding": "gzip"})

        wrong = oauth_header(app, url, "acme", wall=wall, client_secret="not-the-secret")
        stale = oauth_header(app, url, "acme", wall=wall, timestamp=str(int(wall()) - 3600))
        unknown = oauth_header(app, url, "acme", wall=wall, resource_owner_key="999-unknown")
        fresh = oauth_header(app, url, "acme", wall=wall, nonce="fixed-nonce-1")
        assert send(wrong).json()["errors"][0].endswith("Invalid signature")
        assert send(stale).json()["errors"][0].endswith("Timestamp out of bounds")
        assert send(unknown).json()["errors"][0].endswith("Access token not found")
        assert send(fresh).status_code == 200
        replay = send(fresh)
        assert replay.status_code == 401
        assert replay.json()["errors"][0].endswith("Nonce already used")

    def test_403_unowned_tweets_are_named(self, post: Poster, ids: Ids) -> None:
        foreign = ids("rival_co", n=2) + ids("acme_support", n=1)
        r = post("totals", body([*ids("acme", n=1), *foreign], ["favorites"]))
        assert r.status_code == 403
        assert r.json()["errors"] == [f"Forbidden to access tweets: {', '.join(foreign)}"]

    def test_403_bearer_cannot_read_private_metrics(self, post: Poster, ids: Ids) -> None:
        r = post("totals", body(ids("acme"), ["impressions", "favorites"]), as_="bearer")
        assert r.status_code == 403
        assert r.json()["errors"] == ["Forbidden to access metrics: impressions"]

    def test_403_bearer_on_historical(self, post: Poster, ids: Ids) -> None:
        assert post("historical", body(ids("acme"), ["favorites"]), as_="bearer").status_code == 403

    def test_400_protected_tweets(self, post: Poster, ids: Ids) -> None:
        protected = ids("acme_labs", status="protected", n=2, min_age_h=0)
        r = post("totals", body(protected, ["favorites"]), as_="acme_labs")
        assert r.status_code == 400
        assert r.json() == {"errors": ["Tweet ID(s) are unavailable"], "unavailable_tweet_ids": protected}

    def test_400_time_grouping_on_totals_uses_the_api_wording(self, post: Poster, ids: Ids) -> None:
        r = post("totals", body(ids("acme"), ["favorites"], ["tweet.id", "engagement.hour"]))
        assert r.status_code == 400
        assert r.json()["errors"] == [
            "One or more of the groupBys you have specified are not supported: (engagement.hour). "
            "Please adjust your request and try again."
        ]

    @pytest.mark.parametrize(
        ("endpoint", "payload", "phrase"),
        [
            ("totals", b"{not json", "Invalid JSON"),
            (
                "28hr",
                {
                    "tweet_ids": [str(10**17 + i) for i in range(26)],
                    "engagement_types": ["impressions"],
                    "groupings": {"g": {"group_by": ["tweet.id"]}},
                },
                "at most 25",
            ),
            (
                "historical",
                {
                    "tweet_ids": ["20"],
                    "engagement_types": ["impressions"],
                    "groupings": {"g": {"group_by": ["tweet.id"]}},
                    "start": "2026-01-01",
                    "end": "2026-03-01",
                },
                "at most 28 days",
            ),
            (
                "totals",
                {"tweet_ids": [20], "engagement_types": ["favorites"], "groupings": {}},
                "array of strings",
            ),
            (
                "totals",
                {
                    "tweet_ids": ["20"],
                    "engagement_types": ["likes"],
                    "groupings": {"g": {"group_by": ["tweet.id"]}},
                },
                "unknown metric",
            ),
            (
                "historical",
                {
                    "tweet_ids": ["20"],
                    "engagement_types": ["impressions"],
                    "groupings": {"g": {"group_by": ["tweet.id"]}},
                    "end": "2027-01-01",
                },
                "future",
            ),
        ],
    )
    def test_400_bad_bodies(self, post: Poster, endpoint: str, payload: Any, phrase: str) -> None:
        r = post(endpoint, payload)
        assert r.status_code == 400
        assert phrase in r.json()["errors"][0]

    def test_429_past_the_per_minute_limit_then_reset(self, world: World, wall: Wall, ids: Ids) -> None:
        app = SandboxApp(world, wall=wall, rate_limit_per_minute=3)
        url = f"{BASE}/insights/engagement/totals"
        with httpx.Client(transport=SandboxTransport(app)) as client:

            def send() -> httpx.Response:
                auth = oauth_header(app, url, "acme", wall=wall)
                return client.post(
                    url,
                    json=body(ids("acme"), ["favorites"]),
                    headers={"Authorization": auth, "Accept-Encoding": "gzip"},
                )

            remaining = [send().headers[catalog.HEADER_REMAINING] for _ in range(3)]
            limited = send()
            wall.t += 60
            after = send()
        assert remaining == ["2", "1", "0"]
        assert limited.status_code == 429
        assert "rate limit" in limited.json()["errors"][0].lower()
        assert int(limited.headers[catalog.HEADER_RESET]) > wall.t - 60
        assert after.status_code == 200

    def test_404_and_405(self, client: httpx.Client) -> None:
        assert client.post("/insights/engagement/daily", json={}).status_code == 404
        assert client.get("/insights/engagement/totals").status_code == 405


class TestFaults:
    def test_faults_are_seeded_and_mapped_to_transport_errors(self, world: World, wall: Wall, ids: Ids) -> None:
        outcomes = []
        for _ in range(2):
            app = SandboxApp(world, wall=wall, faults=FaultConfig.mixed(0.6, seed=3))
            url = f"{BASE}/insights/engagement/totals"
            seen = []
            with httpx.Client(transport=SandboxTransport(app)) as client:
                for _ in range(60):
                    auth = oauth_header(app, url, "acme", wall=wall)
                    try:
                        r = client.post(
                            url,
                            json=body(ids("acme"), ["favorites"]),
                            headers={"Authorization": auth, "Accept-Encoding": "gzip"},
                        )
                        seen.append(str(r.status_code))
                    except httpx.RemoteProtocolError as exc:
                        seen.append("truncated" if "complete message body" in str(exc) else "dropped")
            outcomes.append(seen)
        assert outcomes[0] == outcomes[1]
        kinds = set(outcomes[0])
        assert {"200", "429", "truncated", "dropped"} <= kinds
        assert kinds & {"500", "502", "503"}

    def test_latency_uses_the_injected_sleep(self, world: World, wall: Wall, ids: Ids) -> None:
        slept: list[float] = []
        app = SandboxApp(world, wall=wall, sleep=slept.append, faults=FaultConfig(latency_ms=250))
        url = f"{BASE}/insights/engagement/totals"
        with httpx.Client(transport=SandboxTransport(app)) as client:
            auth = oauth_header(app, url, "acme", wall=wall)
            client.post(
                url,
                json=body(ids("acme"), ["favorites"]),
                headers={"Authorization": auth, "Accept-Encoding": "gzip"},
            )
        assert slept == [0.25]

    def test_bad_fault_config_is_refused(self) -> None:
        with pytest.raises(ValueError, match="sum to at most 1"):
            FaultConfig(error_rate=0.8, drop_rate=0.5)


def test_tweets_csv_keeps_ids_as_text(client: httpx.Client, world: World) -> None:
    text = client.get("/sandbox/tweets.csv").text
    header, first, *_ = text.splitlines()
    assert header.split(",")[:3] == ["tweet_id", "account", "created_at"]
    assert first.split(",")[0] == world.tweets[0].tweet_id
    assert len(text.splitlines()) == len(world.tweets) + 1


def test_ground_truth_endpoint(client: httpx.Client) -> None:
    truth = client.get("/sandbox/ground_truth.json").json()
    assert truth["ab_campaign"]["true_lift"] == pytest.approx(0.2)
