"""Inputs of every kind -> tidy pandas or polars frames (pure, no network): the loaders, the archive reader,
compaction to Parquet and lazy scans, and ``per_tweet``.

Modules: ``inputs`` (a path, list, directory, glob, file object or payload -> one list), ``observations`` (one
number observed twice is kept once, the latest; never added), ``schema`` (the tidy columns as Arrow types),
``frames`` (Arrow -> pandas or polars), ``report`` (``LoadReport``), ``loaders``, ``everything`` (``load``: any
file, its kind read from its content), ``archive`` and ``archive_format``, ``compaction`` and ``parquet``,
``tweets`` and ``tweets_engine`` (``per_tweet``).

Called, the package is :func:`everything.load`: ``engagement_lab.load("downloads/")``.

Each source's parser (``sources/<name>/parse.py``) builds on the first five; this package's names are imported
on first use, so a parser can be imported on its own.
"""

from __future__ import annotations

import sys as _sys
import types as _types
import typing as _typing

from .. import lazy_attributes

if _typing.TYPE_CHECKING:
    from ..sources.engagement.parse import ParsedResponse, parse_response
    from .compaction import CompactResult, compact
    from .everything import load
    from .frames import Backend, Frame
    from .loaders import load_analytics, load_analytics_csv, load_archive, load_response, load_v2
    from .parquet import scan, to_parquet
    from .report import LoadReport
    from .tweets import per_tweet, read_metadata

_LAZY = {
    **dict.fromkeys(["ParsedResponse", "parse_response"], "..sources.engagement.parse"),
    **dict.fromkeys(["CompactResult", "compact"], ".compaction"),
    **dict.fromkeys(["Backend", "Frame"], ".frames"),
    "load": ".everything",
    **dict.fromkeys(["load_analytics", "load_analytics_csv", "load_archive", "load_response", "load_v2"], ".loaders"),
    **dict.fromkeys(["scan", "to_parquet"], ".parquet"),
    "LoadReport": ".report",
    **dict.fromkeys(["per_tweet", "read_metadata"], ".tweets"),
}

__all__ = [
    "Backend",
    "CompactResult",
    "Frame",
    "LoadReport",
    "ParsedResponse",
    "compact",
    "load",
    "load_analytics",
    "load_analytics_csv",
    "load_archive",
    "load_response",
    "load_v2",
    "parse_response",
    "per_tweet",
    "read_metadata",
    "scan",
    "to_parquet",
]


__getattr__ = lazy_attributes(__name__, _LAZY, globals())


class _LoadPackage(_types.ModuleType):
    """``engagement_lab.load`` is this package and, called, the function that reads anything
    (:func:`engagement_lab.load.everything.load`): Python sets a subpackage as its parent's attribute once any of
    its modules is imported, so the package itself answers the call, whichever was imported first."""

    def __call__(
        self,
        source: _typing.Any,
        *,
        backend: _typing.Any = "pandas",
        keep: str | None = None,
        on_error: _typing.Any = "raise",
        report: _typing.Any = False,
    ) -> _typing.Any:
        from .everything import load

        return load(source, backend=backend, keep=keep, on_error=on_error, report=report)

    def __reduce__(self) -> tuple[_typing.Any, tuple[str]]:
        """Pickled by name (a worker process given ``engagement_lab.load`` imports it)."""
        import importlib

        return importlib.import_module, (self.__name__,)


_sys.modules[__name__].__class__ = _LoadPackage
