"""The loaders: responses, archives, X API v2 payloads and answers, and exports -> tidy pandas or polars frames
(pure, no network). Each reads its inputs through :mod:`.inputs` and hands the rows to its source's parser."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, overload

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import columns as C
from ..errors import DataError, check_choice
from ..options import check_lazy_backend
from ..sources.engagement.parse_bytes import parse_item, parse_one
from ..sources.exports.parse import parse_analytics_csv
from ..sources.exports.periods import export_period_end
from ..sources.x_v2.parse import parse_analytics
from ..sources.x_v2.parse_posts import observed_at, parse_v2
from .archive import load_archive_with_report
from .compaction import DATASET, compact, scan_compacted
from .frames import Backend, Frame, check_backend, to_frame
from .inputs import Item, expand_sources, json_documents, one_document
from .observations import Observation, check_keep, combine
from .recognise import check_kind
from .report import LoadReport

__all__ = [
    "KEEP_DOC",
    "finish",
    "load_analytics",
    "load_analytics_csv",
    "load_archive",
    "load_response",
    "load_v2",
    "observe",
]

KEEP_DOC = """``None`` (the default) refuses the load with :class:`DataError`, naming both
        files, the tweet, the metric and both values. ``"last"`` keeps the observation that comes last in the
        loading order: the time a file records (a fetch time, an export period's end) or else its newest date
        inside, then its download copy, then the order given. A file's name (or path) as loaded makes that
        file's values win wherever it has one (disagreements it is not part of are still refused, and the name
        is checked against the files loaded). Known orders need no ``keep``: fetch times, export periods in
        names (``_20210501_20210531_en.csv``, ``_2026-07-20_2026-09-01.csv``), download copies (``name (1).csv``
        is later than ``name.csv``), later lines of one file, and a file whose newest date inside is after
        another's recorded time."""
"""The ``keep=`` option's documentation, shared by every loader that combines several files."""


_JSON_SUFFIXES = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz")
_CSV_SUFFIXES = (".csv", ".csv.gz")


def _is_one_payload(source: object) -> bool:
    return isinstance(source, (dict, bytes, bytearray, memoryview)) or (
        isinstance(source, str) and source.lstrip()[:1] in ("{", "[")
    )


def finish(
    table: pa.Table, report: LoadReport, backend: Backend, with_report: bool
) -> Frame | tuple[Frame, LoadReport]:
    """A combined table -> the frame a loader returns (the report in pandas' ``attrs``, and returned if asked)."""
    frame = to_frame(table, backend)
    if isinstance(frame, pd.DataFrame):
        frame.attrs["load_report"] = report
    return (frame, report) if with_report else frame


def _newest_inside(table: pa.Table) -> datetime | None:
    """The newest date a file's rows hold: a post's creation time, or the start of a daily row's day.

    The file was made after it (a post is exported after it is posted; a day's row after the day began), so it
    is a lower bound on the file's time, and only that: a download made after May 9 may be weeks later. It
    orders a file after one whose time is known and earlier (sound), never against another lower bound (see
    :mod:`.observations`). Days are calendar days as exported (the account's zone), read as UTC like the
    period ends they are compared with.
    """
    found: list[datetime] = []
    if C.CREATED_AT in table.column_names:
        newest = pc.max(table[C.CREATED_AT]).as_py()
        if isinstance(newest, datetime):
            found.append(newest)
    if C.DAY in table.column_names:
        day = pc.max(table[C.DAY]).as_py()
        if day is not None:
            found.append(datetime(day.year, day.month, day.day, tzinfo=UTC))
    return max(found, default=None)


def _observe_documents(item: Item, kind: str) -> list[Observation]:
    tables: list[tuple[pa.Table, LoadReport, datetime | None]] = []
    for document in json_documents(item):
        if kind == "v2_posts":
            table, parsed = parse_v2(document)
            tables.append((table, parsed, observed_at(document)))
        else:
            table, found = parse_analytics(document)
            tables.append((table, found, None))
    # one bound for the whole input (when it was written, after its newest post), so lines keep their order
    after = max((b for b in (_newest_inside(t) for t, _, _ in tables) if b is not None), default=None)
    return [
        Observation(table, parsed, item.name, item.order, when, line=position, after=after)
        for position, (table, parsed, when) in enumerate(tables)
    ]


