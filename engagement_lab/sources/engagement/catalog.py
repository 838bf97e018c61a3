"""Pure data: the Engagement API's endpoints, metrics, auth rules and limits.

Every fact here comes from ``shared/spec/engagement-api.md``; the section is named beside it. Nothing in
this module does work: ``query`` enforces these rules, the sandbox serves them, the loaders read by them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

EndpointName = Literal["totals", "28hr", "historical"]
AuthKind = Literal["user", "bearer"]

BASE_URL: Final = "https://data-api.twitter.com"
"""The real host (spec §1). ``data-api.x.com`` serves the same paths."""

PATH_PREFIX: Final = "/insights/engagement/"

# --- group_by (spec §3, §3.1) ---------------------------------------------------------------------
GROUP_BY_TWEET: Final = "tweet.id"
GROUP_BY_TYPE: Final = "engagement.type"
GROUP_BY_DAY: Final = "engagement.day"
GROUP_BY_HOUR: Final = "engagement.hour"
GROUP_BY_VALUES: Final = (GROUP_BY_TWEET, GROUP_BY_TYPE, GROUP_BY_DAY, GROUP_BY_HOUR)
TIME_GROUP_BY: Final = frozenset({GROUP_BY_DAY, GROUP_BY_HOUR})

FOUR_ITEM_ORDERS: Final = (
    (GROUP_BY_TWEET, GROUP_BY_TYPE, GROUP_BY_DAY, GROUP_BY_HOUR),
    (GROUP_BY_TYPE, GROUP_BY_TWEET, GROUP_BY_DAY, GROUP_BY_HOUR),
)
"""The only two legal four-item ``group_by`` orders; at most one such grouping per request."""

MAX_GROUPINGS: Final = 3
"""Docs say 3; an older sample allowed more (spec §10.1). Enforced as 3."""

# --- reserved response keys (spec §5.1) -----------------------------------------------------------
UNAVAILABLE_TWEET_IDS: Final = "unavailable_tweet_ids"
UNSUPPORTED_VIDEO_VIEWS: Final = "unsupported_for_video_views_tweet_ids"
UNSUPPORTED_IMPRESSIONS_ENGAGEMENTS: Final = "unsupported_for_impressions_engagements_tweet_ids"
RESERVED_KEYS: Final = frozenset(
    {
        "start",
        "end",
        "errors",
        UNAVAILABLE_TWEET_IDS,
        UNSUPPORTED_VIDEO_VIEWS,
        UNSUPPORTED_IMPRESSIONS_ENGAGEMENTS,
    }
)
"""Top-level response keys that are not groupings; grouping names must avoid them."""

# --- time rules (spec §3.2, §9) -------------------------------------------------------------------
MAX_WINDOW: Final = timedelta(days=28)
"""Longest ``/historical`` window, and the span of the default window when start and end are omitted."""
LAST_HOURS: Final = timedelta(hours=28)
"""What ``/28hr`` covers, ending at the request time."""
EARLIEST_START: Final = datetime(2014, 9, 1, tzinfo=UTC)
"""Earliest ``/historical`` start (API reference). Newer text says 365 days back (spec §10.3)."""
IMPRESSIONS_ENGAGEMENTS_MAX_AGE: Final = timedelta(days=90)
"""``/totals`` serves impressions and engagements only for Tweets at most this old."""
VIDEO_VIEWS_MAX_AGE: Final = timedelta(days=1800)
"""``video_views`` only for Tweets at most this old, on every endpoint."""


# --- rate limits (spec §8) ------------------------------------------------------------------------
HEADER_LIMIT: Final = "x-per-minute-limit"
HEADER_REMAINING: Final = "x-per-minute-remaining"
HEADER_RESET: Final = "x-per-minute-reset"
"""Unix epoch seconds when the per-minute window resets (third-party clients read it; spec §8)."""
RATE_LIMIT_HEADERS: Final = (HEADER_LIMIT, HEADER_REMAINING, HEADER_RESET)
RATE_WINDOW_SECONDS: Final = 60.0
"""The budget is per app and per minute (spec §8)."""


@dataclass(frozen=True)
class ApiMetric:
    """One ``engagement_types`` value.

    Attributes
    ----------
    name : str
        The API name, e.g. ``"impressions"``.
    description : str
        One line, in our own words.
    endpoints : frozenset of str
        Endpoints that accept it.
    public : bool
        True when app-only bearer auth may request it (on ``/totals`` only).
    """

    name: str
    description: str
    endpoints: frozenset[EndpointName]
    public: bool = False


_ALL: Final[frozenset[EndpointName]] = frozenset({"totals", "28hr", "historical"})
_SERIES: Final[frozenset[EndpointName]] = frozenset({"28hr", "historical"})

METRICS: Final[dict[str, ApiMetric]] = {
    m.name: m
    for m in (
        ApiMetric("impressions", "Times the Tweet was rendered on screen (organic only).", _ALL),
        ApiMetric("engagements", "All interactions with the Tweet, organic and promoted.", _ALL),
        ApiMetric("favorites", "Likes.", _ALL, public=True),
        ApiMetric("retweets", "Plain Retweets (quotes not included).", _ALL, public=True),
        ApiMetric("quote_tweets", "Retweets with added comment.", frozenset({"totals"}), public=True),
        ApiMetric("replies", "Replies to the Tweet.", _ALL, public=True),
        ApiMetric("video_views", "Video views by the MRC rule (50% visible for 2 s).", _ALL, True),
        ApiMetric("media_views", "Views of attached media (video, GIF, image).", _SERIES),
        ApiMetric("media_engagements", "Clicks on attached media.", _SERIES),
        ApiMetric("url_clicks", "Clicks on a link in the Tweet.", _SERIES),
        ApiMetric("hashtag_clicks", "Clicks on a hashtag in the Tweet.", _SERIES),
        ApiMetric("detail_expands", "Clicks that open the Tweet's detail view.", _SERIES),
        ApiMetric("permalink_clicks", "Clicks on the Tweet's permalink.", _SERIES),
        ApiMetric("app_install_attempts", "App installs started from an app card.", _SERIES),
        ApiMetric("app_opens", "App opens started from an app card.", _SERIES),
        ApiMetric("email_tweet", "Times the Tweet was shared by email.", _SERIES),
        ApiMetric("user_follows", "Follows of the author that came from this Tweet.", _SERIES),
        ApiMetric("user_profile_clicks", "Clicks through to the author's profile.", _SERIES),
    )
}
"""The 18 metric names, in the documented order (spec §4)."""

PLAIN_NAMES: Final = {
    "favorites": "likes",
    "retweets": "reposts",
    "quote_tweets": "quote posts",
    "media_engagements": "media clicks",
    "url_clicks": "link clicks",
    "email_tweet": "email shares",
    "user_follows": "follows",
    "user_profile_clicks": "profile clicks",
    "detail_expands": "detail expands",
}
"""What people call a metric in a report (plural nouns); a name missing here reads as itself without
underscores (``video_views`` -> "video views")."""

PUBLIC_METRICS: Final = frozenset(name for name, m in METRICS.items() if m.public)
RENAMED_METRICS: Final = {"media_clicks": "media_engagements"}
"""Legacy names and what replaced them (media_clicks was renamed on 2017-10-09)."""
AGE_LIMITED_ON_TOTALS: Final = frozenset({"impressions", "engagements"})


@dataclass(frozen=True)
class Endpoint:
    """One Engagement API endpoint and its request rules."""

    name: EndpointName
    max_tweet_ids: int
    group_by: tuple[str, ...]
    accepts_window: bool
    bearer_allowed: bool

    @property
    def path(self) -> str:
        """URL path, e.g. ``/insights/engagement/totals``."""
        return PATH_PREFIX + self.name

    @property
    def metrics(self) -> tuple[str, ...]:
        """Metric names this endpoint accepts, in catalog order."""
        return tuple(name for name, m in METRICS.items() if self.name in m.endpoints)


ENDPOINTS: Final[dict[EndpointName, Endpoint]] = {
    "totals": Endpoint("totals", 250, (GROUP_BY_TWEET, GROUP_BY_TYPE), False, True),
    "28hr": Endpoint("28hr", 25, GROUP_BY_VALUES, False, False),
    "historical": Endpoint("historical", 25, GROUP_BY_VALUES, True, False),
}

GROUPING_PRESETS: Final[dict[str, tuple[str, ...]]] = {
    "grand_total": (GROUP_BY_TYPE,),
    "per_tweet": (GROUP_BY_TWEET, GROUP_BY_TYPE),
    "daily": (GROUP_BY_TWEET, GROUP_BY_TYPE, GROUP_BY_DAY),
    "hourly": FOUR_ITEM_ORDERS[0],
    "hour_of_day": (GROUP_BY_TWEET, GROUP_BY_TYPE, GROUP_BY_HOUR),
}
"""Named groupings; a preset's grouping in the request is named after the preset."""

_RENAMED: Final = {
    "TWEET_ID": "GROUP_BY_TWEET",
    "ENGAGEMENT_TYPE": "GROUP_BY_TYPE",
    "ENGAGEMENT_DAY": "GROUP_BY_DAY",
    "ENGAGEMENT_HOUR": "GROUP_BY_HOUR",
    "Metric": "ApiMetric",
}
"""Names of the previous release: ``catalog.TWEET_ID`` ("tweet.id") read like ``columns.TWEET_ID`` ("tweet_id"),
and ``catalog.Metric`` like ``metrics.Metric``."""


def __getattr__(name: str) -> object:
    if name in _RENAMED:
        from ...options import deprecated

        deprecated(f"catalog.{name} is now catalog.{_RENAMED[name]}; the old name works for one more release")
        return globals()[_RENAMED[name]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
