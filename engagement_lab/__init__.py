"""engagement_lab: A/B benchmarking of tweet engagement on the X/Twitter Engagement API."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import catalog, columns
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

try:
    __version__ = version("engagement-lab")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

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
