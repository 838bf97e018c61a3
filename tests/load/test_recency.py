"""The recency of every observation is known, or the conflict is refused (issue #29): the newer X Premium export
and a browser's ``(1)`` re-download win; files that disagree with no known order are refused naming both; ``keep=``
chooses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engagement_lab import DataError
from engagement_lab.load import load_analytics, load_analytics_csv, load_response, load_v2, per_tweet
from engagement_lab.sources.exports.periods import download_copy, export_period_end

from .conftest import frame_rows
from .test_many_sources import export_row, page
from .test_sources import ACTIVITY_HEADER

POST = "1798000000000000001"  # created 2024-06-04 14:32:59 UTC (its snowflake time)
LEGACY = ACTIVITY_HEADER.format(likes="likes")
PREMIUM = (
    "Post id,Date,Post text,Post Link,Impressions,Likes,Engagements,Bookmarks,Shares,New follows,Replies,"
    "Reposts,Profile visits,Detail Expands,URL Clicks,Hashtag Clicks,Permalink Clicks"
)
OVERVIEW = (
    "Date,Impressions,Likes,Engagements,Bookmarks,Shares,New follows,Unfollows,Replies,Reposts,"
    "Profile visits,Create Post,Video views,Media views"
)


def premium_row(post: str, impressions: int, likes: int) -> str:
    return f'{post},"Tue, Jun 4, 2024","launch, ""today""",https://x.com/a/status/{post},"{impressions:,}",{likes},40,2,1,0,3,2,3,7,4,0,1'


def legacy_row(tweet: str, impressions: int, likes: int, time: str = "2021-05-20 16:45 +0000") -> str:
    return export_row(tweet, impressions, likes).replace("2021-05-20 16:45 +0000", time)


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def impressions(frame: object) -> dict[str, int]:
    return {r["tweet_id"]: r["impressions"] for r in frame_rows(per_tweet(frame))}


def test_file_names_give_periods_and_download_copies() -> None:
    end = datetime(2021, 6, 1, tzinfo=UTC)
    assert export_period_end("tweet_activity_metrics_ropensci_20210501_20210531_en.csv") == end
    assert export_period_end("/dl/tweet_activity_metrics_ropensci_20210501_20210531_en (1).csv") == end
    assert export_period_end("tweet_activity_metrics_ropensci_20210501_20210531_en(2).csv.gz") == end
    assert export_period_end("account_analytics_content_2026-07-20_2026-09-01.csv") == datetime(2026, 9, 2, tzinfo=UTC)
    assert export_period_end("account_analytics_content_2026-07-20_2026-09-01 (3).csv") == datetime(
        2026, 9, 2, tzinfo=UTC
    )
    for says_nothing in (
        "account_analytics_content.csv",
        "export_20210231_20210301.csv",
        "a_2026-09-01_2026-07-20.csv",
    ):
        assert export_period_end(says_nothing) is None  # no period, 31 February, a period ending before it starts
    assert download_copy("/dl/report.v2 (1).csv") == ("/dl/report.v2.csv", 1)
    assert download_copy("data (12).json.gz") == ("data.json.gz", 12)
    assert download_copy("data.jsonl") == ("data.jsonl", 0)
    assert download_copy(None) == (None, 0)


def test_the_newer_x_premium_export_wins(tmp_path: Path, backend: str) -> None:
    older = write(tmp_path / "account_analytics_content_2026-05-01_2026-06-05.csv", PREMIUM, premium_row(POST, 1234, 5))
    newer = write(tmp_path / "account_analytics_content_2026-07-20_2026-09-01.csv", PREMIUM, premium_row(POST, 2345, 9))
    tidy, report = load_analytics_csv([newer, older], backend=backend, report=True)  # type: ignore[call-overload]
    wide = frame_rows(per_tweet(tidy))
    assert [(r["impressions"], r["favorites"]) for r in wide] == [(2345, 9)]  # not the older 1234 by file order
    assert {r["retrieved_at"] for r in frame_rows(tidy)} == {datetime(2026, 9, 2, tzinfo=UTC)}
    assert report.superseded == 13  # every metric of the older export, replaced, not added


