"""analytics.twitter.com CSV exports (tweet activity and daily summary) -> the tidy schema.

Both header eras are read (``favorites`` before 2016, ``likes`` after); float-formatted counts (``"3423.0"``)
become integers; ``-`` in promoted columns means "not promoted" and gives no row. Tweet ids are read as text.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from .. import columns as C
from ..errors import DataError
from .engagement import sourced_table

__all__ = ["CSV_METRIC_NAMES", "parse_analytics_csv"]

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
    "bookmarks": "bookmarks",
    "shares": "shares",
    "video views": "video_views",
}
"""CSV column (lower case) -> tidy ``engagement_type``; ``dial phone`` has no API counterpart."""

_COUNT = re.compile(r"^\d+(\.0+)?$")


def _count(text: str, where: str) -> int | None:
    text = text.strip().replace(",", "")
    if text in ("", "-"):
        return None
    if not _COUNT.match(text):
        raise DataError(f"{where}: {text!r} is not a count; expected digits such as '3423' or '3423.0'")
    return int(text.split(".")[0])


def _day(text: str, where: str) -> date:
    text = text.strip()
    for attempt in range(2):
        try:
            return date.fromisoformat(text[:10]) if attempt == 0 else datetime.strptime(text, "%a, %b %d, %Y").date()
        except ValueError:
            continue
    raise DataError(f"{where}: {text!r} is not a date (expected YYYY-MM-DD or 'Fri, Jun 5, 2026')")


def parse_analytics_csv(source: str | Path | io.TextIOBase) -> pa.Table:
    """Read a tweet-activity or daily export; which one is told by its header (``Tweet id`` or ``Date``)."""
    text = source.read() if isinstance(source, io.TextIOBase) else Path(source).read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    lower = {h.lower(): h for h in header}
    id_column = "tweet id" if "tweet id" in lower else "post id" if "post id" in lower else None
    per_tweet = id_column is not None
    if not per_tweet and "date" not in lower:
        raise DataError(
            f"not an analytics export: expected a 'Tweet id', 'Post id' or 'Date' column, found {header[:5]}"
        )
    out: dict[str, list[Any]] = {k: [] for k in (C.TWEET_ID, C.ENGAGEMENT_TYPE, C.DAY, C.VALUE, C.SOURCE)}
    for line, row in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "") for k, v in row.items()}
        tweet_id = row[id_column].strip() if id_column else None
        if tweet_id is not None and not tweet_id.isdigit():
            raise DataError(
                f"line {line}: Tweet id {tweet_id!r} is not digits (was the file re-saved by a spreadsheet?)"
            )
        day = None if per_tweet else _day(row["date"], f"line {line}")
        for column, value in row.items():
            promoted = column.startswith("promoted ")
            name = CSV_METRIC_NAMES.get(column.removeprefix("promoted "))
            if name is None:
                continue
            count = _count(value, f"line {line}, column {column!r}")
            if count is None:
                continue
            out[C.TWEET_ID].append(tweet_id)
            out[C.ENGAGEMENT_TYPE].append(name)
            out[C.DAY].append(day)
            out[C.VALUE].append(count)
            out[C.SOURCE].append("analytics_csv.promoted" if promoted else "analytics_csv")
    return sourced_table(out, grain="total" if per_tweet else "day", grouping="analytics_csv")
