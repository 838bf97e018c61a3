"""The small public helpers the notebooks use instead of the sandbox's internals: ``datasets.sample`` (a fresh
world's totals, confounded or not) and ``Sandbox.now``."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from engagement_lab import Sandbox, compare, per_tweet
from engagement_lab.datasets import Sample, load_sample, sample
from engagement_lab.errors import ConfigError
from engagement_lab.sandbox import AcceleratedClock, SandboxApp, World
from engagement_lab.timeseries import posting_time


@pytest.fixture(scope="module")
def confounded() -> Sample:
    return sample(confounded=True, backend="polars")


def test_sample_fetches_every_counted_tweet_of_the_confounded_world(confounded: Sample) -> None:
    world = World(7, confounded=True)
    counted = {t.tweet_id for t in world.tweets if t.status == "ok"}
    tweets = per_tweet(confounded.tidy, metadata=confounded.metadata)
    assert set(tweets["tweet_id"]) == counted
    assert confounded.tidy["retrieved_at"].unique().to_list() == [world.now]  # the world's clock: reproducible
    assert confounded.path is None
    assert confounded.ground_truth == world.ground_truth()
    # the totals are the world's own: one tweet's impressions, summed from its hourly series up to now
    # impressions are served to the owner only, and for tweets of the last 90 days
    one = next(
        t
        for t in world.tweets
        if t.status == "ok" and t.account == "acme" and world.now - t.created_at < timedelta(days=90)
    )
    hours = int((world.now - one.created_at.replace(minute=0, second=0, microsecond=0)) / timedelta(hours=1))
    expected = int(world.series(one)[0, :hours].sum())
    assert tweets.filter(pl.col("tweet_id") == one.tweet_id)["impressions"].item() == expected


def test_the_confounded_sample_is_confounded_and_adjusting_recovers_the_truth(confounded: Sample) -> None:
    tweets = per_tweet(confounded.tidy, metadata=confounded.metadata, rates=["engagement_rate"])
    owned = posting_time(tweets.filter(pl.col("campaign").is_null(), pl.col("impressions").is_not_null()))
    truth = confounded.ground_truth["confounded"]["true_rate_ratio_vs_text"]
    result = compare(
        owned,
        metric="engagement_rate",
        by="content_type",
        control="text",
        adjust_for=["account", "hour_of_day", "weekday"],
    )
    raw = {r.treatment: r.rel_lift for r in result.unadjusted.rows}
    adjusted = {r.treatment: r for r in result.rows}
    assert raw["video"] > 2 * (truth["video"] - 1)  # the raw lift is far from the truth: the world is confounded
    for name, row in adjusted.items():
        assert row.rel_ci_low <= truth[name] - 1 <= row.rel_ci_high, name


def test_sample_is_not_the_bundled_files_but_the_same_world() -> None:
    fresh = sample(backend="pandas")
    bundled = load_sample(backend="pandas", path="data/sample")
    assert fresh.ground_truth == bundled.ground_truth
    assert list(fresh.metadata.columns) == list(bundled.metadata.columns)
    assert type(fresh.tidy) is type(bundled.tidy)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"backend": "polar"}, "did you mean 'polars'"), ({"confounded": "yes"}, "confounded must be True or False")],
)
def test_sample_refuses_bad_options(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        sample(**options)  # type: ignore[arg-type]


def test_sandbox_now_is_the_world_clock() -> None:
    box = Sandbox(seed=7)
    assert box.now == World(7).now
    moving = Sandbox(SandboxApp(World(7), clock=AcceleratedClock(World(7).now, speed=3600.0)))
    assert moving.now > World(7).now - timedelta(seconds=1)
