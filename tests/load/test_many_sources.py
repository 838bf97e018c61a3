"""Many files in, one truth out: overlapping exports, snapshots and twarc files never add cumulative counters."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engagement_lab import DataError, ResponseFormatError
from engagement_lab.cli import read_ids_file
from engagement_lab.errors import ConfigError
from engagement_lab.load import load_analytics_csv, load_response, load_v2, per_tweet
from engagement_lab.timeseries import daily

from .conftest import frame_rows
from .test_sources import ACTIVITY_HEADER

# Two real-shaped monthly exports of one account whose periods overlap (May 1-31 and May 15 - June 14).
SHARED, ONLY_MAY, ONLY_JUNE = "1395000000000000001", "1390000000000000002", "1400000000000000003"


def export_row(tweet_id: str, impressions: int, likes: int, promoted: int | None = None) -> str:
    organic = [f"{impressions}.0", "18.0", f"{18 / impressions}", "2.0", "1.0", f"{likes}.0"]
    organic += ["3.0", "4.0", "0.0", "1.0", "0.0", "0", "0", "0", "0", "0", "29", "5"]
    promo = [str(promoted), "4", "0.04"] + ["0"] * 15 if promoted is not None else ["-"] * 18
    fields = [tweet_id, f"https://twitter.com/acme/status/{tweet_id}", 'it\'s "new",\nreally', "2021-05-20 16:45 +0000"]
    return ",".join('"' + f.replace('"', '""') + '"' for f in [*fields, *organic, *promo])


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def exports(tmp_path: Path) -> list[Path]:
    header = ACTIVITY_HEADER.format(likes="likes")
    june = write(
        tmp_path / "tweet_activity_metrics_acme_20210515_20210614_en.csv",
        [header, export_row(SHARED, 14978, 31, promoted=500), export_row(ONLY_JUNE, 800, 2)],
    )
    may = write(
        tmp_path / "tweet_activity_metrics_acme_20210501_20210531_en.csv",
        [header, export_row(SHARED, 13900, 27, promoted=400), export_row(ONLY_MAY, 5000, 9)],
    )
    return [june, may]  # given newest first: the period end in the name decides, not the order


def test_overlapping_exports_keep_the_later_lifetime_totals(exports: list[Path], backend: str) -> None:
    tidy, report = load_analytics_csv(exports, backend=backend, report=True)  # type: ignore[call-overload]
    wide = frame_rows(per_tweet(tidy))
    by = {r["tweet_id"]: r for r in wide}
    assert by[SHARED]["impressions"] == 14978  # not 13900 + 14978 = 28878
    assert by[SHARED]["favorites"] == 31
    assert by[ONLY_MAY]["impressions"] == 5000
    assert by[ONLY_JUNE]["impressions"] == 800
    assert by[SHARED]["created_at"] == datetime(2021, 5, 20, 16, 45, tzinfo=UTC)
    promoted = [r for r in frame_rows(tidy) if r["source"] == "analytics_csv.promoted" and r["tweet_id"] == SHARED]
    assert [(r["engagement_type"], r["value"]) for r in promoted if r["engagement_type"] == "impressions"] == [
        ("impressions", 500)
    ]
    assert report.superseded == 17 + 17  # the May file's organic and promoted counts of the shared tweet
    assert report.files == tuple(str(p) for p in exports)
    assert report.conflicts == ()
    june_rows = [r for r in frame_rows(tidy) if r["tweet_id"] == SHARED]
    assert {r["source_file"] for r in june_rows} == {str(exports[0])}
    assert {r["retrieved_at"] for r in june_rows} == {datetime(2021, 6, 15, tzinfo=UTC)}


def test_a_directory_a_glob_and_file_objects_load_the_same(exports: list[Path]) -> None:
    expected = per_tweet(load_analytics_csv(exports)).to_dict("records")
    folder = exports[0].parent
    assert per_tweet(load_analytics_csv(folder)).to_dict("records") == expected
    assert per_tweet(load_analytics_csv(str(folder / "tweet_activity_*.csv"))).to_dict("records") == expected
    with exports[1].open("rb") as may, exports[0].open("rb") as june:  # file objects keep their names
        assert per_tweet(load_analytics_csv([may, june])).to_dict("records") == expected


def test_a_hand_made_concat_is_refused_not_added(exports: list[Path]) -> None:
    glued = pd.concat([load_analytics_csv(p) for p in exports], ignore_index=True)
    with pytest.raises(DataError, match=rf"same number more than once .*{SHARED}.*keep='latest'"):
        per_tweet(glued)
    latest = {r["tweet_id"]: r["impressions"] for r in per_tweet(glued, keep="latest").to_dict("records")}
    assert latest[SHARED] == 14978
    with pytest.raises(DataError, match=r"keep='lastest' is not an option \(did you mean 'latest'\?\)"):
        per_tweet(glued, keep="lastest")  # type: ignore[arg-type]


def test_overlapping_daily_exports(tmp_path: Path, backend: str) -> None:
    header = '"Date","Tweets published","impressions","engagements","likes"'
    first = write(
        tmp_path / "daily_tweet_activity_metrics_acme_20210501_20210531_en.csv",
        [header, '"2021-05-30","1","900.0","20.0","3.0"', '"2021-05-31","2","1000.0","30.0","4.0"'],
    )
    second = write(
        tmp_path / "daily_tweet_activity_metrics_acme_20210531_20210630_en.csv",
        [header, '"2021-05-31","2","1000.0","31.0","4.0"', '"2021-06-01","0","700","10","1"'],
    )
    tidy, report = load_analytics_csv([second, first], backend=backend, report=True)  # type: ignore[call-overload]
    rows = frame_rows(tidy)
    impressions = sorted((str(r["day"]), r["value"]) for r in rows if r["engagement_type"] == "impressions")
    assert impressions == [("2021-05-30", 900), ("2021-05-31", 1000), ("2021-06-01", 700)]  # the shared day once
    engagements = {str(r["day"]): r["value"] for r in rows if r["engagement_type"] == "engagements"}
    assert engagements["2021-05-31"] == 31  # the later export's value
    assert len(report.conflicts) == 1
    assert "engagements day 2021-05-31: 30" in report.conflicts[0]
    assert "31 (" in report.conflicts[0]
    assert "kept the latest" in report.conflicts[0]
    with pytest.raises(DataError, match=r"no tweets.*account-level.*timeseries.daily"):
        per_tweet(tidy)
    # where that refusal points: the account's days, as exported, the shared day once (the later export's)
    days = frame_rows(daily(tidy))
    assert {r["tweet_id"] for r in days} == {None}
    assert [(str(r["day"]), r["value"]) for r in days if r["engagement_type"] == "engagements"] == [
        ("2021-05-30", 20), ("2021-05-31", 31), ("2021-06-01", 10)
    ]  # fmt: skip
    assert [r["value"] for r in frame_rows(daily(tidy, metric="impressions"))] == [900, 1000, 700]
    with pytest.raises(DataError, match=r"tz='Europe/Berlin'.*calendar days as exported"):
        daily(tidy, tz="Europe/Berlin")
    glued = pd.concat([load_analytics_csv(f, backend="pandas") for f in (first, second)], ignore_index=True)
    with pytest.raises(DataError, match=r"8 account-level day rows .* same day more than once.*load_analytics_csv"):
        daily(glued)  # 2021-05-31 in both exports: never added, never one of them silently


def test_x_premium_content_and_overview_exports(tmp_path: Path) -> None:
    content = write(
        tmp_path / "account_analytics_content_2026-05-01_2026-06-05.csv",
        [
            "Post id,Date,Post text,Post Link,Impressions,Likes,Engagements,Bookmarks,Shares,New follows,Replies,"
            "Reposts,Profile visits,Detail Expands,URL Clicks,Hashtag Clicks,Permalink Clicks,Quotes",
            '1798000000000000001,"Tue, Jun 4, 2024","launch, ""today""",https://x.com/a/status/1,"1,234",5,40,2,1,0,3,'
            "2,3,7,4,0,1,6",
        ],
    )
    tidy, report = load_analytics_csv(content, report=True)  # type: ignore[call-overload]
    wide = per_tweet(tidy).to_dict("records")[0]
    assert wide["impressions"] == 1234
    assert wide["shares"] == 1
    assert wide["bookmarks"] == 2
    assert wide["url_clicks"] == 4
    assert wide["user_follows"] == 0
    assert wide["retweets"] == 2
    assert wide["created_at"] == pd.Timestamp("2024-06-04 14:32:59.881", tz="UTC")  # the id's snowflake time
    assert report.unrecognised_columns == ("Quotes",)
    assert "quotes" not in {e.lower() for e in tidy["engagement_type"]}
    overview = write(
        tmp_path / "account_overview_analytics.csv",
        [
            "Date,Impressions,Likes,Engagements,Bookmarks,Shares,New follows,Unfollows,Replies,Reposts,"
            "Profile visits,Create Post,Video views,Media views",
            '"Fri, Jun 5, 2026","12,000",50,300,4,2,6,1,9,8,20,3,700,900',
        ],
    )
    days = load_analytics_csv(overview)
    values = dict(zip(days["engagement_type"], days["value"], strict=True))
    assert values["unfollows"] == 1
    assert values["tweets_published"] == 3
    assert values["video_views"] == 700
    assert values["impressions"] == 12000
    assert set(days["grain"]) == {"day"}
    with pytest.raises(DataError, match="no tweets"):
        per_tweet(days)


