"""per_tweet(metrics=[...]) reads, checks and pivots only the metrics asked for (#35): a comparison of one rate
needs two of a frame's eighteen. The result equals the full table narrowed to those columns, on every engine; the
filter reaches a lazy plan's scan; a name the frame does not hold is refused with the closest one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pytest

from engagement_lab import DataError
from engagement_lab.load import load_response, per_tweet

from .test_tweets import PAYLOAD

WANTED = ["engagements", "impressions"]


def test_the_metrics_asked_for_equal_the_full_table_narrowed() -> None:
    tidy = load_response(PAYLOAD, backend="polars")
    assert set(tidy["engagement_type"].unique()) > set(WANTED)
    full = per_tweet(tidy, rates=["engagement_rate"])
    want = full.select([c for c in full.columns if c in ("tweet_id", *WANTED, "engagement_rate")])
    assert per_tweet(tidy, metrics=WANTED, rates=["engagement_rate"]).equals(want)
    assert per_tweet(tidy.lazy(), metrics=WANTED, rates=["engagement_rate"]).collect().equals(want)
    pd.testing.assert_frame_equal(
        per_tweet(tidy.to_pandas(), metrics=WANTED, rates=["engagement_rate"]),
        per_tweet(tidy.to_pandas(), rates=["engagement_rate"])[want.columns],
    )
    relation = per_tweet(duckdb.from_arrow(tidy.to_arrow()), metrics=WANTED, rates=["engagement_rate"])
    got = pl.from_arrow(relation.arrow())
    assert isinstance(got, pl.DataFrame)
    assert got.cast(dict(want.schema)).equals(want)  # type: ignore[arg-type]


def test_the_filter_reaches_the_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the usual lazy load (one grain, no repeats) the metric filter is pushed into the Parquet scan of the one
    pass that reads it, and the LazyFrame returned scans nothing more."""
    from engagement_lab.load import tweets

    ids = [str(1790000000000000000 + i) for i in range(6)]
    names = ["impressions", "engagements", "likes", "replies"]
    tidy = pl.DataFrame({"tweet_id": [i for i in ids for _ in names], "engagement_type": names * len(ids),
                         "grain": "total", "grouping": "totals", "value": list(range(len(ids) * len(names)))})  # fmt: skip
    path = tmp_path / "tidy.parquet"
    tidy.write_parquet(path)
    plans: list[str] = []
    real = tweets._one_pass

    def spied(frame: pl.LazyFrame, columns: Any) -> Any:
        plans.append(frame.explain())
        return real(frame, columns)

    monkeypatch.setattr(tweets, "_one_pass", spied)
    lazy = per_tweet(pl.scan_parquet(path), metrics=WANTED)
    (plan,) = plans
    scan = plan[plan.index("Parquet SCAN") :]
    assert 'col("engagement_type").is_in(' in scan, plan
    assert "Parquet SCAN" not in lazy.explain()
    assert lazy.collect().equals(per_tweet(tidy).select(lazy.collect_schema().names()))


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        (
            ["engagements", "impresions"],
            r"metric 'impresions' is not in the tidy frame \(did you mean 'impressions'\?\); it holds \['engagements', ",
        ),
        ("impressions", r"metrics= takes a list of metric names.*got 'impressions'"),
        ([], r"metrics= takes a list of metric names"),
        ([3], r"metrics= takes a list of metric names"),
    ],
)
def test_a_metric_that_cannot_be_read_is_refused(metrics: object, message: str) -> None:
    tidy = load_response(PAYLOAD, backend="polars")
    for frame in (tidy, tidy.lazy(), duckdb.from_arrow(tidy.to_arrow())):
        with pytest.raises(DataError, match=message):
            per_tweet(frame, metrics=metrics)  # type: ignore[arg-type]


def test_a_rate_whose_counts_are_not_named_is_refused_before_reading() -> None:
    tidy = load_response(PAYLOAD, backend="polars")
    message = (r"rates=\['engagement_rate'\] needs \['impressions'\] as well, which metrics= leaves out; add them: "
               r"metrics=\['engagements', 'impressions'\]")  # fmt: skip
    for frame in (tidy, tidy.lazy(), duckdb.from_arrow(tidy.to_arrow())):
        with pytest.raises(DataError, match=message):
            per_tweet(frame, metrics=["engagements"], rates=["engagement_rate"])


def test_tweets_holding_none_of_the_metrics_are_left_out() -> None:
    """As the docstring says: a tweet with only other metrics has no row (a comparison would drop it anyway)."""
    tidy = pl.DataFrame({"tweet_id": ["1", "1", "2"], "engagement_type": ["impressions", "engagements", "url_clicks"],
                         "grain": "total", "grouping": "totals", "value": [100, 5, 3]})  # fmt: skip
    assert per_tweet(tidy)["tweet_id"].to_list() == ["1", "2"]
    assert per_tweet(tidy, metrics=WANTED)["tweet_id"].to_list() == ["1"]
    relation = per_tweet(duckdb.from_arrow(tidy.to_arrow()), metrics=WANTED)
    assert relation.arrow().read_all().column("tweet_id").to_pylist() == ["1"]
