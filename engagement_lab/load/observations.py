"""Repeated observations of one number collapse to the latest; cumulative counters are never added.

Two files (exports with overlapping periods, snapshots of the same tweets) can each hold the same bucket of
the same tweet and metric: a lifetime total, a day, an hour. Those are two observations of one quantity, not
two quantities, so one row is kept: the latest by ``retrieved_at`` (the fetch time, or an export's period
end), ties and missing times broken by file order (a row with no time counts as older than any timed one).
Lifetime totals grow between observations, so differing totals are expected; differing values for a day or
an hour are listed in the load report as conflicts, never picked silently. :func:`combine` does this for the
tables read from several inputs, adding each row's provenance (file, time, window).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import polars as pl
import pyarrow as pa

from .. import columns as C
from .report import LoadReport

__all__ = ["ORDER", "Observation", "bucket_keys", "collapse_observations", "combine"]

ORDER = "_order"
"""Private column: the position of the input a row came from (tie-breaker after ``retrieved_at``)."""


def bucket_keys(columns: list[str]) -> list[str]:
    """The columns (of a frame that went through ``_with_window_keys``) that identify one quantity: tweet,
    metric, grain, the bucket and where it came from.

    A window is part of a day or total bucket (a day at a window's edge is partial; a window total is not a
    lifetime total) but not of an hour, which is the same hour whichever window reported it.
    """
    keys = (C.TWEET_ID, C.ENGAGEMENT_TYPE, C.GRAIN, C.DAY, C.HOUR, C.TIMESTAMP, C.GROUPING, C.SOURCE, C.ENDPOINT)
    return [k for k in (*keys, "_ws", "_we") if k in columns]  # _ws/_we: the window, cleared for hours


def _with_window_keys(frame: pl.DataFrame) -> pl.DataFrame:
    if C.WINDOW_START not in frame.columns:
        return frame
    hour = pl.col(C.GRAIN) == "hour"
    return frame.with_columns(
        _ws=pl.when(hour).then(None).otherwise(pl.col(C.WINDOW_START)),
        _we=pl.when(hour).then(None).otherwise(pl.col(C.WINDOW_END)),
    )


def collapse_observations(frame: pl.DataFrame) -> tuple[pl.DataFrame, int, tuple[str, ...]]:
    """Keep the latest observation of each bucket.

    Returns
    -------
    frame, superseded, conflicts
        The collapsed frame (same columns, without the private order column), how many rows a later
        observation replaced, and one line per day/hour bucket whose observations disagreed.
    """
    frame = _with_window_keys(frame)
    keys = bucket_keys(frame.columns)
    time = pl.col(C.RETRIEVED_AT) if C.RETRIEVED_AT in frame.columns else pl.lit(None, pl.Datetime("us", "UTC"))
    ordered = frame.with_columns(_time=time).sort(["_time", ORDER], nulls_last=False)
    is_last = pl.int_range(pl.len()).over(keys) == pl.len().over(keys) - 1
    distinct = pl.col(C.VALUE).n_unique().over(keys)
    marked = ordered.with_columns(_last=is_last, _distinct=distinct)
    kept = marked.filter("_last")
    conflicts = kept.filter((pl.col("_distinct") > 1) & (pl.col(C.GRAIN) != "total"))
    lines = tuple(_describe(marked, conflicts, keys))
    out = kept.drop("_time", "_last", "_distinct", ORDER, "_ws", "_we", strict=False)
    return out, frame.height - kept.height, lines


def _describe(marked: pl.DataFrame, conflicts: pl.DataFrame, keys: list[str]) -> list[str]:
    if not conflicts.height:
        return []
    file_col = pl.col(C.SOURCE_FILE) if C.SOURCE_FILE in marked.columns else pl.lit(None, pl.String)
    detail = (
        marked.join(conflicts.select(keys), on=keys, nulls_equal=True)
        .with_columns(_file=file_col.fill_null("<payload>"))
        .group_by(keys, maintain_order=True)
        .agg(pl.col(C.VALUE), pl.col("_file"))
    )
    lines = []
    for row in detail.iter_rows(named=True):
        when = row[C.TIMESTAMP] or row[C.DAY]
        seen = ", ".join(f"{v} ({f})" for v, f in zip(row[C.VALUE], row["_file"], strict=True))
        lines.append(f"tweet {row[C.TWEET_ID]} {row[C.ENGAGEMENT_TYPE]} {row[C.GRAIN]} {when}: {seen}; kept the latest")
    return lines


_TS = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Observation:
    """Rows read from one input, with where and when they were observed."""

    table: pa.Table
    report: LoadReport
    file: str | None
    order: int
    retrieved_at: datetime | None = None
    window: tuple[datetime | None, datetime | None] | None = None
    """The window a response covered (``/28hr``, ``/historical``); ``None`` to add no window columns."""


def _provenance(obs: Observation) -> pa.Table:
    n = obs.table.num_rows
    table = obs.table
    if obs.window is not None:
        table = table.append_column(C.WINDOW_START, pa.array([obs.window[0]] * n, _TS))
        table = table.append_column(C.WINDOW_END, pa.array([obs.window[1]] * n, _TS))
    return (
        table.append_column(C.SOURCE_FILE, pa.array([obs.file] * n, pa.string()))
        .append_column(C.RETRIEVED_AT, pa.array([obs.retrieved_at] * n, _TS))
        .append_column(ORDER, pa.array([obs.order] * n, pa.int64()))
    )


def combine(observations: list[Observation]) -> tuple[pa.Table, LoadReport]:
    """Concatenate, then keep the latest observation of every bucket (:func:`collapse_observations`)."""
    report = LoadReport()
    for obs in observations:
        report += obs.report
    files = tuple(dict.fromkeys(o.file for o in observations if o.file is not None))
    tables = [_provenance(o) for o in observations]
    frame = pl.from_arrow(pa.concat_tables(tables, promote_options="default"))
    assert isinstance(frame, pl.DataFrame)
    collapsed, superseded, conflicts = collapse_observations(frame)
    report = replace(report, files=files, superseded=superseded, conflicts=conflicts, n_rows=collapsed.height)
    return collapsed.to_arrow(), report
