"""X API v2 tweet payloads -> the tidy schema, metric names mapped to the catalog's.

Shapes read: a response page (``data`` a list or one object, optional ``includes.media`` and ``errors``), a
twarc2 file of such pages (JSON Lines, twarc2's default output, optionally gzip-compressed) and twarc's
"flattened" output (one tweet object per line, media inlined under ``attachments.media``). Each tweet's metric
objects (``public_metrics``, ``non_public_metrics``, ``organic_metrics``, ``promoted_metrics``) and those of
its media become rows with a ``source`` naming the object. Tweets that a page only references (quoted,
replied-to, pinned) are not loaded: their counts are someone else's. The observation time of a page or tweet
is twarc's ``__twarc.retrieved_at`` where present.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from ... import columns as C
from ...errors import ResponseFormatError
from ...load.report import LoadReport
from ...load.schema import sourced_table
from ..kinds import document_kind, wrong_loader

__all__ = ["V2_METRIC_NAMES", "observed_at", "parse_v2"]

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
_USER_METRICS = frozenset({"followers_count", "following_count", "tweet_count", "listed_count"})


def observed_at(document: object) -> datetime | None:
    """twarc's record of when it fetched a page or tweet (``__twarc.retrieved_at``), if any."""
    meta = document.get("__twarc") if isinstance(document, dict) else None
    value = meta.get("retrieved_at") if isinstance(meta, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _refuse_non_tweets(obj: dict[str, Any], where: str) -> None:
    metrics = obj.get("public_metrics")
    if "username" in obj or (isinstance(metrics, dict) and _USER_METRICS & metrics.keys()):
        raise ResponseFormatError(
            "this is a v2 users payload (user objects with username/followers_count), not tweets; "
            "load tweet lookups (GET /2/tweets with tweet.fields=public_metrics,...) or twarc2 tweet files",
            path=where,
        )
    if "media_key" in obj and "id" not in obj:
        raise ResponseFormatError(
            "this is a media object, not a tweet; load the tweet page that includes it", path=where
        )


def _rows_of(tweet_id: str, section: str, metrics: object, where: str, out: dict[str, list[Any]]) -> None:
    if not isinstance(metrics, dict):
        raise ResponseFormatError(f"{section} must be an object, got {type(metrics).__name__}", path=where)
    for field, value in metrics.items():
        if type(value) is not int or not 0 <= value < 2**63:
            raise ResponseFormatError(
                f"{field} must be a non-negative JSON integer (below 2**63), got {value!r}", path=f"{where}[{field!r}]"
            )
        out[C.TWEET_ID].append(tweet_id)
        out[C.ENGAGEMENT_TYPE].append(V2_METRIC_NAMES.get(field, field))
        out[C.VALUE].append(value)
        out[C.SOURCE].append(f"v2.{section}")


def _created(tweet: dict[str, Any], where: str) -> datetime | None:
    value = tweet.get("created_at")
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise ResponseFormatError(
            f"created_at {value!r} is not an ISO 8601 time", path=f"{where}['created_at']"
        ) from None


def _list(holder: dict[str, Any], key: str, where: str) -> list[Any]:
    """``holder[key]`` when it is a list (absent or null: empty); anything else is refused naming where."""
    value = holder.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ResponseFormatError(f"{key!r} must be an array, got {type(value).__name__}", path=f"{where}[{key!r}]")
    return value


def _media_key(value: object, where: str) -> str:
    """A media key: v2 sends strings such as ``"3_1346889436626259968"``; a number or an object is refused."""
    if not isinstance(value, str):
        raise ResponseFormatError(
            f"a media key is a string such as '3_1346889436626259968', got {type(value).__name__}", path=where
        )
    return value


def _tweet_rows(
    tweet: object, where: str, media: dict[Any, Any], out: dict[str, list[Any]], created: list[datetime | None]
) -> None:
    if not isinstance(tweet, dict):
        raise ResponseFormatError("each tweet must be an object", path=where)
    _refuse_non_tweets(tweet, where)
    if not isinstance(tweet.get("id"), str):
        raise ResponseFormatError("each tweet needs a string 'id' (v2 ids are strings)", path=where)
    before = len(out[C.VALUE])
    for section in _SECTIONS:
        if section in tweet:
            _rows_of(tweet["id"], section, tweet[section], f"{where}[{section!r}]", out)
    attachments = tweet["attachments"] if isinstance(tweet.get("attachments"), dict) else {}
    at = f"{where}['attachments']"
    inline = [m for m in _list(attachments, "media", at) if isinstance(m, dict)]  # twarc's flattened layout
    keys = [_media_key(key, f"{at}['media_keys'][{j}]") for j, key in enumerate(_list(attachments, "media_keys", at))]
    items = inline or [media.get(key, {}) for key in keys]
    for item in items:
        for section in _SECTIONS:
            if section in item:
                path = f"$['includes']['media'][{item.get('media_key')!r}]"
                _rows_of(tweet["id"], f"media.{section}", item[section], path, out)
    created.extend([_created(tweet, where)] * (len(out[C.VALUE]) - before))


def _problems(payload: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A page's ``errors`` as readable lines, and the ids they say are missing (not found, protected...)."""
    errors = payload.get("errors", [])
    if not isinstance(errors, list):
        return (), ()
    lines, ids = [], []
    for problem in errors:
        if not isinstance(problem, dict):
            lines.append(str(problem))
            continue
        lines.append(str(problem.get("detail") or problem.get("title") or problem))
        resource = problem.get("resource_id") or problem.get("value")
        if problem.get("resource_type") in (None, "tweet") and isinstance(resource, str) and resource.isdigit():
            ids.append(resource)
    return tuple(lines), tuple(dict.fromkeys(ids))


def parse_v2(payload: Any) -> tuple[pa.Table, LoadReport]:
    """A v2 page (``data`` plus optional ``includes``/``errors``) or one flattened tweet -> tidy rows."""
    if not isinstance(payload, dict):
        raise ResponseFormatError(f"a v2 payload is a JSON object, got {type(payload).__name__}")
    other = wrong_loader(document_kind(payload), "v2_posts", "this document")
    if other:  # an analytics answer's items have ids but no metric sections: they would give no rows
        raise ResponseFormatError(other)
    out: dict[str, list[Any]] = {C.TWEET_ID: [], C.ENGAGEMENT_TYPE: [], C.VALUE: [], C.SOURCE: []}
    created: list[datetime | None] = []
    errors, missing = _problems(payload)
    if "data" in payload:
        tweets = payload["data"] if isinstance(payload["data"], list) else [payload["data"]]
        includes = payload["includes"] if isinstance(payload.get("includes"), dict) else {}
        media = {
            _media_key(m.get("media_key"), f"$['includes']['media'][{j}]['media_key']"): m
            for j, m in enumerate(_list(includes, "media", "$['includes']"))
            if isinstance(m, dict) and "media_key" in m
        }
        for i, tweet in enumerate(tweets):
            _tweet_rows(tweet, f"$['data'][{i}]", media, out, created)
    elif "id" in payload or "username" in payload:
        _tweet_rows(payload, "$", {}, out, created)
    elif "errors" not in payload:
        raise ResponseFormatError(
            f"not a v2 tweet payload: expected 'data' (a response page) or a tweet object with 'id', "
            f"found keys {sorted(payload)[:6]}"
        )
    table = sourced_table(out, grain="total", grouping="v2")
    table = table.append_column(C.CREATED_AT, pa.array(created, pa.timestamp("us", tz="UTC")))
    return table, LoadReport(errors=errors, unavailable_tweet_ids=missing, n_rows=table.num_rows)