def test_spreadsheet_rounded_ids_are_named(tmp_path: Path) -> None:
    rounded = write(
        tmp_path / "export.csv",
        ['"Tweet id","impressions"', '"1401214633076310000","3"', '"1401214633076320000","4"'],
    )
    with pytest.raises(DataError, match=r"export.csv: tweet ids such as .*1401214633076310000.*15th digit"):
        load_analytics_csv(rounded)
    tidy = load_response({"g": {"1401214633076314113": {"impressions": "10"}}})
    meta = pd.DataFrame({"tweet_id": ["1401214633076310000"], "variant": ["A"]})
    with pytest.raises(DataError, match=r"1401214633076310000 \(tweet 1401214633076314113\).*15th digit"):
        per_tweet(tidy, metadata=meta)
    ids = write(tmp_path / "ids.txt", ["1401214633076310000", "1401214633076320000"])
    with pytest.raises(ConfigError, match=r"ids.txt: tweet ids such as"):
        read_ids_file(ids)
    # one real id ending in zeros by chance is not flagged
    assert read_ids_file(write(tmp_path / "ok.txt", ["1401214633076310000", "1401214633076318721"]))[0]


def test_grand_totals_grouping_has_no_tweets() -> None:
    payload = {"Grand Totals": {"impressions": "100", "engagements": "4"}}
    with pytest.raises(DataError, match=r"no tweets.*Grand Totals"):
        per_tweet(load_response(payload))


