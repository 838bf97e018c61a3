"""The loaders: responses, archives, X API v2 payloads and answers, and exports -> tidy pandas or polars frames
(pure, no network). Each reads its inputs through :mod:`.inputs` and hands the rows to its source's parser."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, overload

import pandas as pd
import pyarrow as pa

from ..errors import DataError, check_choice
from ..options import check_lazy_backend
from ..sources.engagement.parse_bytes import parse_item, parse_one
from ..sources.exports.parse import export_period_end, parse_analytics_csv
from ..sources.x_v2.parse import parse_analytics
from ..sources.x_v2.parse_posts import observed_at, parse_v2
from .archive import load_archive_with_report
from .compaction import DATASET, compact, scan_compacted
from .frames import Backend, Frame, check_backend, to_frame
from .inputs import expand_sources, json_documents, one_document
from .observations import Observation, combine
from .report import LoadReport

__all__ = ["load_analytics", "load_analytics_csv", "load_archive", "load_response", "load_v2"]


_JSON_SUFFIXES = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz")
_CSV_SUFFIXES = (".csv", ".csv.gz")


def _is_one_payload(source: object) -> bool:
    return isinstance(source, (dict, bytes, bytearray, memoryview)) or (
        isinstance(source, str) and source.lstrip()[:1] in ("{", "[")
    )


def _finish(
    table: pa.Table, report: LoadReport, backend: Backend, with_report: bool
) -> Frame | tuple[Frame, LoadReport]:
    frame = to_frame(table, backend)
    if isinstance(frame, pd.DataFrame):
        frame.attrs["load_report"] = report
    return (frame, report) if with_report else frame


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
    """Engagement API responses -> a tidy frame (see :mod:`engagement_lab.columns`).

    Parameters
    ----------
    payload : dict, str, bytes, path, list of paths, directory, glob or file object
        One response (decoded JSON, JSON text or bytes, gzip accepted), or files of responses. File input
        adds ``window_start``/``window_end`` (the window a ``/28hr`` or ``/historical`` response echoed),
        ``source_file`` and ``retrieved_at`` (null: a bare response does not say when it was fetched, so
        file order decides which observation is later). The same tweet, metric and bucket seen in several
        files is kept once, from the last file (lifetime totals are never added across files); day/hour
        values that disagree are listed in ``LoadReport.conflicts``. For archives written by ``fetch``,
        which record fetch times, use :func:`load_archive`.
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
    check_backend(backend)
    if _is_one_payload(payload):
        parsed = parse_one(payload, keep_unsupported=keep_unsupported)
        return _finish(parsed.table, parsed.report, backend, report)
    observations = []
    for item in expand_sources(payload, suffixes=_JSON_SUFFIXES):
        for parsed in parse_item(item, keep_unsupported=keep_unsupported):
            window = (parsed.report.start, parsed.report.end)
            observations.append(Observation(parsed.table, parsed.report, item.name, item.order, window=window))
    return _finish(*combine(observations), backend, report)


def load_v2(source: Any, *, backend: Backend = "pandas", report: bool = False) -> Frame | tuple[Frame, LoadReport]:
    """X API v2 tweet payloads -> the tidy schema plus ``source``, ``created_at``, ``source_file``, ``retrieved_at``.

    ``source`` is a payload (dict, JSON text or bytes), a path, a list of paths, a directory, a glob or a file
    object. Files may hold one response, a JSON list, or JSON Lines: twarc2's output (one API page per line)
    and twarc's flattened output (one tweet per line), optionally ``.gz``. Metric fields map to catalog names
    (``like_count`` -> ``favorites``, ``impression_count`` -> ``impressions``, ``url_link_clicks`` ->
    ``url_clicks``...); ``source`` says which object they came from (``v2.public_metrics``,
    ``v2.organic_metrics``, ``v2.media.public_metrics``...).

    Snapshots of the same tweet (several pages or files) are cumulative counters: one row per tweet, metric
    and source is kept, the latest by twarc's ``__twarc.retrieved_at`` where recorded, else by position (later
    line, later file). A page's ``errors`` go to the load report (ids not found or not authorised are listed
    in ``unavailable_tweet_ids``); a users payload is refused.
    """
    check_backend(backend)
    observations = []
    for item in expand_sources(source, suffixes=_JSON_SUFFIXES):
        for position, document in enumerate(json_documents(item)):
            table, parsed = parse_v2(document)
            order = item.order * 1_000_000_000 + position  # later lines of one file are later snapshots
            observations.append(Observation(table, parsed, item.name, order, observed_at(document)))
    return _finish(*combine(observations), backend, report)


