"""Pure data: X API v2 post and media analytics (``GET /2/tweets/analytics``, ``GET /2/media/analytics``).

Every fact comes from ``shared/spec/x-api-v2-analytics.md`` (section in brackets). The choices the spec leaves
open (its §6) are named ``..._CHOICE`` and documented where they are made. Nothing here does work.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

V2_BASE_URL: Final = "https://api.x.com"
POSTS_PATH: Final = "/2/tweets/analytics"
MEDIA_PATH: Final = "/2/media/analytics"
TWEETS_PATH: Final = "/2/tweets"
ME_PATH: Final = "/2/users/me"
"""Who a user token belongs to (``data.username``): how ``auth oauth2`` names the account it saves."""
AUTHORIZE_URL: Final = "https://x.com/i/oauth2/authorize"
TOKEN_PATH: Final = "/2/oauth2/token"
SCOPES: Final = ("tweet.read", "users.read", "offline.access")
"""``tweet.read`` and ``users.read`` are required [§2]; ``offline.access`` yields a refresh token."""

POST_GRANULARITIES: Final = ("hourly", "daily", "weekly", "total")  # [§2] default "total"
MEDIA_GRANULARITIES: Final = ("hourly", "daily", "total")  # [§3] default "daily"

POST_FIELDS: Final = (
    "app_install_attempts",
    "app_opens",
    "bookmarks",
    "detail_expands",
    "email_tweet",
    "engagements",
    "follows",
    "hashtag_clicks",
    "id",
    "impressions",
    "likes",
    "media_views",
    "permalink_clicks",
    "quote_tweets",
    "replies",
    "retweets",
    "shares",
    "timestamp",
    "timestamped_metrics",
    "unfollows",
    "unlikes",
    "url_clicks",
    "user_profile_clicks",
)
"""``analytics.fields`` [§2], in the spec's order."""
MEDIA_FIELDS: Final = (
    "cta_url_clicks",
    "cta_watch_clicks",
    "media_key",
    "play_from_tap",
    "playback25",
    "playback50",
    "playback75",
    "playback_complete",
    "playback_start",
    "timestamp",
    "timestamped_metrics",
    "video_views",
    "watch_time_ms",
)
"""``media_analytics.fields`` [§3]."""
STRUCTURAL_FIELDS: Final = frozenset({"id", "media_key", "timestamp", "timestamped_metrics"})
POST_METRICS: Final = tuple(f for f in POST_FIELDS if f not in STRUCTURAL_FIELDS)
MEDIA_METRICS: Final = tuple(f for f in MEDIA_FIELDS if f not in STRUCTURAL_FIELDS)

MAX_IDS: Final = 100  # [§2, §3] per request
ID_PATTERN: Final = r"^[0-9]{1,19}$"
MEDIA_KEY_PATTERN: Final = r"^([0-9]+)_([0-9]+)$"

MAX_WINDOW_CHOICE: Final = timedelta(days=31)
"""Longest ``start_time``..``end_time`` per request. Undocumented [§6]; 31 days is our choice (configurable
per query), so a longer range is split into contiguous windows."""

RATE_LIMIT: Final = 300
RATE_WINDOW_SECONDS: Final = 900.0
"""300 requests per 15 minutes per app and per user [§2]."""
HEADER_LIMIT: Final = "x-rate-limit-limit"
HEADER_REMAINING: Final = "x-rate-limit-remaining"
HEADER_RESET: Final = "x-rate-limit-reset"
RATE_LIMIT_HEADERS: Final = (HEADER_LIMIT, HEADER_REMAINING, HEADER_RESET)

PROBLEM_PREFIX: Final = "https://api.x.com/2/problems/"
"""[§4] RFC 7807 problem types (``invalid-request``, ``resource-not-found``, ``not-authorized-for-resource``...)
follow this prefix; per-id failures arrive as these inside a 200."""

TO_ENGAGEMENT_NAMES: Final = {"likes": "favorites", "follows": "user_follows"}
"""v2 metric names (from the spec's enum) that mean what an Engagement API name means, renamed on load so every
downstream tool (named rates, the watcher's rules, reports) reads them unchanged. The other shared names are
spelled the same in both APIs (impressions, engagements, retweets, replies, quote_tweets, url_clicks,
media_views, detail_expands, hashtag_clicks, permalink_clicks, app_install_attempts, app_opens, email_tweet,
user_profile_clicks). v2-only metrics (bookmarks, shares, unfollows, unlikes, the media playback counters) keep
their names. Names outside the enum, such as ``link_clicks``, ``media_engagements`` and ``profile_visits`` in
the docs' example [§2], are kept under their own names and reported, never merged into a similar metric: a
guess could count one click twice."""
FROM_ENGAGEMENT_NAMES: Final = {name: v2_name for v2_name, name in TO_ENGAGEMENT_NAMES.items()}
"""The same table the other way: an Engagement API name -> the v2 field that serves it."""