def test_a_re_download_wins_over_the_original(tmp_path: Path) -> None:
    name = "tweet_activity_metrics_ropensci_20210501_20210531_en"
    original = write(tmp_path / f"{name}.csv", LEGACY, legacy_row("1395000000000000001", 13900, 27))
    again = write(tmp_path / f"{name} (1).csv", LEGACY, legacy_row("1395000000000000001", 14978, 31))
    third = write(tmp_path / f"{name} (2).csv", LEGACY, legacy_row("1395000000000000001", 15001, 33))
    assert impressions(load_analytics_csv([original, again])) == {"1395000000000000001": 14978}
    assert impressions(load_analytics_csv([again, original])) == {"1395000000000000001": 14978}  # not by order
    assert impressions(load_analytics_csv(tmp_path)) == {"1395000000000000001": 15001}  # "(1)" sorts before ".csv"
    assert impressions(load_analytics_csv([third, original, again])) == {"1395000000000000001": 15001}
    # a re-download of an account overview (no period in X's name): its days are the later observation
    days = write(
        tmp_path / "account_overview_analytics.csv",
        OVERVIEW,
        '"Fri, Jun 5, 2026","12,000",50,300,4,2,6,1,9,8,20,3,700,900',
    )
    days_again = write(
        tmp_path / "account_overview_analytics (1).csv",
        OVERVIEW,
        '"Fri, Jun 5, 2026","12,400",52,310,4,2,6,1,9,8,20,3,700,900',
    )
    tidy, report = load_analytics_csv([days_again, days], report=True)  # type: ignore[call-overload]
    assert {r["engagement_type"]: r["value"] for r in frame_rows(tidy)}["impressions"] == 12400
    assert any("impressions day 2026-06-05: 12000" in line for line in report.conflicts)


def test_exports_with_no_readable_period_that_disagree_are_refused(tmp_path: Path) -> None:
    tweet = "1395000000000000001"
    mine = write(tmp_path / "my_tweets.csv", LEGACY, legacy_row(tweet, 13900, 27, "2021-05-20 16:45 +0000"))
    # its other tweet is newer, but "made after May 28" does not say it was made after the other file
    theirs = write(
        tmp_path / "tweets_for_report.csv",
        LEGACY,
        legacy_row(tweet, 14978, 31, "2021-05-20 16:45 +0000"),
        legacy_row("1398000000000000002", 700, 1, "2021-05-28 09:00 +0000"),
    )
    with pytest.raises(DataError) as refused:
        load_analytics_csv([mine, theirs])
    message = str(refused.value)
    for needed in (str(mine), str(theirs), tweet, "impressions", "13900", "14978", "keep='last'", "keep='"):
        assert needed in message
    assert "1 more value disagrees" in message  # the likes and the other counts too, not only the first
    with pytest.raises(DataError, match=r"my_tweets.csv and .*tweets_for_report.csv disagree"):
        load_analytics_csv(tmp_path)  # a directory: sorted names are no order either


def test_keep_chooses(tmp_path: Path) -> None:
    tweet = "1395000000000000001"
    mine = write(tmp_path / "my_tweets.csv", LEGACY, legacy_row(tweet, 13900, 27))
    theirs = write(tmp_path / "tweets_for_report.csv", LEGACY, legacy_row(tweet, 14978, 31))
    assert impressions(load_analytics_csv([mine, theirs], keep="last")) == {tweet: 14978}
    assert impressions(load_analytics_csv([theirs, mine], keep="last")) == {tweet: 13900}
    assert impressions(load_analytics_csv([mine, theirs], keep="my_tweets.csv")) == {tweet: 13900}
    assert impressions(load_analytics_csv([mine, theirs], keep=str(theirs))) == {tweet: 14978}
    # a named file wins its disagreements; others it is not part of are still refused
    third = write(tmp_path / "third.csv", LEGACY, legacy_row("1398000000000000002", 5, 1))
    fourth = write(tmp_path / "fourth.csv", LEGACY, legacy_row("1398000000000000002", 6, 1))
    with pytest.raises(DataError, match=r"third.csv and .*fourth.csv disagree on tweet 1398000000000000002"):
        load_analytics_csv([mine, theirs, third, fourth], keep="my_tweets.csv")


def test_keep_names_a_file_loaded_or_gets_did_you_mean(tmp_path: Path) -> None:
    mine = write(tmp_path / "my_tweets.csv", LEGACY, legacy_row("1395000000000000001", 13900, 27))
    theirs = write(tmp_path / "tweets_for_report.csv", LEGACY, legacy_row("1395000000000000001", 14978, 31))
    with pytest.raises(DataError, match=r"keep='nope.csv' is not an option; choose one of \['last', 'my_tweets.csv', "):
        load_analytics_csv([mine, theirs], keep="nope.csv")
    with pytest.raises(DataError, match=r"keep='my_tweet.csv' is not an option \(did you mean 'my_tweets.csv'\?\)"):
        load_analytics_csv([mine, theirs], keep="my_tweet.csv")
    with pytest.raises(DataError, match=r"keep='lats' is not an option \(did you mean 'last'\?\)"):
        load_v2(page(3, None), keep="lats")


