"""X API v2 payloads and analytics.twitter.com CSV exports land in the same tidy schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from engagement_lab import DataError, ResponseFormatError
from engagement_lab.load import load_analytics_csv, load_v2

from .conftest import frame_rows

V2 = {
    "data": [
        {
            "id": "1460323737035677698",
            "text": "hello",
            "public_metrics": {
                "retweet_count": 9,
                "reply_count": 2,
                "like_count": 120,
                "quote_count": 1,
                "impression_count": 5400,
                "bookmark_count": 3,
            },
            "non_public_metrics": {
                "impression_count": 5300,
                "url_link_clicks": 40,
                "user_profile_clicks": 12,
                "engagements": 210,
            },
            "organic_metrics": {
                "impression_count": 5200,
                "like_count": 118,
                "reply_count": 2,
                "retweet_count": 9,
                "url_link_clicks": 39,
                "user_profile_clicks": 12,
            },
            "attachments": {"media_keys": ["7_1"]},
        },
        {
            "id": "1460323737035677699",
            "public_metrics": {"repost_count": 4, "like_count": 0, "reply_count": 0, "quote_count": 0},
        },
    ],
    "includes": {
        "media": [
            {
                "media_key": "7_1",
                "type": "video",
                "public_metrics": {"view_count": 800},
                "non_public_metrics": {"playback_0_count": 700, "playback_100_count": 90},
            }
        ]
    },
}


def test_v2_metrics_map_to_catalog_names(backend: str) -> None:
    rows = frame_rows(load_v2(V2, backend=backend))  # type: ignore[arg-type]
    by = {(r["tweet_id"], r["source"], r["engagement_type"]): r["value"] for r in rows}
    first = "1460323737035677698"
    assert by[(first, "v2.public_metrics", "favorites")] == 120
    assert by[(first, "v2.public_metrics", "impressions")] == 5400
    assert by[(first, "v2.non_public_metrics", "url_clicks")] == 40
    assert by[(first, "v2.organic_metrics", "impressions")] == 5200
    assert by[(first, "v2.media.public_metrics", "video_views")] == 800
    assert by[(first, "v2.media.non_public_metrics", "video_playback_100")] == 90
    assert by[("1460323737035677699", "v2.public_metrics", "retweets")] == 4
    assert all(r["grain"] == "total" and isinstance(r["tweet_id"], str) for r in rows)
    assert len(rows) == 6 + 4 + 6 + 1 + 2 + 4


def test_v2_single_object_and_bad_values() -> None:
    assert len(load_v2({"data": V2["data"][1]})) == 4
    with pytest.raises(ResponseFormatError, match="non-negative JSON integer"):
        load_v2({"data": [{"id": "1", "public_metrics": {"like_count": "12"}}]})
    with pytest.raises(ResponseFormatError, match="string 'id'"):
        load_v2({"data": [{"id": 1460323737035677698}]})


ACTIVITY_HEADER = (
    '"Tweet id","Tweet permalink","Tweet text","time","impressions","engagements","engagement rate","retweets","replies","{likes}",'
    '"user profile clicks","url clicks","hashtag clicks","detail expands","permalink clicks","app opens","app installs","follows",'
    '"email tweet","dial phone","media views","media engagements","promoted impressions","promoted engagements",'
    '"promoted engagement rate","promoted retweets","promoted replies","promoted {likes}","promoted user profile clicks",'
    '"promoted url clicks","promoted hashtag clicks","promoted detail expands","promoted permalink clicks","promoted app opens",'
    '"promoted app installs","promoted follows","promoted email tweet","promoted dial phone","promoted media views",'
    '"promoted media engagements"'
)


def activity_row(tweet_id: str, text: str, promoted: bool) -> str:
    organic = [
        "3423.0",
        "18.0",
        "0.0052585451358457495",
        "2.0",
        "1.0",
        "7.0",
        "3.0",
        "4.0",
        "0.0",
        "1.0",
        "0.0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "29",
        "5",
    ]
    promo = (
        ["1000", "40", "0.04", "1", "0", "20", "3", "2", "0", "14", "0", "0", "0", "0", "0", "0", "0", "0"]
        if promoted
        else ["-"] * 18
    )
    fields = [
        tweet_id,
        f"https://twitter.com/acme/status/{tweet_id}",
        text,
        "2021-12-28 16:45 +0000",
        *organic,
        *promo,
    ]
    return ",".join('"' + f.replace('"', '""') + '"' for f in fields)


@pytest.mark.parametrize("likes", ["likes", "favorites"])
def test_tweet_activity_export_both_eras(tmp_path: Path, likes: str, backend: str) -> None:
    path = tmp_path / "tweet_activity_metrics_acme_20211201_20211231_en.csv"
    text = 'A "quoted" tweet,\nwith a newline'
    path.write_text(
        "\n".join(
            [
                ACTIVITY_HEADER.format(likes=likes),
                activity_row("1475868143409717250", text, False),
                activity_row("1475868143409717251", "promo", True),
            ]
        )
        + "\n"
    )
    rows = frame_rows(load_analytics_csv(path, backend=backend))  # type: ignore[arg-type]
    by = {(r["tweet_id"], r["source"], r["engagement_type"]): r["value"] for r in rows}
    assert by[("1475868143409717250", "analytics_csv", "impressions")] == 3423
    assert by[("1475868143409717250", "analytics_csv", "favorites")] == 7
    assert by[("1475868143409717250", "analytics_csv", "media_views")] == 29
    assert by[("1475868143409717250", "analytics_csv", "app_install_attempts")] == 0
    assert not any(t == "1475868143409717250" and s == "analytics_csv.promoted" for t, s, _ in by)
    assert by[("1475868143409717251", "analytics_csv.promoted", "impressions")] == 1000
    assert by[("1475868143409717251", "analytics_csv.promoted", "favorites")] == 20
    assert "engagement rate" not in {r["engagement_type"] for r in rows}
    assert all(isinstance(r["tweet_id"], str) for r in rows)


def test_daily_export(tmp_path: Path, backend: str) -> None:
    path = tmp_path / "daily_tweet_activity_metrics_acme_20211201_20211231_en.csv"
    path.write_text(
        '"Date","Tweets published","impressions","engagements","likes","promoted impressions"\n"2021-12-01","3","1200.0","40.0","11.0","-"\n"2021-12-02","0","800","12","3","50"\n'
    )
    rows = frame_rows(load_analytics_csv(path, backend=backend))  # type: ignore[arg-type]
    assert {(str(r["day"]), r["engagement_type"], r["value"]) for r in rows if r["source"] == "analytics_csv"} >= {
        ("2021-12-01", "impressions", 1200),
        ("2021-12-01", "tweets_published", 3),
        ("2021-12-02", "favorites", 3),
    }
    assert all(r["grain"] == "day" and r["tweet_id"] is None for r in rows)


def test_x_premium_content_export(tmp_path: Path) -> None:
    path = tmp_path / "content.csv"
    path.write_text(
        'Post id,Date,Post text,Post Link,Impressions,Likes,Engagements,Reposts,Profile visits\n1790000000000000001,"Fri, Jun 5, 2026",hi,https://x.com/a/status/1,"1,234",5,40,2,3\n'
    )
    rows = frame_rows(load_analytics_csv(path))
    by = {r["engagement_type"]: r["value"] for r in rows}
    assert by == {
        "impressions": 1234,
        "favorites": 5,
        "engagements": 40,
        "retweets": 2,
        "user_profile_clicks": 3,
    }


def test_bad_csvs(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="not an analytics export"):
        load_analytics_csv(path)
    path.write_text('"Tweet id","impressions"\n"1.47586814340972E+18","3"\n')
    with pytest.raises(DataError, match="spreadsheet"):
        load_analytics_csv(path)
    path.write_text('"Tweet id","impressions"\n"1475868143409717250","lots"\n')
    with pytest.raises(DataError, match="not a count"):
        load_analytics_csv(path)
