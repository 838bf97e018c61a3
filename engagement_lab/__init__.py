"""engagement_lab: A/B benchmarking of tweet engagement on the X/Twitter Engagement API."""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

from . import catalog
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
    LockError,
    NotAcceptableError,
    QueryError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    StatsInputError,
    did_you_mean,
)

if _typing.TYPE_CHECKING:
    from . import columns
    from .analytics_query import AnalyticsQuery, MediaAnalyticsQuery
    from .api import Credentials, FetchResult, fetch_analytics
    from .api.fetch import fetch
    from .ids import parse_tweet_id, parse_tweet_ids, tweet_created_at
    from .load import (
        CompactResult,
        LoadReport,
        compact,
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
    from .stats import Comparison, Summary, omnibus, summarize
    from .stats.compare import compare
    from .viz import enable_offline, save_chart

# Where each public name lives. The package imports only its errors and catalog; pandas, polars, scipy, httpx and
# Altair load with the first name that needs them (``import engagement_lab`` stays well under half a second).
_LAZY = {
    "columns": "",
    **dict.fromkeys(["AnalyticsQuery", "MediaAnalyticsQuery"], ".analytics_query"),
    **dict.fromkeys(["Credentials", "FetchResult", "fetch", "fetch_analytics"], ".api"),
    **dict.fromkeys(["parse_tweet_id", "parse_tweet_ids", "tweet_created_at"], ".ids"),
    **dict.fromkeys(
        [
            "CompactResult",
            "LoadReport",
            "compact",
            "load_analytics",
            "load_analytics_csv",
            "load_archive",
            "load_response",
            "load_v2",
            "per_tweet",
            "scan",
            "to_parquet",
        ],
        ".load",
    ),
    **dict.fromkeys(["NAMED_METRICS", "Mean", "Ratio"], ".metrics"),
    **dict.fromkeys(["EngagementQuery", "EngagementRequest"], ".query"),
    "Sandbox": ".sandbox",
    **dict.fromkeys(["Comparison", "Summary", "compare", "omnibus", "summarize"], ".stats"),
    **dict.fromkeys(["enable_offline", "save_chart"], ".viz"),
}

__all__ = [
    "NAMED_METRICS",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AnalyticsQuery",
    "AuthenticationError",
    "BadRequestError",
    "CompactResult",
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
    "compact",
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
    """Import the module behind a public name on first use (then it is an ordinary attribute)."""
    where = _LAZY.get(name)
    if where is None:
        hint = did_you_mean(name, __all__)
        raise AttributeError(f"module 'engagement_lab' has no attribute {name!r}{hint}")
    module = _importlib.import_module(where or f".{name}", __name__)
    value = module if not where else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """Tab completion shows the public API (not the subpackages and typing names imported along the way)."""
    return sorted(__all__)