# --- X API v2 and twarc2 -------------------------------------------------------------------------------


def page(likes: int, retrieved: str | None, *, tweet_id: str = "1460323737035677698") -> dict[str, Any]:
    body: dict[str, Any] = {
        "data": [
            {
                "id": tweet_id,
                "text": "hello",
                "created_at": "2021-11-15T19:08:05.000Z",
                "author_id": "2244994945",
                "public_metrics": {"retweet_count": 9, "reply_count": 2, "like_count": likes, "quote_count": 1},
                "attachments": {"media_keys": ["3_1"]},
            }
        ],
        "includes": {
            "media": [{"media_key": "3_1", "type": "video", "public_metrics": {"view_count": likes * 10}}],
            "users": [{"id": "2244994945", "username": "XDevelopers", "public_metrics": {"followers_count": 5}}],
        },
        "meta": {"result_count": 1},
    }
    if retrieved:
        body["__twarc"] = {"url": "https://api.x.com/2/tweets?ids=...", "version": "2.13.0", "retrieved_at": retrieved}
    return body


def test_two_v2_snapshots_are_not_added(tmp_path: Path, backend: str) -> None:
    later = tmp_path / "b.json"
    later.write_text(json.dumps(page(32, "2026-06-01T12:01:00+00:00")))
    earlier = tmp_path / "a.json"
    earlier.write_text(json.dumps(page(27, "2026-06-01T12:00:00+00:00")))
    tidy = load_v2([later, earlier], backend=backend)  # type: ignore[arg-type]
    wide = frame_rows(per_tweet(tidy))
    assert wide[0]["favorites"] == 32  # the later snapshot by __twarc.retrieved_at, not 27 + 32
    assert wide[0]["video_views"] == 320
    assert wide[0]["created_at"] == datetime(2021, 11, 15, 19, 8, 5, tzinfo=UTC)
    glued = pl.concat([load_v2(earlier, backend="polars"), load_v2(later, backend="polars")])  # type: ignore[list-item]
    with pytest.raises(DataError, match="1460323737035677698"):
        per_tweet(glued)
    assert per_tweet(glued, keep="latest")["favorites"].to_list() == [32]


