"""engagement_lab: A/B benchmarking of tweet engagement on the X/Twitter Engagement API."""

from __future__ import annotations

import typing as _typing

from . import catalog, columns
from ._version import __version__
from .analytics_query import AnalyticsQuery, MediaAnalyticsQuery
from .api import Credentials, FetchResult, fetch, fetch_analytics
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
    LockError,
    NotAcceptableError,
    QueryError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    StatsInputError,
)
from .ids import parse_tweet_id, parse_tweet_ids, tweet_created_at
from .load import (
    LoadReport,
    load_analytics,
    load_analytics_csv,
    load_archive,
    load_response,
    load_v2,
    per_tweet,
    scan,
    to_parquet,
)
from .metrics import NAMED_METRICS, Mean, Ratio
from .query import EngagementQuery, EngagementRequest
from .sandbox import Sandbox
from .stats import Comparison, Summary, compare, omnibus, summarize

__all__ = [
    "NAMED_METRICS",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AnalyticsQuery",
    "AuthenticationError",
    "BadRequestError",
    "Comparison",
    "ConfigError",
    "Credentials",
    "DataError",
    "EngagementLabError",
    "EngagementQuery",
    "EngagementRequest",
    "FetchResult",
    "ForbiddenError",
    "LoadReport",
    "LockError",
    "Mean",
    "MediaAnalyticsQuery",
    "NotAcceptableError",
    "QueryError",
    "RateLimitError",
    "Ratio",
    "ResponseFormatError",
    "Sandbox",
    "ServerError",
    "StatsInputError",
    "Summary",
    "__version__",
    "catalog",
    "columns",
    "compare",
    "enable_offline",
    "fetch",
    "fetch_analytics",
    "load_analytics",
    "load_analytics_csv",
    "load_archive",
    "load_response",
    "load_v2",
    "omnibus",
    "parse_tweet_id",
    "parse_tweet_ids",
    "per_tweet",
    "save_chart",
    "scan",
    "summarize",
    "to_parquet",
    "tweet_created_at",
]


def __getattr__(name: str) -> _typing.Any:
    """Chart helpers load Altair (about a second): import them on first use, not with the package."""
    if name in ("enable_offline", "save_chart"):
        from . import viz

        return getattr(viz, name)
    raise AttributeError(f"module 'engagement_lab' has no attribute {name!r}")


def __dir__() -> list[str]:
    """Tab completion shows the public API (not the subpackages and typing names imported along the way)."""
    return sorted(__all__)