def load_analytics(
    source: Any, *, backend: Backend = "pandas", report: bool = False
) -> Frame | tuple[Frame, LoadReport]:
    """X API v2 post and media analytics (``GET /2/tweets/analytics``, ``/2/media/analytics``) -> the tidy schema
    plus ``source``, ``source_file`` and ``retrieved_at``.

    ``source`` is an answer (dict, JSON text or bytes), a path, a list of paths, a directory, a glob or a file
    object (JSON, JSON Lines, ``.gz``). For a fetch archive use :func:`load_archive`, which knows each request's
    window and granularity. ``timestamped_metrics`` buckets become ``hour``/``day``/``week`` rows (the bucket
    size read from the bucket starts; a single bucket is a ``total`` over the range); items without buckets
    give their flat totals. ``likes`` -> ``favorites`` and the other shared names map to the Engagement API's
    (:data:`engagement_lab.sources.x_v2.catalog.TO_ENGAGEMENT_NAMES`); ``null`` stays missing; unknown integer
    metrics are kept and listed in ``LoadReport.unknown_metrics``; media counters sent as strings are parsed or
    reported; per-id problems go to ``errors`` and ``unavailable_tweet_ids``. The same id, metric and bucket in several
    files is kept once, from the latest file.

    Examples
    --------
    >>> answer = {"data": [{"id": "1346889436626259968", "timestamped_metrics": [
    ...     {"timestamp": "2025-03-17T06:00:00Z", "metrics": {"impressions": 123, "likes": 7, "bookmarks": None}},
    ...     {"timestamp": "2025-03-17T07:00:00Z", "metrics": {"impressions": 40, "likes": 1, "bookmarks": 2}}]}]}
    >>> for row in load_analytics(answer)[["engagement_type", "grain", "hour", "value"]].values.tolist():
    ...     print(row)
    ['impressions', 'hour', 6, 123]
    ['favorites', 'hour', 6, 7]
    ['impressions', 'hour', 7, 40]
    ['favorites', 'hour', 7, 1]
    ['bookmarks', 'hour', 7, 2]
    """
    check_backend(backend)
    if _is_one_payload(source):
        table, found = parse_analytics(one_document(source))
        return _finish(table, found, backend, report)
    observations = []
    for item in expand_sources(source, suffixes=_JSON_SUFFIXES):
        for position, document in enumerate(json_documents(item)):
            table, found = parse_analytics(document)
            order = item.order * 1_000_000_000 + position
            observations.append(Observation(table, found, item.name, order))
    return _finish(*combine(observations), backend, report)


def load_analytics_csv(
    source: Any, *, backend: Backend = "pandas", report: bool = False
) -> Frame | tuple[Frame, LoadReport]:
    """analytics.twitter.com / X Premium CSV exports -> the tidy schema plus ``source``, ``created_at``,
    ``source_file`` and ``retrieved_at``.

    ``source`` is a path, a list of paths, a directory (its ``.csv`` files), a glob or a file object.
    Per-tweet exports give lifetime totals per tweet (grain ``total``) and each post's creation time;
    account-level exports (daily summary, account overview) give account totals per day (grain ``day``, no
    tweet id). Promoted columns get ``source="analytics_csv.promoted"``.

    Exports whose periods overlap hold the same tweets twice: each tweet's lifetime totals are taken from the
    latest export (by the period end in the file name, ``..._20210501_20210531_en.csv``, else file order),
    never added; identical daily rows appear once, differing ones keep the latest and are listed in
    ``LoadReport.conflicts``. Unknown columns are listed in ``LoadReport.unrecognised_columns``.
    """
    check_backend(backend)
    observations = []
    for item in expand_sources(source, suffixes=_CSV_SUFFIXES):
        table, parsed = parse_analytics_csv(item)
        observations.append(Observation(table, parsed, item.name, item.order, export_period_end(item.name)))
    return _finish(*combine(observations), backend, report)


def load_archive(
    path: str | Path,
    *,
    backend: Backend | Literal["duckdb"] | None = None,
    on_conflict: Literal["raise", "latest"] = "raise",
    report: bool = False,
    lazy: bool = False,
) -> Any:
    """A fetch archive directory -> one tidy frame with ``endpoint``, ``window_start``, ``window_end`` and
    ``retrieved_at`` columns.

    Overlapping windows and re-fetched batches collapse when their values agree. Later snapshots of live data
    (``/totals``, ``/28hr``) replace earlier ones. Historical values that disagree raise :class:`DataError`
    (or, with ``on_conflict="latest"``, the most recent is kept); nothing is ever summed twice.

    Parameters
    ----------
    backend : {"pandas", "polars", "duckdb"}, optional
        Eager: pandas (default) or polars. Lazy: a polars LazyFrame (default) or a DuckDB relation.
    lazy : bool
        Compact the archive into Parquet first (:func:`compact`: only responses not compacted before are read,
        in bounded memory) and return a lazy frame over it, with the same rules, for archives larger than
        memory.
    """
    check_choice("on_conflict", on_conflict, ("raise", "latest"), DataError)
    if not isinstance(lazy, bool):
        raise DataError(f"lazy must be True or False, got {lazy!r}")
    if lazy:
        lazy_backend = check_lazy_backend(backend or "polars")
        if report:
            raise DataError("report=True needs an eager load (lazy=False); compact(archive) says what it added")
        compact(path)
        return scan_compacted(Path(path) / DATASET, backend=lazy_backend, on_conflict=on_conflict)
    if backend == "duckdb":
        raise DataError("backend='duckdb' gives a lazy relation: call load_archive(path, lazy=True, backend='duckdb')")
    frame, merged = load_archive_with_report(path, backend=check_backend(backend or "pandas"), on_conflict=on_conflict)
    if isinstance(frame, pd.DataFrame):
        frame.attrs["load_report"] = merged
    return (frame, merged) if report else frame
