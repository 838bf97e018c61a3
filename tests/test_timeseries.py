"""Time-series analytics on sandbox series, where the world generator gives the answer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engagement_lab import DataError, EngagementQuery, load_analytics, load_archive, load_response, per_tweet
from engagement_lab.api import Credentials, fetch
from engagement_lab.sandbox import SandboxApp, SandboxTransport, World
from engagement_lab.sandbox.world import METRICS
from engagement_lab.timeseries import by_age, daily, half_life, hour_weekday_profile, time_to_threshold
from engagement_lab.timeutil import floor_hour

WORLD = World(seed=7)
# tweets old enough that 60 days of life are observed, spanning several 28-day windows
TWEETS = [
    t
    for t in WORLD.tweets
    if t.account == "acme" and t.status == "ok" and timedelta(days=62) < WORLD.now - t.created_at < timedelta(days=88)
][:6]
ROW = {m: i for i, m in enumerate(METRICS)}


def life(tweet: object, metric: str) -> np.ndarray:
    """The world's hourly series from posting to now (zeros after the active horizon)."""
    hours = int((floor_hour(WORLD.now) - floor_hour(tweet.created_at)) / timedelta(hours=1))  # type: ignore[attr-defined]
    series = WORLD.series(tweet)[ROW[metric], :hours]  # type: ignore[arg-type]
    return np.concatenate([series, np.zeros(hours - len(series), dtype=series.dtype)])


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ts")
    app = SandboxApp(WORLD, rate_limit_per_minute=100_000)
    start = min(t.created_at for t in TWEETS) - timedelta(hours=3)
    query = EngagementQuery(
        "historical", [t.tweet_id for t in TWEETS], ["impressions", "favorites"], "hourly", start=start, end=WORLD.now
    )
    result = fetch(
        query,
        credentials=Credentials.from_mapping(app.info("https://x")),
        out=out,
        owners=dict.fromkeys([t.tweet_id for t in TWEETS], "acme"),
        base_url="https://x",
        transport=SandboxTransport(app),
        now=WORLD.now,
        progress=False,
    )
    assert result.ok
    assert result.requests > 3  # the history is stitched from several 28-day windows
    return out


@pytest.fixture(scope="module")
def metadata() -> pl.DataFrame:
    return pl.DataFrame([t.metadata() for t in TWEETS])


@pytest.mark.parametrize("backend", ["pandas", "polars"])
def test_by_age_matches_the_world_series(archive: Path, metadata: pl.DataFrame, backend: str) -> None:
    tidy = load_archive(archive, backend=backend)  # type: ignore[arg-type]
    curves = pl.from_pandas(by_age(tidy, metadata.to_pandas())) if backend == "pandas" else by_age(tidy, metadata)
    for t in TWEETS:
        curve = curves.filter((pl.col("tweet_id") == t.tweet_id) & (pl.col("engagement_type") == "impressions")).sort(
            "age_hours"
        )
        expected = life(t, "impressions")
        assert curve.height == len(expected)  # no gaps across window boundaries, zeros kept
        assert curve["value"].to_list() == expected.tolist()
        assert curve["cumulative"][-1] == expected.sum()
        assert curve["share"][-1] == pytest.approx(1.0)


def test_half_life_and_time_to_threshold(archive: Path, metadata: pl.DataFrame) -> None:
    tidy = load_archive(archive, backend="polars")
    lives = half_life(tidy, metadata).sort("tweet_id")
    crossings = time_to_threshold(tidy, metadata, metric="favorites", threshold=20).sort("tweet_id")
    for t in sorted(TWEETS, key=lambda t: t.tweet_id):
        impressions = life(t, "impressions").cumsum()
        expected_half = int(np.argmax(impressions >= impressions[-1] / 2)) + 1
        assert lives.filter(pl.col("tweet_id") == t.tweet_id)["half_life_hours"][0] == expected_half
        favorites = life(t, "favorites").cumsum()
        got = crossings.filter(pl.col("tweet_id") == t.tweet_id)
        if favorites[-1] >= 20:
            hour = int(np.argmax(favorites >= 20)) + 1
            assert got["hours_to_threshold"][0] == hour
            assert got["crossed_at"][0] == floor_hour(t.created_at) + timedelta(hours=hour)
        else:
            assert got["hours_to_threshold"][0] is None
    assert lives["half_life_hours"].max() < 48  # most reach comes early, as posted tweets decay


