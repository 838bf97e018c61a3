"""X API v2 tweet lookups (``public_metrics``, ``non_public_metrics``, ``organic_metrics``,
``promoted_metrics`` and media metrics) -> the tidy schema, metric names mapped to the catalog's."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from .. import columns as C
from ..errors import ResponseFormatError
from .engagement import SOURCED_SCHEMA, sourced_table

__all__ = ["V2_METRIC_NAMES", "V2_SCHEMA", "parse_v2"]

V2_METRIC_NAMES = {
    "retweet_count": "retweets",
    "repost_count": "retweets",
    "reply_count": "replies",
    "like_count": "favorites",
    "quote_count": "quote_tweets",
    "impression_count": "impressions",
    "bookmark_count": "bookmarks",
    "url_link_clicks": "url_clicks",
    "user_profile_clicks": "user_profile_clicks",
    "engagements": "engagements",
    "view_count": "video_views",
    "playback_0_count": "video_playback_0",
    "playback_25_count": "video_playback_25",
    "playback_50_count": "video_playback_50",
    "playback_75_count": "video_playback_75",
    "playback_100_count": "video_playback_100",
}
"""v2 field -> tidy ``engagement_type`` (catalog names where one exists; ``bookmarks`` and video
playback quartiles have no Engagement API counterpart and keep a descriptive name)."""

_SECTIONS = ("public_metrics", "non_public_metrics", "organic_metrics", "promoted_metrics")
V2_SCHEMA = SOURCED_SCHEMA


def _rows_of(tweet_id: str, section: str, metrics: object, where: str, out: dict[str, list[Any]]) -> None:
    if not isinstance(metrics, dict):
        raise ResponseFormatError(f"{section} must be an object, got {type(metrics).__name__}", path=where)
    for field, value in metrics.items():
        if type(value) is not int or value < 0:
            raise ResponseFormatError(
                f"{field} must be a non-negative JSON integer, got {value!r}", path=f"{where}[{field!r}]"
            )
        out[C.TWEET_ID].append(tweet_id)
        out[C.ENGAGEMENT_TYPE].append(V2_METRIC_NAMES.get(field, field))
        out[C.VALUE].append(value)
        out[C.SOURCE].append(f"v2.{section}")


def parse_v2(payload: Any) -> pa.Table:
    """A v2 tweet lookup response (``data`` a list or one object, optional ``includes.media``)."""
    if not isinstance(payload, dict) or "data" not in payload:
        raise ResponseFormatError("a v2 response is an object with a 'data' member")
    tweets = payload["data"] if isinstance(payload["data"], list) else [payload["data"]]
    media = {m.get("media_key"): m for m in payload.get("includes", {}).get("media", []) if isinstance(m, dict)}
    out: dict[str, list[Any]] = {C.TWEET_ID: [], C.ENGAGEMENT_TYPE: [], C.VALUE: [], C.SOURCE: []}
    for i, tweet in enumerate(tweets):
        where = f"$['data'][{i}]"
        if not isinstance(tweet, dict) or not isinstance(tweet.get("id"), str):
            raise ResponseFormatError("each tweet needs a string 'id' (v2 ids are strings)", path=where)
        for section in _SECTIONS:
            if section in tweet:
                _rows_of(tweet["id"], section, tweet[section], f"{where}[{section!r}]", out)
        for key in tweet.get("attachments", {}).get("media_keys", []):
            item = media.get(key, {})
            for section in _SECTIONS:
                if section in item:
                    _rows_of(
                        tweet["id"],
                        f"media.{section}",
                        item[section],
                        f"$['includes']['media'][{key!r}]",
                        out,
                    )
    return sourced_table(out, grain="total", grouping="v2")