def test_twarc2_jsonl_pages_gzip_and_errors(tmp_path: Path) -> None:
    second = page(5, "2026-06-01T12:00:00+00:00", tweet_id="1460323737035677699")
    second["errors"] = [
        {
            "value": "1460323737035677700",
            "detail": "Could not find tweet with ids: [1460323737035677700].",
            "title": "Not Found Error",
            "resource_type": "tweet",
            "parameter": "ids",
            "resource_id": "1460323737035677700",
            "type": "https://api.twitter.com/2/problems/resource-not-found",
        }
    ]
    lines = [json.dumps(page(27, "2026-06-01T12:00:00+00:00")), json.dumps(second), json.dumps(page(30, None))]
    path = tmp_path / "tweets.jsonl.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    tidy, report = load_v2(path, report=True)  # type: ignore[call-overload]
    wide = {r["tweet_id"]: r for r in per_tweet(tidy).to_dict("records")}
    assert wide["1460323737035677698"]["favorites"] == 27  # an untimed line counts as older than a timed one
    assert wide["1460323737035677699"]["favorites"] == 5
    assert report.unavailable_tweet_ids == ("1460323737035677700",)
    assert report.errors == ("Could not find tweet with ids: [1460323737035677700].",)
    assert report.superseded == 5  # the untimed page's four public metrics and one media metric


def test_gzip_bytes_in_memory_load_like_a_gz_file() -> None:
    body = json.dumps(page(12, None)).encode()
    assert load_v2(gzip.compress(body))["value"].to_list() == load_v2(body)["value"].to_list()
    assert len(load_response(gzip.compress(b'{"g": {"1790000000000000001": {"impressions": "7"}}}'))) == 1


def test_twarc_flattened_output(tmp_path: Path) -> None:
    """twarc's flatten puts each tweet on its own line, with media inlined under attachments.media."""
    tweets = []
    for likes, when in ((3, "2026-06-01T10:00:00+00:00"), (8, "2026-06-02T10:00:00+00:00")):
        tweet = page(likes, None)["data"][0]
        tweet["attachments"]["media"] = [{"media_key": "3_1", "type": "video", "public_metrics": {"view_count": 90}}]
        tweet["author"] = {"id": "2244994945", "username": "XDevelopers", "public_metrics": {"followers_count": 5}}
        tweet["referenced_tweets"] = [{"type": "quoted", "id": "20", "public_metrics": {"like_count": 999}}]
        tweet["__twarc"] = {"url": "https://api.x.com/2/tweets", "version": "2.13.0", "retrieved_at": when}
        tweets.append(json.dumps(tweet))
    tidy = load_v2(io.BytesIO(("\n".join(reversed(tweets)) + "\n").encode()), backend="polars")
    wide = per_tweet(tidy)
    assert wide["favorites"].to_list() == [8]
    assert wide["video_views"].to_list() == [90]
    assert wide["tweet_id"].to_list() == ["1460323737035677698"]  # the quoted tweet's 999 likes are not ours


