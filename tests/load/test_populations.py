"""per_tweet: one population per row (issue #29), source tags only from the registry, overlap advice that fits."""

from __future__ import annotations

import copy
import warnings
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pytest

from engagement_lab import DataError
from engagement_lab.load import load_analytics, load_analytics_csv, load_response, load_v2, per_tweet
from engagement_lab.load.tweets_population import tag_populations

from .conftest import frame_rows
from .test_sources import ACTIVITY_HEADER, activity_row

OWNED = "1243191980982747137"
OLD = "1460323737035677698"
# a GET /2/tweets?tweet.fields=public_metrics,non_public_metrics,organic_metrics answer (user context)
V2 = {
    "data": [
        {
            "id": OWNED,
            "text": "launch",
            "created_at": "2026-05-20T09:00:00.000Z",
            "public_metrics": {
                "retweet_count": 5239,
                "reply_count": 310,
                "like_count": 17168,
                "quote_count": 150,
                "bookmark_count": 90,
                "impression_count": 912345,
            },
            "non_public_metrics": {
                "impression_count": 912345,
                "url_link_clicks": 40,
                "user_profile_clicks": 12,
                "engagements": 3300,
            },
            "organic_metrics": {
                "impression_count": 250000,
                "like_count": 1244,
                "reply_count": 50,
                "retweet_count": 300,
                "url_link_clicks": 20,
                "user_profile_clicks": 6,
            },
            "attachments": {"media_keys": ["7_1790000000000000001"]},
        }
    ],
    "includes": {
        "media": [
            {
                "media_key": "7_1790000000000000001",
                "type": "video",
                "public_metrics": {"view_count": 8000},
                "organic_metrics": {"view_count": 7000, "playback_0_count": 6500, "playback_100_count": 900},
            }
        ]
    },
}
# an older tweet: only public_metrics come back (non-public ones are served for 30 days)
V2_OLD = {
    "data": [
        {
            "id": OLD,
            "public_metrics": {
                "retweet_count": 9,
                "reply_count": 2,
                "like_count": 120,
                "quote_count": 1,
                "bookmark_count": 3,
                "impression_count": 5400,
            },
        }
    ]
}


def _by_tweet(frame: Any) -> dict[str, dict[str, Any]]:
    return {r["tweet_id"]: r for r in frame_rows(frame)}


def test_a_v2_row_takes_every_metric_from_one_population(backend: str) -> None:
    tidy = load_v2(V2, backend=backend)  # type: ignore[arg-type]
    row = _by_tweet(per_tweet(tidy))[OWNED]
    # organic likes (1,244) beside organic retweets (300), never beside public retweets (5,239)
    assert row["population"] == "organic"
    assert (row["impressions"], row["favorites"], row["retweets"], row["replies"]) == (250000, 1244, 300, 50)
    assert row.get("bookmarks") is None
    assert row.get("quote_tweets") is None
    assert row["video_views"] == 7000  # the media's organic counts belong to the post's population


@pytest.mark.parametrize(
    ("population", "expected"),
    [
        ("public", {"impressions": 912345, "favorites": 17168, "retweets": 5239, "bookmarks": 90, "video_views": 8000}),
        ("non_public", {"impressions": 912345, "url_clicks": 40, "engagements": 3300, "favorites": None}),
        ("organic", {"impressions": 250000, "favorites": 1244, "retweets": 300, "url_clicks": 20}),
    ],
)
def test_a_chosen_population_gives_its_own_counts_on_every_engine(population: str, expected: dict[str, Any]) -> None:
    tidy = load_v2(V2, backend="polars")
    for frame in (tidy, tidy.to_pandas(), tidy.lazy(), duckdb.from_arrow(tidy.to_arrow())):
        got = per_tweet(frame, population=population)
        got = got.collect() if isinstance(got, pl.LazyFrame) else got
        got = got.pl() if isinstance(got, duckdb.DuckDBPyRelation) else got
        row = _by_tweet(got)[OWNED]
        assert row["population"] == population, type(frame)
        assert {k: row.get(k) for k in expected} == expected, type(frame)


