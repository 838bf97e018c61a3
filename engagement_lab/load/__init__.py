"""Responses, archives and other sources -> tidy pandas or polars frames (pure, no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, overload

import pandas as pd

from .analytics_csv import parse_analytics_csv
from .archive import load_archive_with_report
from .engagement import ParsedResponse, parse_response
from .frames import Backend, Frame, read_payload, to_frame
from .parquet import scan, to_parquet
from .report import LoadReport
from .tweets import per_tweet, read_metadata
from .v2 import parse_v2

__all__ = [
    "Backend",
    "Frame",
    "LoadReport",
    "ParsedResponse",
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


@overload
def load_response(
    payload: Any, *, backend: Backend = ..., keep_unsupported: bool = ..., report: Literal[False] = ...
) -> Frame: ...
@overload
def load_response(
    payload: Any, *, backend: Backend = ..., keep_unsupported: bool = ..., report: Literal[True]
) -> tuple[Frame, LoadReport]: ...
def load_response(
    payload: Any, *, backend: Backend = "pandas", keep_unsupported: bool = False, report: bool = False
) -> Frame | tuple[Frame, LoadReport]:
    """One Engagement API response -> a tidy frame (see :mod:`engagement_lab.columns`).

    Parameters
    ----------
    payload : dict, str, bytes or path
        The response: decoded JSON, JSON text or bytes (gzip accepted), or a file path.
    backend : {"pandas", "polars"}
    keep_unsupported : bool
        Keep the API's placeholder zeros for tweets too old for a metric (dropped by default).
    report : bool
        Also return the :class:`LoadReport` (for pandas it is always in ``frame.attrs["load_report"]``).

    Examples
    --------
    >>> frame = load_response({"g": {"123456789012": {"impressions": "551", "favorites": 3}}})
    >>> frame[["tweet_id", "engagement_type", "grain", "value"]].values.tolist()
    [['123456789012', 'impressions', 'total', 551], ['123456789012', 'favorites', 'total', 3]]
    """
    parsed = parse_response(read_payload(payload), keep_unsupported=keep_unsupported)
    frame = to_frame(parsed.table, backend)
    if isinstance(frame, pd.DataFrame):
        frame.attrs["load_report"] = parsed.report
    return (frame, parsed.report) if report else frame


def load_v2(payload: Any, *, backend: Backend = "pandas") -> Frame:
    """An X API v2 tweet lookup response -> the tidy schema plus a ``source`` column.

    Metric fields map to catalog names (``like_count`` -> ``favorites``, ``impression_count`` ->
    ``impressions``, ``url_link_clicks`` -> ``url_clicks``...); ``source`` says which object they came from
    (``v2.public_metrics``, ``v2.organic_metrics``, ``v2.media.public_metrics``...).
    """
    return to_frame(parse_v2(read_payload(payload)), backend)


def load_analytics_csv(path: str | Path, *, backend: Backend = "pandas") -> Frame:
    """An analytics.twitter.com export (tweet activity, or daily summary) -> the tidy schema plus ``source``.

    Tweet-activity rows are lifetime totals per tweet (grain ``total``); daily-summary rows are account
    totals per day (grain ``day``, no tweet id). Promoted columns get ``source="analytics_csv.promoted"``.
    """
    return to_frame(parse_analytics_csv(path), backend)


def load_archive(
    path: str | Path,
    *,
    backend: Backend = "pandas",
    on_conflict: Literal["raise", "latest"] = "raise",
    report: bool = False,
) -> Frame | tuple[Frame, LoadReport]:
    """A fetch archive directory -> one tidy frame with ``endpoint``, ``window_start``, ``window_end`` and
    ``retrieved_at`` columns.

    Overlapping windows and re-fetched batches collapse when their values agree. Later snapshots of live data
    (``/totals``, ``/28hr``) replace earlier ones. Historical values that disagree raise :class:`DataError`
    (or, with ``on_conflict="latest"``, the most recent is kept); nothing is ever summed twice.
    """
    frame, merged = load_archive_with_report(path, backend=backend, on_conflict=on_conflict)
    if isinstance(frame, pd.DataFrame):
        frame.attrs["load_report"] = merged
    return (frame, merged) if report else frame