def observe(kind: str, item: Item, *, keep_unsupported: bool = False) -> list[Observation]:
    """One input read by the parser of its kind -> its observations, with what is known of when they were made.

    Parameters
    ----------
    kind : {"analytics_csv", "engagement", "v2_posts", "v2_analytics"}
        Which parser reads it (:mod:`engagement_lab.sources.kinds`).
    item : Item
        The input; ``item.order`` is its position among the inputs of one load.
    keep_unsupported : bool
        Engagement API responses: keep the placeholder zeros for tweets too old for a metric.
    """
    check_choice("kind", kind, ("analytics_csv", "engagement", "v2_posts", "v2_analytics"), DataError)
    if kind == "analytics_csv":
        table, parsed = parse_analytics_csv(item)
        end = export_period_end(item.name)
        return [Observation(table, parsed, item.name, item.order, end, after=_newest_inside(table))]
    if kind == "engagement":
        return [  # responses on later lines of one file are later observations, as for twarc files
            Observation(p.table, p.report, item.name, item.order, window=(p.report.start, p.report.end), line=i)
            for i, p in enumerate(parse_item(item, keep_unsupported=keep_unsupported))
        ]
    return _observe_documents(item, kind)


@overload
def load_response(
    payload: Any,
    *,
    backend: Backend = ...,
    keep_unsupported: bool = ...,
    keep: str | None = ...,
    report: Literal[False] = ...,
) -> Frame: ...
@overload
def load_response(
    payload: Any, *, backend: Backend = ..., keep_unsupported: bool = ..., keep: str | None = ..., report: Literal[True]
) -> tuple[Frame, LoadReport]: ...
def load_response(
    payload: Any,
    *,
    backend: Backend = "pandas",
    keep_unsupported: bool = False,
    keep: str | None = None,
    report: bool = False,
) -> Frame | tuple[Frame, LoadReport]:
    """Engagement API responses -> a tidy frame (see :mod:`engagement_lab.columns`).

    Parameters
    ----------
    payload : dict, str, bytes, path, list of paths, directory, glob or file object
        One response (decoded JSON, JSON text or bytes, gzip accepted), or files of responses. File input
        adds ``window_start``/``window_end`` (the window a ``/28hr`` or ``/historical`` response echoed),
        ``source_file`` and ``retrieved_at`` (null: a bare response does not say when it was fetched). The same
        tweet, metric and bucket seen in several files is kept once (lifetime totals are never added across
        files); where the values differ, which file is later is not known (only a ``name (1).json`` download
        copy says so), so the load is refused unless ``keep`` says which to keep. For archives written by
        ``fetch``, which record fetch times, use :func:`load_archive`.
    backend : {"pandas", "polars"}
    keep_unsupported : bool
        Keep the API's placeholder zeros for tweets too old for a metric (dropped by default).
    keep : None, "last" or a file name
        When two files hold different values of one number and neither is known to be the later observation.
        KEEP
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
        check_keep(keep, ())
        check_kind(Item(None, 0, payload), "engagement")
        parsed = parse_one(payload, keep_unsupported=keep_unsupported)
        return finish(parsed.table, parsed.report, backend, report)
    observations = []
    for item in expand_sources(payload, suffixes=_JSON_SUFFIXES):
        check_kind(item, "engagement")
        observations += observe("engagement", item, keep_unsupported=keep_unsupported)
    return finish(*combine(observations, keep=keep), backend, report)


def load_v2(
    source: Any, *, backend: Backend = "pandas", keep: str | None = None, report: bool = False
) -> Frame | tuple[Frame, LoadReport]:
    """X API v2 tweet payloads -> the tidy schema plus ``source``, ``created_at``, ``source_file``, ``retrieved_at``.

    ``source`` is a payload (dict, JSON text or bytes), a path, a list of paths, a directory, a glob or a file
    object. Files may hold one response, a JSON list, or JSON Lines: twarc2's output (one API page per line)
    and twarc's flattened output (one tweet per line), optionally ``.gz``. Metric fields map to catalog names
    (``like_count`` -> ``favorites``, ``impression_count`` -> ``impressions``, ``url_link_clicks`` ->
    ``url_clicks``...); ``source`` says which object they came from (``v2.public_metrics``,
    ``v2.organic_metrics``, ``v2.media.public_metrics``...).

    Snapshots of the same tweet (several pages or files) are cumulative counters: one row per tweet, metric
    and source is kept, the latest by twarc's ``__twarc.retrieved_at`` where recorded (within one file a line
    without it counts as older than one with it), else by position within one file (a later line is a later
    snapshot). Files that disagree without saying which is later are refused unless ``keep`` says which to keep.

    A page's ``errors`` go to the load report (ids not found or not authorised are listed in
    ``unavailable_tweet_ids``); a users payload is refused.

    Parameters
    ----------
    keep : None, "last" or a file name
        When two files hold different values of one number and neither is known to be the later observation.
        KEEP
    """
    check_backend(backend)
    observations = []
    for item in expand_sources(source, suffixes=_JSON_SUFFIXES):
        check_kind(item, "v2_posts")
        observations += observe("v2_posts", item)
    return finish(*combine(observations, keep=keep), backend, report)


def load_analytics(
    source: Any, *, backend: Backend = "pandas", keep: str | None = None, report: bool = False
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
    reported; per-id problems go to ``errors`` and ``unavailable_tweet_ids``. The same id, metric and bucket in
    several documents is kept once: the later line of one file, or the later download copy (``name (1).json``);
    answers do not say when they were fetched, so files that disagree are refused unless ``keep`` says which to
    keep.

    Parameters
    ----------
    keep : None, "last" or a file name
        When two files hold different values of one number and neither is known to be the later observation.
        KEEP

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
        check_keep(keep, ())
        table, found = parse_analytics(one_document(source))
        return finish(table, found, backend, report)
    observations = []
    for item in expand_sources(source, suffixes=_JSON_SUFFIXES):
        check_kind(item, "v2_analytics")
        observations += observe("v2_analytics", item)
    return finish(*combine(observations, keep=keep), backend, report)


def load_analytics_csv(
    source: Any, *, backend: Backend = "pandas", keep: str | None = None, report: bool = False
) -> Frame | tuple[Frame, LoadReport]:
    """analytics.twitter.com / X Premium CSV exports -> the tidy schema plus ``source``, ``created_at``,
    ``source_file`` and ``retrieved_at``.

    ``source`` is a path, a list of paths, a directory (its ``.csv`` files), a glob or a file object.
    Per-tweet exports give lifetime totals per tweet (grain ``total``) and each post's creation time;
    account-level exports (daily summary, account overview) give account totals per day (grain ``day``, no
    tweet id). Promoted columns get ``source="analytics_csv.promoted"``.

    Exports whose periods overlap hold the same tweets twice: each tweet's lifetime totals are taken from the
    latest export, never added; identical daily rows appear once, differing ones keep the latest and are listed
    in ``LoadReport.conflicts``. The latest is known from the period end in the file name
    (``..._20210501_20210531_en.csv``, X Premium's ``..._2026-07-20_2026-09-01.csv``; ``retrieved_at`` is that
    end), from a browser's download copy (``name (1).csv`` is later than ``name.csv``), or from a file's newest
    date inside being after another's period end. Exports that disagree with no such order are refused unless
    ``keep`` says which to keep. Unknown columns are listed in ``LoadReport.unrecognised_columns``.

    Parameters
    ----------
    keep : None, "last" or a file name
        When two files hold different values of one number and neither is known to be the later observation.
        KEEP
    """
    check_backend(backend)
    observations = []
    for item in expand_sources(source, suffixes=_CSV_SUFFIXES):
        check_kind(item, "analytics_csv")
        observations += observe("analytics_csv", item)
    return finish(*combine(observations, keep=keep), backend, report)


for _loader in (load_response, load_v2, load_analytics, load_analytics_csv):
    _loader.__doc__ = (_loader.__doc__ or "").replace("KEEP", KEEP_DOC)


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
