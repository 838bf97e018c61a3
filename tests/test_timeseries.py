"""Time-series analytics on sandbox series, where the world generator gives the answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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


def _hours(first: int, values: list[int]) -> dict[str, dict[str, str]]:
    """An Engagement API hourly series on 2026-05-04 from hour ``first``, zero buckets listed as the API lists them."""
    return {"2026-05-04": {f"{first + i:02d}": str(v) for i, v in enumerate(values)}}


COVERAGE_META = pl.DataFrame(
    {
        "tweet_id": ["1", "2", "3", "4", "5"],
        "created_at": [
            "2026-05-04T10:30:00Z",  # 1: posted before the data begin (12:00)
            "2026-05-04T14:10:00Z",  # 2: posted mid-window
            "2026-05-04T22:00:00Z",  # 3: posted after the data end (20:00)
            "2026-05-04T14:00:00Z",  # 4: mid-window, never seen
            "2026-05-04T11:00:00Z",  # 5: before its first row, but inside its fetch window
        ],
    }
)


def _coverage_tidy() -> pl.DataFrame:
    series = {
        "1": _hours(12, [50, 20, 10, 5, 5, 5, 5, 0, 0]),
        "2": _hours(12, [0, 0, 40, 30, 20, 10, 0, 0, 0]),
        "3": _hours(12, [0] * 9),
        "4": _hours(12, [0] * 9),
    }
    tidy = load_response({"hourly": {t: {"impressions": s} for t, s in series.items()}}, backend="polars")
    late_first_row = load_response({"hourly": {"5": {"impressions": _hours(13, [8, 8, 0])}}}, backend="polars")
    window = {"window_start": datetime(2026, 5, 4, 10, tzinfo=UTC), "window_end": datetime(2026, 5, 4, 21, tzinfo=UTC)}
    return pl.concat([tidy, late_first_row.with_columns(**{k: pl.lit(v) for k, v in window.items()})], how="diagonal")


def test_no_number_is_made_up_for_hours_the_data_do_not_cover() -> None:
    tidy = _coverage_tidy()
    lives = half_life(tidy, COVERAGE_META).sort("tweet_id")
    assert lives["half_life_hours"].to_list() == [None, 2, None, None, 3]
    assert lives["reason"].to_list() == [
        "posted before its data begin",  # its first two hours, most of its reach, are not in the data
        None,
        "posted after its data end",
        "no impressions observed",
        None,  # the fetch window began before its posting: hours 0-1 are zeros, not unknowns
    ]
    assert lives["age_at_data_end"].to_list() == [11, 7, None, 7, 5]
    curves = by_age(tidy, COVERAGE_META, metric="impressions", max_hours=1000)
    two = curves.filter(pl.col("tweet_id") == "2")
    assert two["age_hours"].to_list() == list(range(7))  # 14:00 to 20:00; nothing after the data end
    assert two["share"][-1] == pytest.approx(1.0)
    one = curves.filter(pl.col("tweet_id") == "1")
    assert one["age_hours"].min() == 2  # its data begin at age 2: no zeros made up for ages 0-1
    assert one["cumulative"].null_count() == one.height
    assert one["share"].null_count() == one.height
    assert not one["from_posting"].any()
    assert curves.filter(pl.col("tweet_id") == "4")["share"].null_count() == 7  # 0/0 is not a share
    assert curves.filter(pl.col("tweet_id") == "5")["value"].to_list() == [0, 0, 8, 8, 0]
    assert curves.filter(pl.col("tweet_id") == "3").height == 0


def test_a_threshold_not_reached_by_the_end_of_the_data_is_censored() -> None:
    crossings = time_to_threshold(_coverage_tidy(), COVERAGE_META, metric="impressions", threshold=60).sort("tweet_id")
    assert crossings["hours_to_threshold"].to_list() == [None, 2, None, None, None]
    assert crossings["censored"].to_list() == [None, False, None, True, True]
    assert crossings["reason"].to_list() == [
        "posted before its data begin",
        None,
        "posted after its data end",
        "not 60 impressions by the end of its data",
        "not 60 impressions by the end of its data",
    ]
    with pytest.raises(DataError, match="threshold must be a whole number"):
        time_to_threshold(_coverage_tidy(), COVERAGE_META, threshold=0)