def test_tweets_of_different_populations_are_named_in_a_warning() -> None:
    tidy = pl.concat([load_v2(V2, backend="polars"), load_v2(V2_OLD, backend="polars")], how="diagonal_relaxed")
    with pytest.warns(UserWarning, match=r"different populations \(organic: 1, public: 1 tweets"):
        rows = _by_tweet(per_tweet(tidy))
    assert (rows[OWNED]["population"], rows[OLD]["population"]) == ("organic", "public")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        public = _by_tweet(per_tweet(tidy, population="public"))
    assert (public[OWNED]["favorites"], public[OLD]["favorites"]) == (17168, 120)
    with pytest.warns(UserWarning, match=rf"1 of 2 tweets have no organic counts and are left out.*{OLD}"):
        organic = _by_tweet(per_tweet(tidy, population="organic"))
    assert list(organic) == [OWNED]


def test_a_population_the_frame_lacks_or_misspelt_is_refused() -> None:
    tidy = load_v2(V2_OLD, backend="polars")
    with pytest.raises(DataError, match=r"population='publc' is not an option \(did you mean 'public'\?\)"):
        per_tweet(tidy, population="publc")
    with pytest.raises(DataError, match=r"holds no promoted counts; it holds \['public'\]"):
        per_tweet(tidy, population="promoted")


def test_exports_and_engagement_api_frames_keep_their_numbers(tmp_path: Path) -> None:
    path = tmp_path / "tweet_activity_metrics_acme_20211201_20211231_en.csv"
    rows = [ACTIVITY_HEADER.format(likes="likes"), activity_row("1475868143409717251", "promo", True)]
    path.write_text("\n".join(rows) + "\n")
    export = _by_tweet(per_tweet(load_analytics_csv(path)))["1475868143409717251"]
    assert (export["population"], export["impressions"], export["favorites"]) == ("export", 3423, 7)
    paid = _by_tweet(per_tweet(load_analytics_csv(path), population="export_promoted"))["1475868143409717251"]
    assert (paid["population"], paid["impressions"], paid["favorites"]) == ("export_promoted", 1000, 20)
    answer = {"perTweetMetricsOwned": {OWNED: {"impressions": "5512", "favorites": "21"}}}
    plain = per_tweet(load_response(answer))
    assert "population" not in plain.columns
    assert plain["impressions"].tolist() == [5512]
    asked = per_tweet(load_response(answer), population="engagement")
    assert asked[["population", "impressions"]].to_dict("records") == [
        {"population": "engagement", "impressions": 5512}
    ]


def test_an_unknown_source_tag_is_refused_not_ranked_last() -> None:
    tidy = load_v2(V2, backend="polars").with_columns(
        pl.col("source").replace("v2.organic_metrics", "v2.organic_metric")
    )
    for frame in (tidy, tidy.lazy(), duckdb.from_arrow(tidy.to_arrow())):
        with pytest.raises(DataError) as info:
            per_tweet(frame)
        message = str(info.value)
        assert "source 'v2.organic_metric' is not a registered source tag" in message
        assert "did you mean 'v2.organic_metrics'?" in message
        assert "'v2.public_metrics'" in message
        assert "'analytics_csv.promoted'" in message


def test_every_tag_the_loaders_emit_is_registered(tmp_path: Path) -> None:
    path = tmp_path / "tweet_activity_metrics_acme_20211201_20211231_en.csv"
    path.write_text("\n".join([ACTIVITY_HEADER.format(likes="likes"), activity_row("1", "a", True)]) + "\n")
    promoted = copy.deepcopy(V2)
    promoted["data"][0]["promoted_metrics"] = promoted["data"][0]["organic_metrics"]
    promoted["includes"]["media"][0]["promoted_metrics"] = {"view_count": 1000}
    promoted["includes"]["media"][0]["non_public_metrics"] = {"playback_0_count": 1}
    analytics = {
        "data": [
            {"id": OWNED, "timestamped_metrics": [{"timestamp": "2026-05-20T10:00:00Z", "metrics": {"likes": 7}}]},
            {"media_key": "7_1790000000000000001", "timestamped_metrics": [
                {"timestamp": "2026-05-20T10:00:00Z", "metrics": {"video_views": 70}}]},
        ]
    }  # fmt: skip
    frames = [load_v2(promoted, backend="polars"), load_analytics_csv(path, backend="polars")]
    frames.append(load_analytics(analytics, backend="polars"))
    emitted = set(pl.concat([f.select("source") for f in frames])["source"].to_list())
    assert len(emitted) == 12  # every v2 section, post and media; both analytics kinds; both export kinds
    known = tag_populations()
    assert emitted <= set(known)
    assert {known[t][0] for t in emitted} == {"public", "non_public", "organic", "promoted", "analytics", "export",
                                             "export_promoted"}  # fmt: skip


