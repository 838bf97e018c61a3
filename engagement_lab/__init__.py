"""engagement_lab: A/B benchmarking of tweet engagement on the X/Twitter Engagement API."""

from __future__ import annotations

from . import catalog, columns
from ._version import __version__
from .errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigError,
    DataError,
    EngagementLabError,
    ForbiddenError,
    NotAcceptableError,
    QueryError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    StatsInputError,
)
from .ids import parse_tweet_id, parse_tweet_ids, tweet_created_at
from .query import EngagementQuery, EngagementRequest

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigError",
    "DataError",
    "EngagementLabError",
    "EngagementQuery",
    "EngagementRequest",
    "ForbiddenError",
    "NotAcceptableError",
    "QueryError",
    "RateLimitError",
    "ResponseFormatError",
    "ServerError",
    "StatsInputError",
    "__version__",
    "catalog",
    "columns",
    "parse_tweet_id",
    "parse_tweet_ids",
    "tweet_created_at",
]
