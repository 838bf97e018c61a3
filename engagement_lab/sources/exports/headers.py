"""What an analytics export's header line holds: metric names, attribute columns and the header test.

The names are shared by the row reader (:mod:`.rows`, which must tell a header line from a data line anywhere
in a file) and the parser (:mod:`.parse`, which maps columns to tidy ``engagement_type`` names).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ATTRIBUTE_COLUMNS",
    "CSV_METRIC_NAMES",
    "DERIVED_COLUMNS",
    "KEY_COLUMNS",
    "TEXT_COLUMNS",
    "is_export_header",
    "metric_name",
]

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
KEY_COLUMNS = ("tweet id", "post id", "date")
"""The columns that say which tweet or day a row is about; an export header has at least one."""
TEXT_COLUMNS = frozenset({"tweet text", "post text", "tweet permalink", "post link"})
"""Free text: a tweet may start with ``=``, so only these columns are never read as a spreadsheet formula."""


def metric_name(column: str) -> str | None:
    """The tidy ``engagement_type`` of a lower-case CSV column (``"promoted likes"`` -> ``"favorites"``), or None.

    Examples
    --------
    >>> metric_name("promoted likes"), metric_name("engagement rate")
    ('favorites', None)
    """
    return CSV_METRIC_NAMES.get(column.removeprefix("promoted "))


def is_export_header(cells: Sequence[str]) -> bool:
    """Whether a CSV line is an analytics export's header: a tweet id, post id or date column and at least one
    metric column (so a data line, or another program's CSV with a ``date`` column, is not taken for one).

    Examples
    --------
    >>> is_export_header(["Post id", "Date", "Impressions"]), is_export_header(["date", "temperature"])
    (True, False)
    """
    lower = [c.strip().lower() for c in cells]
    return any(k in lower for k in KEY_COLUMNS) and any(metric_name(c) is not None for c in lower)
