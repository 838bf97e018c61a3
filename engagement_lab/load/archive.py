"""A fetch archive -> one tidy frame with provenance; overlaps deduplicated, contradictions reported."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import polars as pl
import pyarrow as pa

from .. import columns as C
from ..archive_format import iter_envelopes
from ..errors import DataError, ResponseFormatError
from .analytics import parse_analytics
from .engagement import parse_response
from .frames import Backend, Frame, repeats_query, to_frame
from .report import LoadReport

__all__ = ["KEYS", "check_archive", "conflicts", "keyed", "load_archive_with_report", "merged", "parse_envelope"]

_TS = pa.timestamp("us", tz="UTC")
V2_ENDPOINTS = ("tweets/analytics", "media/analytics")
"""X API v2 analytics answers, archived by ``fetch_analytics`` beside (or instead of) Engagement API ones."""
SNAPSHOT_ENDPOINTS = ("totals", "28hr")
"""Live data: a later snapshot of the same number replaces an earlier one instead of contradicting it."""


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


def _with_provenance(table: pa.Table, provenance: dict[str, Any], report: LoadReport) -> pa.Table:
    n = table.num_rows
    request = provenance.get("request", {})
    start = report.start or _time(request.get("start"))
    end = report.end or _time(request.get("end"))
    retrieved = _time(provenance["retrieved_at"])
    # one value per response, repeated by Arrow (a Python list of n datetimes was most of the load's time)
    return (
        table.append_column(C.ENDPOINT, pa.repeat(pa.scalar(provenance["endpoint"], pa.string()), n))
        .append_column(C.WINDOW_START, pa.repeat(pa.scalar(start, _TS), n))
        .append_column(C.WINDOW_END, pa.repeat(pa.scalar(end, _TS), n))
        .append_column(C.RETRIEVED_AT, pa.repeat(pa.scalar(retrieved, _TS), n))
    )


KEYS = (C.TWEET_ID, C.ENGAGEMENT_TYPE, C.GRAIN, C.DAY, C.HOUR, C.GROUPING, C.ENDPOINT, "_ws", "_we")
"""What names one observed number: for hourly rows the window does not matter (an hour is an hour), for coarser
grains it does (a day at a window's edge is partial)."""


def keyed(frame: pl.LazyFrame) -> pl.LazyFrame:
    """``frame`` with the ``_ws``/``_we`` key columns of :data:`KEYS`, sorted by fetch time (stable)."""
    window = pl.when(pl.col(C.GRAIN) == "hour").then(None)
    frame = frame.with_columns(_ws=window.otherwise(pl.col(C.WINDOW_START)), _we=window.otherwise(pl.col(C.WINDOW_END)))
    return frame.sort(C.RETRIEVED_AT, maintain_order=True)


def merged(frame: pl.LazyFrame) -> pl.LazyFrame:
    """One row per key of a :func:`keyed` frame: the latest observation, with its count of distinct values."""
    return frame.group_by(KEYS, maintain_order=True).agg(
        pl.col(C.TIMESTAMP).last(),
        pl.col(C.VALUE).last(),
        pl.col(C.VALUE).n_unique().alias("_distinct"),
        pl.col(C.VALUE).min().alias("_min"),
        pl.col(C.WINDOW_START).last(),
        pl.col(C.WINDOW_END).last(),
        pl.col(C.RETRIEVED_AT).last(),
    )


def conflicts(merged: pl.LazyFrame) -> pl.LazyFrame:
    """Keys of a :func:`merged` frame whose historical observations disagree (live snapshots may change)."""
    return merged.filter((pl.col("_distinct") > 1) & ~pl.col(C.ENDPOINT).is_in(SNAPSHOT_ENDPOINTS))


def examples(found: pl.DataFrame) -> list[tuple[Any, ...]]:
    """The first conflicts, as (tweet, metric, day, hour, one value, another)."""
    return found.head(5).select(C.TWEET_ID, C.ENGAGEMENT_TYPE, C.DAY, C.HOUR, "_min", C.VALUE).rows()


def conflict_error(count: int, shown: Any) -> DataError:
    return DataError(
        f"the archive holds {count} contradictory historical value(s), e.g. (tweet, metric, day, hour, "
        f"one value, another) {shown}; values are never summed or guessed. Refetch those windows into a fresh "
        "archive, or load with on_conflict='latest' to keep the most recent."
    )


def _deduplicate(frame: pl.DataFrame, on_conflict: Literal["raise", "latest"]) -> pl.DataFrame:
    """Identical repeats collapse. Differing values of live snapshots (/totals, /28hr) keep the latest;
    differing historical values are a contradiction."""
    ordered = keyed(frame.lazy()).collect()
    if not repeats_query(ordered, KEYS).collect().item():  # usually so: each hour was fetched once
        return ordered.select(*C.TIDY, *C.PROVENANCE)
    latest = merged(ordered.lazy()).collect()
    found = conflicts(latest.lazy()).collect()
    if found.height and on_conflict == "raise":
        raise conflict_error(found.height, examples(found))
    return latest.select(*C.TIDY, *C.PROVENANCE)


def parse_envelope(file: Path, envelope: dict[str, Any]) -> tuple[pa.Table, LoadReport] | None:
    """One archived response -> its tidy rows with provenance columns (None for a failed request)."""
    provenance = envelope["provenance"]
    if provenance.get("status") != 200:
        return None
    try:
        if provenance["endpoint"] in V2_ENDPOINTS:
            request = provenance.get("request", {})
            table, found = parse_analytics(json.loads(envelope["body"]), granularity=request.get("granularity"))
            table = table.drop_columns([C.SOURCE])
            start, end = _time(request.get("start_time")), _time(request.get("end_time"))
            found = replace(found, start=start, end=end)
        else:
            parsed = parse_response(json.loads(envelope["body"]))
            table, found = parsed.table, parsed.report
    except (ValueError, ResponseFormatError) as exc:
        raise DataError(f"archive file {str(file)!r}: its response cannot be loaded ({exc})") from None
    return _with_provenance(table, provenance, found), found


def check_archive(path: str | Path) -> Path:
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"{str(root)!r} is not an archive directory (expected the --out folder of a fetch)")
    return root


def load_archive_with_report(
    path: str | Path, *, backend: Backend = "pandas", on_conflict: Literal["raise", "latest"] = "raise"
) -> tuple[Frame, LoadReport]:
    """See :func:`engagement_lab.load.load_archive`."""
    root = check_archive(path)
    tables, report = [], LoadReport()
    for file, envelope in iter_envelopes(root):
        parsed = parse_envelope(file, envelope)
        if parsed is not None:
            tables.append(parsed[0])
            report += parsed[1]
    if not tables:
        raise DataError(f"archive {str(root)!r} holds no successful responses yet; run a fetch into it first")
    combined = pl.from_arrow(pa.concat_tables(tables))
    assert isinstance(combined, pl.DataFrame)
    deduplicated = _deduplicate(combined, on_conflict)
    return to_frame(deduplicated.to_arrow(), backend), report
