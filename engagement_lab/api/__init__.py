"""The only package that touches the network: auth, tokens, pacing, the archive, the HTTP client base and the one
retry runner that every source's fetch uses. Each source's client and fetch live in ``sources/<name>/``; the most
used are reachable from here too (``from engagement_lab.api import fetch``)."""

from __future__ import annotations

import typing as _typing

from .. import lazy_attributes
from .archive import Archive
from .auth import BEARER, AccountTokens, BearerAuth, Credentials, OAuth1Auth, OAuth2Token, Secret
from .http import RawResponse
from .oauth2 import LoopbackRedirect, OAuth2UserAuth, PKCEFlow
from .pacing import Clock, RateLimiter, RetryPolicy, SystemClock
from .result import FetchResult
from .tokens import authorize_pin, request_bearer_token

if _typing.TYPE_CHECKING:
    from ..sources.engagement.client import AsyncEngagementClient, EngagementClient
    from ..sources.engagement.fetch import fetch, route
    from ..sources.x_v2.client import AnalyticsClient
    from ..sources.x_v2.fetch import fetch_analytics

# The sources import this package, so their clients and fetches are reached lazily (no import cycle).
_FROM_SOURCES = {
    "AsyncEngagementClient": "..sources.engagement.client",
    "EngagementClient": "..sources.engagement.client",
    "fetch": "..sources.engagement.fetch",
    "route": "..sources.engagement.fetch",
    "AnalyticsClient": "..sources.x_v2.client",
    "fetch_analytics": "..sources.x_v2.fetch",
}

__all__ = [
    "BEARER",
    "AccountTokens",
    "AnalyticsClient",
    "Archive",
    "AsyncEngagementClient",
    "BearerAuth",
    "Clock",
    "Credentials",
    "EngagementClient",
    "FetchResult",
    "LoopbackRedirect",
    "OAuth1Auth",
    "OAuth2Token",
    "OAuth2UserAuth",
    "PKCEFlow",
    "RateLimiter",
    "RawResponse",
    "RetryPolicy",
    "Secret",
    "SystemClock",
    "authorize_pin",
    "fetch",
    "fetch_analytics",
    "request_bearer_token",
    "route",
]


__getattr__ = lazy_attributes(__name__, _FROM_SOURCES, globals())
