"""The synthetic world: deterministic, realistic where it matters, consistent across windows, true effects known."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engagement_lab import catalog
from engagement_lab.ids import tweet_created_at
from engagement_lab.sandbox import World
from engagement_lab.sandbox.world import METRICS, Tweet
from engagement_lab.timeutil import floor_hour, format_time

from .conftest import Poster

ROW = {m: i for i, m in enumerate(METRICS)}
SERIES_METRICS = list(catalog.ENDPOINTS["historical"].metrics)


def test_same_seed_same_world_other_seed_other_world(world: World) -> None:
    again = World(seed=7)
    assert [t.tweet_id for t in again.tweets] == [t.tweet_id for t in world.tweets]
    assert np.array_equal(again.series(again.tweets[42]), world.series(world.tweets[42]))
    assert [t.tweet_id for t in World(seed=8).tweets] != [t.tweet_id for t in world.tweets]


def test_ids_are_unique_snowflakes_of_their_creation_time(world: World) -> None:
    assert len(world.by_id) == len(world.tweets)
    for t in world.tweets:
        assert abs(tweet_created_at(t.tweet_id) - t.created_at) < timedelta(milliseconds=2)


def test_accounts_and_special_tweets_exist(world: World) -> None:
    owned = [a for a in world.accounts if a.owned and not a.protected]
    assert len(owned) >= 2
    assert any(not a.owned for a in world.accounts)
    ages = [world.now - t.created_at for t in world.tweets]
    assert any(timedelta(days=90) < a < timedelta(days=130) for a in ages)
    assert (
        sum(a > timedelta(days=1800) and t.content_type == "video" for a, t in zip(ages, world.tweets, strict=True))
        == 3
    )
    statuses = {t.status for t in world.tweets}
    assert statuses == {"ok", "deleted", "protected"}
    assert {t.content_type for t in world.tweets} == {"text", "image", "video", "link", "poll"}


def test_metrics_exist_only_where_they_make_sense(world: World) -> None:
    for t in world.tweets[::5]:
        s = world.series(t).sum(axis=1)
        if not t.url:
            assert s[ROW["url_clicks"]] == 0
        if not t.hashtags:
            assert s[ROW["hashtag_clicks"]] == 0
        if t.content_type != "video":
            assert s[ROW["video_views"]] == 0
        if not t.has_media:
            assert s[ROW["media_views"]] == s[ROW["media_engagements"]] == 0
        itemised = [m for m in METRICS if m not in ("impressions", "engagements", "media_views", "video_views")]
        hourly = world.series(t)
        assert (hourly[ROW["engagements"]] >= hourly[[ROW[m] for m in itemised]].sum(axis=0)).all()
        assert (hourly[ROW["engagements"]] <= hourly[ROW["impressions"]]).all()


def test_impressions_decay_after_posting_with_a_heavy_tail(world: World) -> None:
    lifetime = np.array([world.series(t)[ROW["impressions"]].sum() for t in world.tweets])
    first_day = np.array([world.series(t)[ROW["impressions"], :24].sum() for t in world.tweets])
    assert np.median(first_day / np.maximum(lifetime, 1)) > 0.6
    assert lifetime.max() > 10 * np.median(lifetime)


def _totals(post: Poster, tweet: Tweet, metrics: list[str]) -> dict[str, int]:
    body = {
        "tweet_ids": [tweet.tweet_id],
        "engagement_types": metrics,
        "groupings": {"g": {"group_by": ["engagement.type"]}},
    }
    data = post("totals", body, as_=tweet.account).json()
    return {m: int(v) for m, v in data["g"].items()}


def _hourly(
    post: Poster, tweet: Tweet, metrics: list[str], start: datetime, end: datetime
) -> dict[tuple[str, str, str], int]:
    body = {
        "tweet_ids": [tweet.tweet_id],
        "engagement_types": metrics,
        "start": format_time(start),
        "end": format_time(end),
        "groupings": {"g": {"group_by": ["engagement.type", "tweet.id", "engagement.day", "engagement.hour"]}},
    }
    data = post("historical", body, as_=tweet.account).json()
    return {
        (m, d, h): int(v)
        for m, per_id in data["g"].items()
        for per_day in per_id.values()
        for d, per_hour in per_day.items()
        for h, v in per_hour.items()
    }


def _recent(world: World) -> list[Tweet]:
    return [
        t
        for t in world.tweets
        if t.status == "ok" and world.now - t.created_at < timedelta(days=85) and world.owner(t.tweet_id).owned
    ]  # type: ignore[union-attr]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_totals_equal_the_sum_of_the_hourly_series(post: Poster, world: World, data: st.DataObject) -> None:
    tweet = data.draw(st.sampled_from(_recent(world)))
    metrics = data.draw(
        st.lists(
            st.sampled_from(["impressions", "engagements", "favorites", "retweets", "replies", "video_views"]),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    totals = _totals(post, tweet, metrics)
    start, summed = floor_hour(tweet.created_at), dict.fromkeys(metrics, 0)
    while start < world.now:
        end = min(start + catalog.MAX_WINDOW, world.now)
        for (m, _, _), v in _hourly(post, tweet, metrics, start, end).items():
            summed[m] += v
        start = end
    assert summed == totals


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_overlapping_windows_agree_on_shared_hours(post: Poster, world: World, data: st.DataObject) -> None:
    tweet = data.draw(st.sampled_from(_recent(world)))
    base = floor_hour(tweet.created_at) - timedelta(hours=6)
    latest = floor_hour(world.now) - timedelta(hours=1)
    a0, b0 = (min(base + timedelta(hours=data.draw(st.integers(0, 200))), latest) for _ in range(2))
    a1 = a0 + timedelta(hours=data.draw(st.integers(1, 300)))
    b1 = b0 + timedelta(hours=data.draw(st.integers(1, 300)))
    a1, b1 = min(a1, world.now), min(b1, world.now)
    metric = [data.draw(st.sampled_from(SERIES_METRICS))]
    first, second = _hourly(post, tweet, metric, a0, a1), _hourly(post, tweet, metric, b0, b1)
    shared = first.keys() & second.keys()
    assert len(shared) == max(0, int((min(a1, b1) - max(a0, b0)) / timedelta(hours=1)))
    assert all(first[k] == second[k] for k in shared)


def _campaign_lift(post: Poster, world: World, campaign: str) -> tuple[float, float]:
    """Ratio-of-sums lift of B over A from /totals, with its delta-method standard error."""
    arms: dict[str, list[tuple[int, int]]] = {"A": [], "B": []}
    for handle in ("acme", "acme_support"):
        tweets = [t for t in world.tweets if t.campaign == campaign and t.account == handle]
        body: dict[str, Any] = {
            "tweet_ids": [t.tweet_id for t in tweets],
            "engagement_types": ["impressions", "engagements"],
        }
        body["groupings"] = {"g": {"group_by": ["tweet.id", "engagement.type"]}}
        data = post("totals", body, as_=handle).json()["g"]
        for t in tweets:
            arms[t.variant].append((int(data[t.tweet_id]["engagements"]), int(data[t.tweet_id]["impressions"])))
    stats = {}
    for arm, rows in arms.items():
        m, d = np.array(rows, dtype=float).T
        rate = m.sum() / d.sum()
        stats[arm] = (rate, np.var(m - rate * d, ddof=1) / (len(m) * d.mean() ** 2))
    (ra, va), (rb, vb) = stats["A"], stats["B"]
    return rb / ra - 1, float(np.sqrt(vb / ra**2 + rb**2 * va / ra**4))


def test_the_true_ab_lift_is_recoverable(post: Poster, world: World) -> None:
    truth = world.ground_truth()["ab_campaign"]
    lift, se = _campaign_lift(post, world, truth["campaign"])
    assert abs(lift - truth["true_lift"]) < 2.58 * se  # within the 99% interval
    assert se < 0.1  # precise enough to tell a 20% lift from none


def test_the_aa_campaign_shows_no_lift(post: Poster, world: World) -> None:
    lift, se = _campaign_lift(post, world, world.ground_truth()["aa_campaign"]["campaign"])
    assert abs(lift) < 2.58 * se


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_content_type_rates_follow_the_ground_truth(seed: int) -> None:
    w = World(seed=seed)
    truth = w.ground_truth()["engagement_rate_by_content_type"]
    for content, rate in truth.items():
        rows = np.array(
            [
                w.series(t)[[ROW["engagements"], ROW["impressions"]]].sum(axis=1)
                for t in w.tweets
                if t.content_type == content and t.campaign != "spring_launch"
            ],
            dtype=float,
        )
        m, d = rows.T
        estimate = m.sum() / d.sum()
        se = np.sqrt(np.var(m - estimate * d, ddof=1) / (len(m) * d.mean() ** 2))
        assert abs(estimate - rate) < 3.3 * se, (content, estimate, rate, se)


def test_sample_helper_ids(ids: Callable[..., list[str]]) -> None:
    assert len(ids("acme", n=5)) == 5
