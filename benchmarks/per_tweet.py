"""per_tweet benchmark: 10 million tidy hourly rows (shaped like a load_archive result, with provenance).

Ratio, measured in the same run: per_tweet / a plain polars ``group_by(tweet, metric).sum()`` then ``pivot``
(which checks nothing: not the ids, not the grain or source priority, not repeated observations) on the same
frame, best of 5 each, taking turns. Target <= 2x. The rows are laid out as one answer (tweet by tweet, hours
increasing), where per_tweet proves no repeats in the pass it makes anyway; as two answers per tweet, oldest
first, and as three answers in neither order (both proved from the stretches' first and last times); and sorted
by tweet and hour with the metrics interleaved (stretches of one row: the hash sort of every row decides).
Also: a LazyFrame in gives a LazyFrame out, and its collected result equals the eager one.

Run: .venv/bin/python benchmarks/per_tweet.py [--rows N]
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
from timing import best, taking_turns  # benchmarks/timing.py, beside this script

from engagement_lab import catalog, per_tweet


def tidy_rows(rows: int, seed: int = 0) -> pl.DataFrame:
    """``rows`` hourly rows: tweets x 17 metrics x 24 hours, from one /historical window each."""
    metrics = list(catalog.ENDPOINTS["historical"].metrics)
    per_tweet_rows = len(metrics) * 24
    tweets = max(1, rows // per_tweet_rows)
    rng = np.random.default_rng(seed)
    ids = (1_790_000_000_000_000_000 + np.arange(tweets) * 4_194_304).astype(str)
    start = datetime(2026, 5, 1, tzinfo=UTC)
    n = tweets * per_tweet_rows
    hour = np.tile(np.arange(24, dtype=np.int8), tweets * len(metrics))
    return pl.DataFrame(
        {
            "tweet_id": np.repeat(ids, per_tweet_rows),
            "engagement_type": np.tile(np.repeat(metrics, 24), tweets),
            "hour": hour,
            "value": rng.poisson(3, n).astype(np.int64),
        }
    ).select(
        "tweet_id",
        "engagement_type",
        grain=pl.lit("hour"),
        day=pl.lit(start.date()),
        hour="hour",
        timestamp=pl.lit(start) + pl.duration(hours=pl.col("hour")),
        value="value",
        grouping=pl.lit("hourly"),
        endpoint=pl.lit("historical"),
        window_start=pl.lit(start),
        window_end=pl.lit(start + timedelta(days=1)),
        retrieved_at=pl.lit(start + timedelta(days=2)),
    )


def plain(tidy: pl.DataFrame) -> pl.DataFrame:
    sums = tidy.group_by("tweet_id", "engagement_type").agg(pl.sum("value"))
    return sums.pivot(on="engagement_type", index="tweet_id", values="value")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    tidy = tidy_rows(args.rows)
    lazy = per_tweet(tidy.lazy())
    assert isinstance(lazy, pl.LazyFrame)
    eager = per_tweet(tidy, backend="polars")
    assert isinstance(eager, pl.DataFrame)
    assert lazy.collect().equals(eager)
    hour = pl.col("hour")
    layouts = {
        "one answer": tidy,
        # two answers' windows of every tweet (hours 0-11, then 12-23): each tweet and metric is two stretches of
        # rows, proved apart from their first and last times
        "two answers, oldest first (proved from the stretches)": pl.concat(
            [tidy.filter(hour < 12), tidy.filter(hour >= 12)]
        ),
        # three answers in neither order (hours 8-15, 0-7, 16-23): proved the same way
        "three answers in neither order (proved from the stretches)": pl.concat(
            [tidy.filter(hour.is_between(8, 15)), tidy.filter(hour < 8), tidy.filter(hour > 15)]
        ),
        # a stretch is one row when the metrics are interleaved: the hash sort of every row decides
        "sorted by tweet and hour, metrics interleaved (the hash sort decides)": tidy.sort(
            "tweet_id", "hour", maintain_order=True
        ),
    }
    print(f"per_tweet on {tidy.height:,} tidy rows ({eager.height:,} tweets) / a plain group_by + pivot of the same")
    print("frame, best of 5 each, taking turns (target <= 2x):")
    for name, frame in layouts.items():
        assert per_tweet(frame, backend="polars").equals(eager)  # type: ignore[union-attr]
        t_plain, t_ours = taking_turns([lambda f=frame: plain(f), lambda f=frame: per_tweet(f, backend="polars")], 5)
        print(f"  {name}: {t_ours:.2f}s / {t_plain:.2f}s -> {t_ours / t_plain:.2f}x")
    t_lazy = best(lambda: per_tweet(tidy.lazy()).collect())  # type: ignore[union-attr]
    print(f"LazyFrame in, LazyFrame out: collected in {t_lazy:.2f}s, equal to the eager result")


if __name__ == "__main__":
    main()