def _window_rows(starts: list[date], ends: list[date], values: list[int]) -> pl.DataFrame:
    """Daily /historical rows of one tweet's favorites on 2026-05-02, one per archived window."""
    n = len(values)
    at = [datetime(d.year, d.month, d.day, tzinfo=UTC) for d in starts]
    to = [datetime(d.year, d.month, d.day, tzinfo=UTC) for d in ends]
    return pl.DataFrame(
        {
            "tweet_id": [OWNED] * n, "engagement_type": ["favorites"] * n, "grain": ["day"] * n,
            "day": [date(2026, 5, 2)] * n, "hour": [None] * n, "timestamp": [None] * n, "value": values,
            "grouping": ["g"] * n, "endpoint": ["historical"] * n, "window_start": at, "window_end": to,
            "retrieved_at": [datetime(2026, 5, 10, h, tzinfo=UTC) for h in range(n)],
            "source_file": [f"archive/historical-{i}.json" for i in range(n)],
        },
        schema_overrides={"hour": pl.Int8, "timestamp": pl.Datetime("us", "UTC"), "day": pl.Date},
    )  # fmt: skip


def test_overlap_advice_tells_separate_loads_from_overlapping_windows() -> None:
    # one load keeps one of two equal windows; two equal windows mean two loads glued together
    glued = _window_rows([date(2026, 5, 1)] * 2, [date(2026, 5, 3)] * 2, [4, 5])
    with pytest.raises(DataError) as separate:
        per_tweet(glued)
    assert "loaded separately" in str(separate.value)
    assert "Load the files together in one call" in str(separate.value)
    twice = pl.concat([load_v2(V2_OLD, backend="polars"), load_v2(V2_OLD, backend="polars")])
    with pytest.raises(DataError, match="loaded separately"):
        per_tweet(twice)
    # two windows of one archive that share May 2nd: loading them together again would not help
    overlapping = _window_rows([date(2026, 5, 1), date(2026, 5, 2)], [date(2026, 5, 3), date(2026, 5, 4)], [4, 5])
    with pytest.raises(DataError) as windows:
        per_tweet(overlapping)
    message = str(windows.value)
    assert "loaded together" in message
    assert "windows overlap" in message
    assert "Load the files together" not in message
    assert "archive/historical-0.json" in message
    assert per_tweet(pd.DataFrame(overlapping.to_pandas()), keep="latest")["favorites"].tolist() == [5]


def test_metrics_only_another_population_counts_are_named() -> None:
    """organic_metrics has no bookmarks or quotes: the organic row goes without them, and says where they are."""
    with pytest.warns(UserWarning, match=r"bookmarks \(in public\), engagements \(in non_public\), quote_tweets \(in public\) "
                      r"are not counted by the population the rows take \(organic\).*"
                      r"population='public'"):  # fmt: skip
        per_tweet(load_v2(V2))


def test_compare_refuses_tweets_of_different_populations() -> None:
    from engagement_lab import StatsInputError, compare

    tidy = pl.concat([load_v2(V2, backend="polars"), load_v2(V2_OLD, backend="polars")], how="diagonal_relaxed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mixed = per_tweet(tidy).with_columns(arm=pl.Series(["a", "b"]))
    with pytest.raises(StatsInputError, match=r"different populations \((organic|public): 1, (organic|public): 1 tweets\).*"
                       r"per_tweet\(tidy, population=\.\.\.\)"):  # fmt: skip
        compare(mixed, metric="favorites", by="arm")
