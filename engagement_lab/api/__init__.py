"""The only package that touches the network: auth, one-request client, pacing, archive, fetch."""

from __future__ import annotations

from .analytics import AnalyticsClient, fetch_analytics
from .archive import Archive
from .auth import AccountTokens, BearerAuth, Credentials, OAuth1Auth, OAuth2Token, Secret
from .client import BEARER, AsyncEngagementClient, EngagementClient, RawResponse
from .fetch import fetch, route
from .oauth2 import LoopbackRedirect, OAuth2UserAuth, PKCEFlow
from .pacing import Clock, RateLimiter, RetryPolicy, SystemClock
from .result import FetchResult
from .tokens import authorize_pin, request_bearer_token

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
