"""engagement_lab: A/B benchmarking of tweet engagement from the X/Twitter Engagement API, X API v2 analytics and
analytics exports.

The package, by layer (each imports only the layers listed after it):

- ``cli``: the ``engagement-lab`` command.
- ``report``, ``demo``, ``datasets``: the report notebook, the end-to-end demo, the sample data.
- ``watch``: the threshold watcher (rules, durable state, actions, polling loop).
- ``sources``: one folder per source of numbers (``engagement``, ``x_v2``, ``exports``), the same file names in
  each (catalog, rules, query, client, fetch, parse, sandbox, watch), and the registry that names them.
- ``sandbox``: the local server both APIs are tested against; it mounts each source's routes.
- ``api``: the only network code: auth, tokens, pacing, the archive and the one retry runner.
- ``stats``, ``viz``, ``timeseries``: comparisons, charts, time series (pure).
- ``load``: inputs, observations, the archive reader, compaction and ``per_tweet`` (pure).
- ``errors``, ``columns``, ``ids``, ``timeutil``, ``options``, ``metrics``, ``locking``: the shared vocabulary.

The words the code uses, one per idea, are listed in ``docs/vocabulary.md``.
"""

from __future__ import annotations

import importlib as _importlib
import sys as _sys
import types as _types
import typing as _typing
import warnings as _warnings
from importlib import abc as _abc
from importlib import machinery as _machinery

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
    InflationLimitError,
    LockError,
    NotAcceptableError,
    QueryError,
    RateLimitError,
    ResponseFormatError,
    ResponseTooLargeError,
    ServerError,
    StatsInputError,
    StorageError,
    did_you_mean,
)