def test_hour_weekday_profile_and_daily(archive: Path) -> None:
    tidy = load_archive(archive, backend="polars")
    profile = hour_weekday_profile(tidy, tz="America/New_York")
    assert profile.height == 7 * 24
    assert profile["share"].sum() == pytest.approx(1.0)
    assert profile["weekday"][0] == "Mon"
    evening = profile.filter(pl.col("hour").is_between(12, 20))["value"].sum()
    night = profile.filter(pl.col("hour").is_between(0, 6))["value"].sum()
    assert evening > night  # acme posts in UTC-5 and its audience sleeps at night
    days = daily(tidy, metric="impressions")
    hourly_total = tidy.filter((pl.col("engagement_type") == "impressions") & (pl.col("grain") == "hour"))[
        "value"
    ].sum()
    assert days["value"].sum() == hourly_total
    with pytest.raises(DataError, match="unknown time zone"):
        hour_weekday_profile(tidy, tz="Mars/Olympus")
    with pytest.raises(DataError, match="unknown time zone"):
        daily(tidy, tz="Mars/Olympus")
    # an account-level day (a daily summary export) beside the tweets' hours: kept as it is, tweet_id null, last
    account = pl.DataFrame(
        {"engagement_type": ["impressions"], "grain": ["day"], "day": [WORLD.now.date()], "value": [7]}
    )
    both = daily(pl.concat([tidy, account], how="diagonal_relaxed"), metric="impressions")
    assert both.head(days.height).equals(days)
    assert both.tail(1).rows() == [(None, "impressions", WORLD.now.date(), 7)]


def test_hours_from_two_sources_are_never_mixed(metadata: pl.DataFrame) -> None:
    """An hour of Engagement API impressions and one of X API v2 impressions count differently: per tweet and
    metric one source is used, as per_tweet chooses, never the larger of the two hour by hour."""
    tweet = TWEETS[0].tweet_id
    morning = TWEETS[0].created_at.replace(hour=3, minute=0, second=0, microsecond=0) + timedelta(days=1)
    stamps = [morning, morning + timedelta(hours=1)]  # the day after posting, 03:00 and 04:00 UTC
    hours = {f"{morning:%Y-%m-%d}": {"03": "100", "04": "10"}}
    engagement = load_response({"hourly": {tweet: {"impressions": hours}}}, backend="polars")
    buckets = [{"timestamp": f"{t:%Y-%m-%dT%H:%M:%SZ}", "metrics": {"impressions": v}} for t, v in zip(stamps, (50, 80), strict=True)]  # fmt: skip
    v2 = load_analytics({"data": [{"id": tweet, "timestamped_metrics": buckets}]}, backend="polars")
    both = pl.concat([engagement, v2], how="diagonal_relaxed")
    assert daily(both)["value"].to_list() == [110]  # not 100 + 80
    assert daily(v2)["value"].to_list() == [130]
    curve = by_age(both, metadata)
    assert curve.filter(pl.col("value") > 0)["value"].to_list() == [100, 10]
    assert per_tweet(both, backend="polars")["impressions"].to_list() == [110]  # the same choice


def test_clear_errors(metadata: pl.DataFrame) -> None:
    totals_only = pl.DataFrame(
        {"tweet_id": ["1"], "engagement_type": ["impressions"], "grain": ["total"], "timestamp": [None], "value": [5]}
    )
    with pytest.raises(DataError, match="no hourly rows"):
        by_age(totals_only, metadata)
    with pytest.raises(DataError, match="created_at"):
        by_age(totals_only, metadata.drop("created_at"))
