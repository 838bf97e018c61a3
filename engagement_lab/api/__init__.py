"""The only package that touches the network: auth, one-request client, pacing, archive, fetch."""

from __future__ import annotations

from .archive import Archive
from .auth import AccountTokens, BearerAuth, Credentials, OAuth1Auth, Secret
from .client import BEARER, AsyncEngagementClient, EngagementClient, RawResponse
from .fetch import fetch, route
from .pacing import Clock, RateLimiter, RetryPolicy, SystemClock
from .result import FetchResult
from .tokens import authorize_pin, request_bearer_token

__all__ = [
    "BEARER",
    "AccountTokens",
    "Archive",
    "AsyncEngagementClient",
    "BearerAuth",
    "Clock",
    "Credentials",
    "EngagementClient",
    "FetchResult",
    "OAuth1Auth",
    "RateLimiter",
    "RawResponse",
    "RetryPolicy",
    "Secret",
    "SystemClock",
    "authorize_pin",
    "fetch",
    "request_bearer_token",
    "route",
]