if _typing.TYPE_CHECKING:
    from . import columns, stats, timeseries, viz
    from .api import Credentials, FetchResult
    from .ids import parse_tweet_id, parse_tweet_ids, tweet_created_at
    from .load import (
        CompactResult,
        LoadReport,
        compact,
        load,
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
    from .report import render_report
    from .sandbox import Sandbox
    from .sources.engagement import catalog
    from .sources.engagement.fetch import fetch
    from .sources.engagement.query import EngagementQuery, EngagementRequest
    from .sources.x_v2.fetch import fetch_analytics
    from .sources.x_v2.query import AnalyticsQuery, MediaAnalyticsQuery
    from .stats import AACheck, Comparison, Plan, Summary, aa_check, omnibus, plan, summarize
    from .stats.compare import compare
    from .viz import enable_offline, save_chart

# Where each public name lives. The package imports only its errors; pandas, polars, scipy, httpx and Altair load
# with the first name that needs them (``import engagement_lab`` stays well under half a second).
_LAZY = {
    "columns": ".columns",
    "load": ".load",
    "catalog": ".sources.engagement.catalog",
    **dict.fromkeys(["AnalyticsQuery", "MediaAnalyticsQuery"], ".sources.x_v2.query"),
    **dict.fromkeys(["Credentials", "FetchResult"], ".api"),
    "fetch": ".sources.engagement.fetch",
    "fetch_analytics": ".sources.x_v2.fetch",
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
    **dict.fromkeys(["EngagementQuery", "EngagementRequest"], ".sources.engagement.query"),
    "Sandbox": ".sandbox",
    **dict.fromkeys(
        ["AACheck", "Comparison", "Plan", "Summary", "aa_check", "compare", "omnibus", "plan", "summarize"], ".stats"
    ),
    **dict.fromkeys(["enable_offline", "save_chart"], ".viz"),
    "render_report": ".report",
    "stats": ".stats",
    "timeseries": ".timeseries",
    "viz": ".viz",
}
_MODULES = frozenset({"columns", "catalog", "load", "stats", "timeseries", "viz"})
"""Public names that are modules (the rest are attributes of the module named in ``_LAZY``). ``load`` is the
``engagement_lab.load`` package, which is callable (it is :func:`engagement_lab.load.load`): one object whichever
is imported first, since Python sets a subpackage as its parent's attribute."""

MOVED: _typing.Final = {
    "analytics_query": "sources.x_v2.query",
    "archive_format": "load.archive_format",
    "catalog": "sources.engagement.catalog",
    "catalog_v2": "sources.x_v2.catalog",
    "query": "sources.engagement.query",
    "rules": "sources.engagement.rules",
    "report_parts": "report.parts",
    "api.analytics": "sources.x_v2.fetch",
    "api.client": "sources.engagement.client",
    "api.fetch": "sources.engagement.fetch",
    "load.analytics": "sources.x_v2.parse",
    "load.analytics_csv": "sources.exports.parse",
    "load.combine": "load.observations",
    "load.engagement": "sources.engagement.parse",
    "load.engagement_bytes": "sources.engagement.parse_bytes",
    "load.sources": "load.inputs",
    "load.v2": "sources.x_v2.parse_posts",
    "sandbox.responses": "sources.engagement.sandbox",
    "sandbox.v2": "sources.x_v2.sandbox",
    "watch.sources": "watch.readers",
}
"""Module paths of the previous release and where they live now: importing an old path still works, for one
release, with a DeprecationWarning naming the new one."""


class _MovedModules(_abc.MetaPathFinder, _abc.Loader):
    """Answers ``import engagement_lab.<old path>`` with the module at its new path (the same module object)."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> _machinery.ModuleSpec | None:
        prefix = f"{__name__}."
        if not fullname.startswith(prefix) or fullname.removeprefix(prefix) not in MOVED:
            return None
        return _machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: _machinery.ModuleSpec) -> _types.ModuleType:
        new = f"{__name__}.{MOVED[spec.name.removeprefix(__name__ + '.')]}"
        _warnings.warn(
            f"{spec.name} moved to {new}; the old path works for one more release", DeprecationWarning, stacklevel=2
        )
        return _importlib.import_module(new)

    def exec_module(self, module: _types.ModuleType) -> None:
        """Nothing to run: the module at the new path is already imported."""


if not any(isinstance(finder, _MovedModules) for finder in _sys.meta_path):
    _sys.meta_path.append(_MovedModules())

__all__ = [
    "NAMED_METRICS",
    "AACheck",
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
    "InflationLimitError",
    "LoadReport",
    "LockError",
    "Mean",
    "MediaAnalyticsQuery",
    "NotAcceptableError",
    "Plan",
    "QueryError",
    "RateLimitError",
    "Ratio",
    "ResponseFormatError",
    "ResponseTooLargeError",
    "Sandbox",
    "ServerError",
    "StatsInputError",
    "StorageError",
    "Summary",
    "__version__",
    "aa_check",
    "catalog",
    "columns",
    "compact",
    "compare",
    "enable_offline",
    "fetch",
    "fetch_analytics",
    "load",
    "load_analytics",
    "load_analytics_csv",
    "load_archive",
    "load_response",
    "load_v2",
    "omnibus",
    "parse_tweet_id",
    "parse_tweet_ids",
    "per_tweet",
    "plan",
    "render_report",
    "save_chart",
    "scan",
    "stats",
    "summarize",
    "timeseries",
    "to_parquet",
    "tweet_created_at",
    "viz",
]


def lazy_attributes(
    package: str,
    where: _typing.Mapping[str, str],
    namespace: dict[str, _typing.Any],
    *,
    modules: frozenset[str] = frozenset(),
) -> _typing.Callable[[str], _typing.Any]:
    """A package's ``__getattr__`` (PEP 562) that imports the module behind a name on first use, then keeps the
    value as an ordinary attribute. ``where`` maps each name to its module (relative to ``package``); names in
    ``modules`` are the modules themselves. An unknown name gets the closest known one."""

    def __getattr__(name: str) -> _typing.Any:
        found = where.get(name)
        if found is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}{did_you_mean(name, where)}")
        module = _importlib.import_module(found, package)
        value = module if name in modules else getattr(module, name)
        namespace[name] = value
        return value

    return __getattr__


__getattr__ = lazy_attributes(__name__, _LAZY, globals(), modules=_MODULES)


def __dir__() -> list[str]:
    """Tab completion shows the public API (not the subpackages and typing names imported along the way)."""
    return sorted(__all__)
