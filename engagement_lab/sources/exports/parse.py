"""analytics.twitter.com and X Premium CSV exports -> the tidy schema.

Per-tweet exports (``Tweet id`` in the legacy export, ``Post id`` in X Premium's content export) give lifetime
totals (grain ``total``) and the post's creation time (``created_at``). Account-level exports (the legacy daily
summary, X Premium's account overview) give one row per day with no tweet id (grain ``day``). Both header eras
are read (``favorites`` before 2016, ``likes`` after); float-formatted counts (``"3423.0"``) and thousands
separators (``"1,234"``) become integers; ``-`` in promoted columns means "not promoted" and gives no row.
Columns that are neither a metric nor a known attribute are listed in the load report, never dropped silently.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa

from ... import columns as C
from ...errors import DataError
from ...ids import rounded_ids, rounded_ids_error, tweet_created_at
from ...load.inputs import Item, item_text
from ...load.report import LoadReport
from ...load.schema import sourced_table

__all__ = ["CSV_METRIC_NAMES", "export_period_end", "parse_analytics_csv"]

CSV_METRIC_NAMES = {
    "impressions": "impressions",
    "engagements": "engagements",
    "retweets": "retweets",
    "replies": "replies",
    "likes": "favorites",
    "favorites": "favorites",
    "user profile clicks": "user_profile_clicks",
    "url clicks": "url_clicks",
    "hashtag clicks": "hashtag_clicks",
    "detail expands": "detail_expands",
    "permalink clicks": "permalink_clicks",
    "app opens": "app_opens",
    "app installs": "app_install_attempts",
    "follows": "user_follows",
    "email tweet": "email_tweet",
    "dial phone": "dial_phone",
    "media views": "media_views",
    "media engagements": "media_engagements",
    "tweets published": "tweets_published",
    # X Premium exports (2024+; spec B.3, column sets vary)
    "reposts": "retweets",
    "profile visits": "user_profile_clicks",
    "new follows": "user_follows",
    "unfollows": "unfollows",
    "bookmarks": "bookmarks",
    "share": "shares",
    "shares": "shares",
    "video views": "video_views",
    "create post": "tweets_published",
}
"""CSV column (lower case) -> tidy ``engagement_type``; ``dial phone`` has no API counterpart. X Premium's
``Create Post`` (posts made that day) is the legacy ``Tweets published``."""

ATTRIBUTE_COLUMNS = frozenset(
    {"tweet id", "post id", "tweet permalink", "post link", "tweet text", "post text", "time", "date"}
)
"""Known columns that are not metrics: ids, links, text and times."""
DERIVED_COLUMNS = frozenset({"engagement rate", "promoted engagement rate"})
"""Ratios the export computes from its own counts; recomputed from the counts instead of loaded."""

_COUNT = re.compile(r"^\d+(\.0+)?$")
_PERIOD = re.compile(r"_(\d{8})_(\d{8})(?:_[a-z]{2})?\.csv(?:\.gz)?$", re.IGNORECASE)


def export_period_end(name: str | None) -> datetime | None:
    """The end of an export's period from its file name (``..._20210501_20210531_en.csv`` -> 2021-06-01 00:00).

    Examples
    --------
    >>> export_period_end("tweet_activity_metrics_ropensci_20210501_20210531_en.csv").isoformat()
    '2021-06-01T00:00:00+00:00'
    """
    match = _PERIOD.search(name or "")
    if not match:
        return None
    try:
        last = datetime.strptime(match.group(2), "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return last + timedelta(days=1)


def _count(text: str, where: str) -> int | None:
    text = text.strip().replace(",", "")
    if text in ("", "-"):
        return None
    if not _COUNT.match(text):
        raise DataError(f"{where}: {text!r} is not a count; expected digits such as '3423' or '3423.0'")
    return int(text.split(".")[0])


def _day(text: str, where: str) -> date:
    text = text.strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        pass
    try:
        return datetime.strptime(text, "%a, %b %d, %Y").date()
    except ValueError:
        pass
    raise DataError(f"{where}: {text!r} is not a date (expected YYYY-MM-DD or 'Fri, Jun 5, 2026')")


def _created_at(row: dict[str, str], tweet_id: str, where: str) -> datetime:
    """The legacy ``time`` column (minute precision, UTC). X Premium's ``Date`` has no time of day (and its
    zone is the account's), so there the id's snowflake time is used: exact, and what hour-of-day needs."""
    if row.get("time", "").strip():
        try:
            return datetime.strptime(row["time"].strip(), "%Y-%m-%d %H:%M %z").astimezone(UTC)
        except ValueError:
            raise DataError(f"{where}: time {row['time']!r} is not like '2021-12-28 16:45 +0000'") from None
    return tweet_created_at(tweet_id)


def _header(reader: csv.DictReader[str], name: str) -> tuple[str | None, list[str]]:
    header = [h.strip() for h in reader.fieldnames or []]
    lower = [h.lower() for h in header]
    id_column = "tweet id" if "tweet id" in lower else "post id" if "post id" in lower else None
    if id_column is None and "date" not in lower:
        raise DataError(
            f"{name} is not an analytics export: expected a 'Tweet id', 'Post id' or 'Date' column, found {header[:5]}"
        )
    unknown = [
        h
        for h, low in zip(header, lower, strict=True)
        if low not in ATTRIBUTE_COLUMNS
        and low not in DERIVED_COLUMNS
        and CSV_METRIC_NAMES.get(low.removeprefix("promoted ")) is None
    ]
    return id_column, unknown


def parse_analytics_csv(item: Item) -> tuple[pa.Table, LoadReport]:
    """One export -> a tidy table (plus ``source`` and ``created_at``) and what was not loaded."""
    name = item.name or "the export"
    reader = csv.DictReader(io.StringIO(item_text(item)))
    id_column, unknown = _header(reader, name)
    out: dict[str, list[Any]] = {k: [] for k in (C.TWEET_ID, C.ENGAGEMENT_TYPE, C.DAY, C.VALUE, C.SOURCE)}
    created: list[datetime | None] = []
    ids: list[str] = []
    for line, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "") for k, v in raw.items()}
        where = f"{name}, line {line}"
        tweet_id = row[id_column].strip() if id_column else None
        if tweet_id is not None and not (tweet_id.isascii() and tweet_id.isdigit()):
            sci = " in scientific notation" if "e+" in tweet_id.lower() else ""
            raise DataError(
                f"{where}: tweet id {tweet_id!r} is not digits{sci}: a spreadsheet re-saved the file and rounded "
                "the ids. Re-export it from X, or import the id column as Text."
            )
        if tweet_id is not None:
            ids.append(tweet_id)
        day = None if tweet_id is not None else _day(row["date"], where)
        made = _created_at(row, tweet_id, where) if tweet_id is not None else None
        for column, value in row.items():
            metric = CSV_METRIC_NAMES.get(column.removeprefix("promoted "))
            count = None if metric is None else _count(value, f"{where}, column {column!r}")
            if count is None:
                continue
            out[C.TWEET_ID].append(tweet_id)
            out[C.ENGAGEMENT_TYPE].append(metric)
            out[C.DAY].append(day)
            out[C.VALUE].append(count)
            out[C.SOURCE].append("analytics_csv.promoted" if column.startswith("promoted ") else "analytics_csv")
            created.append(made)
    rounded = rounded_ids(ids)
    if rounded:
        raise rounded_ids_error(name, rounded)
    table = sourced_table(out, grain="day" if id_column is None else "total", grouping="analytics_csv")
    table = table.append_column(C.CREATED_AT, pa.array(created, pa.timestamp("us", tz="UTC")))
    return table, LoadReport(unrecognised_columns=tuple(unknown), n_rows=table.num_rows)