def test_the_newest_date_inside_orders_a_file_only_after_a_known_time(tmp_path: Path) -> None:
    tweet = "1395000000000000001"
    may = write(tmp_path / "tweet_activity_metrics_acme_20210501_20210531_en.csv", LEGACY, legacy_row(tweet, 13900, 27))
    # renamed, but it holds a tweet posted on June 3: it was made after May's export period ended
    later = write(
        tmp_path / "renamed.csv",
        LEGACY,
        legacy_row(tweet, 14978, 31),
        legacy_row("1400500000000000003", 90, 2, "2021-06-03 08:00 +0000"),
    )
    assert impressions(load_analytics_csv([later, may]))[tweet] == 14978
    # one whose newest tweet is inside May's period may have been made before or after the May export
    unsure = write(tmp_path / "unsure.csv", LEGACY, legacy_row(tweet, 14000, 28, "2021-05-20 16:45 +0000"))
    with pytest.raises(
        DataError, match=r"unsure.csv: no time in its name or content; only its newest date, 2021-05-20"
    ):
        load_analytics_csv([unsure, may])


def test_daily_rows_of_unknown_order_are_refused_too(tmp_path: Path) -> None:
    a = write(tmp_path / "overview_a.csv", OVERVIEW, '"Fri, Jun 5, 2026","12,000",50,300,4,2,6,1,9,8,20,3,700,900')
    b = write(tmp_path / "overview_b.csv", OVERVIEW, '"Fri, Jun 5, 2026","12,400",50,300,4,2,6,1,9,8,20,3,700,900')
    with pytest.raises(DataError, match=r"the account's impressions \(day 2026-06-05.*12000 vs 12400"):
        load_analytics_csv([a, b])
    same = write(tmp_path / "overview_c.csv", OVERVIEW, '"Fri, Jun 5, 2026","12,000",50,300,4,2,6,1,9,8,20,3,700,900')
    assert len(load_analytics_csv([a, same])) == 13  # agreeing observations need no order


def test_json_files_without_times_are_refused_and_lines_of_one_file_are_ordered(tmp_path: Path) -> None:
    tweet = "1460323737035677698"
    a, b = tmp_path / "lookup.json", tmp_path / "lookup_again.json"
    a.write_text(json.dumps(page(27, None)))
    b.write_text(json.dumps(page(32, None)))
    with pytest.raises(DataError, match=rf"lookup.json and .*lookup_again.json disagree on tweet {tweet}'s favorites"):
        load_v2([a, b])
    assert frame_rows(per_tweet(load_v2([a, b], keep="last")))[0]["favorites"] == 32
    with pytest.raises(DataError, match=r"input #1 \(in memory\) and input #2 \(in memory\) disagree"):
        load_v2([page(27, None), page(32, None)])
    lines = tmp_path / "snapshots.jsonl"
    lines.write_text(json.dumps(page(27, None)) + "\n" + json.dumps(page(32, None)) + "\n")
    assert frame_rows(per_tweet(load_v2(lines)))[0]["favorites"] == 32  # the later line of one file
    response = {"g": {"1790000000000000001": {"impressions": "551"}}}
    (tmp_path / "totals.json").write_text(json.dumps(response))
    response["g"]["1790000000000000001"]["impressions"] = "600"
    (tmp_path / "totals (1).json").write_text(json.dumps(response))
    assert impressions(load_response([tmp_path / "totals (1).json", tmp_path / "totals.json"])) == {
        "1790000000000000001": 600
    }
    (tmp_path / "other.json").write_text(json.dumps({"g": {"1790000000000000001": {"impressions": "7"}}}))
    with pytest.raises(DataError, match=r"totals.json and .*other.json disagree|other.json and .*totals"):
        load_response([tmp_path / "totals.json", tmp_path / "other.json"])
    answer = {"data": [{"id": tweet, "impressions": 120, "likes": 4}]}
    (tmp_path / "analytics.json").write_text(json.dumps(answer))
    answer["data"][0]["impressions"] = 130
    (tmp_path / "analytics2.json").write_text(json.dumps(answer))
    with pytest.raises(DataError, match=r"analytics.json and .*analytics2.json disagree"):
        load_analytics([tmp_path / "analytics.json", tmp_path / "analytics2.json"])
    assert impressions(load_analytics(tmp_path / "analytics*.json", keep="analytics.json")) == {tweet: 120}