def test_payloads_that_are_not_tweets_are_refused() -> None:
    users = {"data": [{"id": "2244994945", "username": "XDevelopers", "public_metrics": {"followers_count": 5}}]}
    with pytest.raises(ResponseFormatError, match=r"users payload .*followers_count.*not tweets"):
        load_v2(users)
    with pytest.raises(ResponseFormatError, match="not a v2 tweet payload"):
        load_v2({"meta": {"result_count": 0}, "includes": {}})
    only_errors = {"errors": [{"detail": "Could not find tweet", "resource_id": "5", "resource_type": "tweet"}]}
    frame, report = load_v2(only_errors, report=True)  # type: ignore[call-overload]
    assert len(frame) == 0
    assert report.unavailable_tweet_ids == ("5",)


def test_engagement_api_files_keep_windows(tmp_path: Path) -> None:
    """Files of /historical responses: contiguous windows are summed, the same window seen twice is not."""
    tweet = "1790000000000000001"
    windows = [
        ("2026-04-01T00:00:00Z", "2026-04-29T00:00:00Z", 70),
        ("2026-04-29T00:00:00Z", "2026-05-27T00:00:00Z", 30),
    ]
    for i, (start, end, value) in enumerate(windows):
        body = {"start": start, "end": end, "g": {tweet: {"impressions": str(value)}}}
        (tmp_path / f"{i}.json").write_text(json.dumps(body))
    (tmp_path / "2.json").write_text((tmp_path / "1.json").read_text())  # the second window fetched again
    tidy, report = load_response(tmp_path, report=True)  # type: ignore[call-overload]
    assert report.superseded == 1
    assert per_tweet(tidy).to_dict("records")[0]["impressions"] == 100
    overlapping = {"start": "2026-04-15T00:00:00Z", "end": "2026-05-01T00:00:00Z", "g": {tweet: {"impressions": "9"}}}
    (tmp_path / "3.json").write_text(json.dumps(overlapping))
    with pytest.raises(DataError, match="same number more than once"):
        per_tweet(load_response(tmp_path))


# --- property: per_tweet never adds two observations of one lifetime total ------------------------------

_IDS = ["1790000000000000001", "1790000000000000002", "1790000000000000003"]


@st.composite
def snapshots(draw: st.DrawFn) -> list[pl.DataFrame]:
    """Random snapshot frames: each holds lifetime totals for some tweets, observed at increasing times."""
    frames, start = [], datetime(2026, 6, 1, tzinfo=UTC)
    for i in range(draw(st.integers(1, 4))):
        tweets = draw(st.lists(st.sampled_from(_IDS), min_size=1, max_size=3, unique=True))
        values = draw(st.lists(st.integers(0, 10_000), min_size=len(tweets), max_size=len(tweets)))
        timed = draw(st.booleans())
        frames.append(
            pl.DataFrame(
                {
                    "tweet_id": tweets,
                    "engagement_type": ["impressions"] * len(tweets),
                    "grain": ["total"] * len(tweets),
                    "value": values,
                    "grouping": ["g"] * len(tweets),
                    "retrieved_at": [start + timedelta(minutes=i) if timed else None] * len(tweets),
                },
                schema_overrides={"retrieved_at": pl.Datetime("us", "UTC"), "value": pl.Int64},
            )
        )
    return frames


@settings(max_examples=150, deadline=None)
@given(snapshots(), st.booleans())
def test_per_tweet_raises_or_returns_the_latest(frames: list[pl.DataFrame], as_pandas: bool) -> None:
    glued = pl.concat(frames)
    # the reference: per tweet, the row with the latest time (an untimed row is older than any timed one),
    # ties broken by position; written as a plain loop, independently of the library
    best: dict[str, tuple[tuple[bool, datetime, int], int]] = {}
    for position, row in enumerate(glued.iter_rows(named=True)):
        when = row["retrieved_at"]
        rank = (when is not None, when or datetime.min.replace(tzinfo=UTC), position)
        if row["tweet_id"] not in best or rank > best[row["tweet_id"]][0]:
            best[row["tweet_id"]] = (rank, row["value"])
    latest = {tweet: value for tweet, (_, value) in best.items()}
    frame: Any = glued.to_pandas() if as_pandas else glued
    repeated = glued["tweet_id"].is_duplicated().any()
    if repeated:
        with pytest.raises(DataError, match="same number more than once"):
            per_tweet(frame)
        with pytest.raises(DataError, match="same number more than once"):
            per_tweet(duckdb.from_arrow(glued.to_arrow()))
    else:
        assert (
            dict(
                zip(*per_tweet(glued).select("tweet_id", "impressions").to_dict(as_series=False).values(), strict=True)
            )
            == latest
        )
    got = per_tweet(frame, keep="latest", backend="polars")
    assert dict(zip(got["tweet_id"].to_list(), got["impressions"].to_list(), strict=True)) == latest


# --- property: one source, endpoint and grain per tweet and metric, chosen in that order -----------------

_SOURCES = [None, "v2.public_metrics", "analytics_csv", "v2.organic_metrics"]
_ENDPOINTS = [None, "totals", "historical", "28hr"]
_GRAINS = ["total", "hour", "day"]


@st.composite
def mixed_rows(draw: st.DrawFn) -> pl.DataFrame:
    n = draw(st.integers(1, 8))
    start = datetime(2026, 5, 1, tzinfo=UTC)
    return pl.DataFrame(
        {
            "tweet_id": ["1790000000000000001"] * n,
            "engagement_type": ["impressions"] * n,
            "grain": draw(st.lists(st.sampled_from(_GRAINS), min_size=n, max_size=n)),
            "timestamp": [start + timedelta(hours=i) for i in range(n)],  # every row its own bucket
            "value": draw(st.lists(st.integers(0, 1000), min_size=n, max_size=n)),
            "grouping": draw(st.lists(st.sampled_from(["a", "b"]), min_size=n, max_size=n)),
            "endpoint": draw(st.lists(st.sampled_from(_ENDPOINTS), min_size=n, max_size=n)),
            "source": draw(st.lists(st.sampled_from(_SOURCES), min_size=n, max_size=n)),
        },
        schema_overrides={"timestamp": pl.Datetime("us", "UTC"), "value": pl.Int64, "endpoint": pl.String,
                          "source": pl.String},
    )  # fmt: skip


def _best_source_sum(rows: pl.DataFrame) -> int:
    """The rule by hand: the best source, then endpoint, then grain; then one grouping; its values summed."""
    from engagement_lab.load.tweets_rules import ENDPOINT_PRIORITY, GRAIN_PRIORITY
    from engagement_lab.sources import tag_order

    SOURCE_PRIORITY = tag_order()

    def rank(row: dict[str, Any]) -> tuple[int, int, int]:
        return (
            SOURCE_PRIORITY.index(row["source"] or ""),
            ENDPOINT_PRIORITY.index(row["endpoint"] or ""),
            GRAIN_PRIORITY.index(row["grain"]),
        )

    listed = rows.to_dicts()
    best = min(rank(r) for r in listed)
    chosen = [r for r in listed if rank(r) == best]
    grouping = min(r["grouping"] for r in chosen)
    return sum(r["value"] for r in chosen if r["grouping"] == grouping)


@settings(max_examples=200, deadline=None)
@given(mixed_rows())
def test_per_tweet_takes_the_best_source_then_endpoint_then_grain(rows: pl.DataFrame) -> None:
    expected = _best_source_sum(rows)
    for frame in (rows, rows.to_pandas()):
        assert frame_rows(per_tweet(frame))[0]["impressions"] == expected  # never lost, never a mixed sum


@settings(max_examples=40, deadline=None)  # a DuckDB relation's per_tweet plans ~40 queries (~0.2 s a call)
@given(mixed_rows())
def test_duckdb_takes_the_best_source_by_the_same_rules(rows: pl.DataFrame) -> None:
    in_duckdb = per_tweet(duckdb.from_arrow(rows.to_arrow()))  # the same rules, evaluated by DuckDB
    assert in_duckdb.select("tweet_id, impressions").fetchall() == [("1790000000000000001", _best_source_sum(rows))]
