"""A fetch archive -> one tidy frame with provenance; overlaps deduplicated, contradictions reported."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from .. import columns as C
from ..errors import DataError, ResponseFormatError
from ..sources.engagement.parse import ParsedResponse
from ..sources.engagement.parse_bytes import parse_response_bytes
from ..sources.x_v2.parse import parse_analytics
from .archive_format import envelope_paths, read_envelope
from .frames import Backend, Frame, hashes_repeat, key_hashes, repeated, to_frame, to_pandas, to_polars
from .report import LoadReport

__all__ = [
    "KEYS",
    "Span",
    "check_archive",
    "conflicts",
    "keyed",
    "load_archive_with_report",
    "merged",
    "parse_envelope",
    "spans_meet",
]

_TS = pa.timestamp("us", tz="UTC")
V2_ENDPOINTS = ("tweets/analytics", "media/analytics")
"""X API v2 analytics answers, archived by ``fetch_analytics`` beside (or instead of) Engagement API ones."""
SNAPSHOT_ENDPOINTS = ("totals", "28hr")
"""Live data: a later snapshot of the same number replaces an earlier one instead of contradicting it."""

OUTPUT = (*C.TIDY, *C.PROVENANCE)
"""The columns of a loaded archive, in order."""
_EARLIEST, _LATEST = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


def _provenance(provenance: dict[str, Any], report: LoadReport) -> dict[str, tuple[Any, pa.DataType]]:
    """The provenance columns of one response: column -> (its one value, Arrow type)."""
    request = provenance.get("request", {})
    return {
        C.ENDPOINT: (provenance["endpoint"], pa.string()),
        C.WINDOW_START: (report.start or _time(request.get("start")), _TS),
        C.WINDOW_END: (report.end or _time(request.get("end")), _TS),
        C.RETRIEVED_AT: (_time(provenance["retrieved_at"]), _TS),
    }


def _with_provenance(table: pa.Table, columns: dict[str, tuple[Any, pa.DataType]]) -> pa.Table:
    """``table`` with the :func:`_provenance` columns, each one value repeated by Arrow (a Python list of n
    datetimes was most of the load's time)."""
    for column, (value, kind) in columns.items():
        table = table.append_column(column, _repeat(value, kind, table.num_rows))
    return table


_EPOCH, _MICROSECOND = datetime(1970, 1, 1, tzinfo=UTC), timedelta(microseconds=1)


def _pandas_rows(answers: list[tuple[pa.Table, dict[str, tuple[Any, pa.DataType]]]]) -> pd.DataFrame:
    """Answers' tidy rows with their :func:`_provenance` columns, as one pandas frame.

    Each provenance column is built once for all answers. A time that every answer states is one numpy array of
    each answer's value repeated over its rows: a single chunk, which pandas takes without a copy. Built per answer
    by Arrow, each time column was written twice (Arrow, then pandas' copy of its chunks): as fast, but the load of
    10.3 M rows peaked at +2.06 GB against +1.78 GB this way.
    """
    counts = np.asarray([table.num_rows for table, _ in answers], dtype=np.int64)
    table = pa.concat_tables([table for table, _ in answers])
    for column, (_, kind) in answers[0][1].items():
        values = [columns[column][0] for _, columns in answers]
        if kind == _TS and all(value is not None for value in values):
            micros = np.asarray([(value - _EPOCH) // _MICROSECOND for value in values], dtype=np.int64)
            array = pa.Array.from_buffers(_TS, table.num_rows, [None, pa.py_buffer(np.repeat(micros, counts))])
            table = table.append_column(column, array)
        else:
            table = table.append_column(
                column, pa.chunked_array([_repeat(v, kind, int(n)) for v, n in zip(values, counts, strict=True)], kind)
            )
    return to_pandas(table.select(list(OUTPUT)))


def _repeat(value: Any, kind: pa.DataType, n: int) -> pa.Array:
    """``value`` ``n`` times as an Arrow array of type ``kind``."""
    return repeated(value, n) if kind == pa.string() and value is not None else pa.repeat(pa.scalar(value, kind), n)


def _with_provenance_polars(table: pa.Table, columns: dict[str, tuple[Any, pa.DataType]]) -> pl.DataFrame:
    """As :func:`_with_provenance`, added after conversion to polars (its literals cost a tenth of Arrow's)."""
    kinds = {pa.string(): pl.String(), _TS: pl.Datetime("us", "UTC")}
    return to_polars(table).with_columns(
        *[pl.lit(value, kinds[kind]).alias(column) for column, (value, kind) in columns.items()]
    )


KEYS = (C.TWEET_ID, C.ENGAGEMENT_TYPE, C.GRAIN, C.DAY, C.HOUR, C.GROUPING, C.ENDPOINT, "_ws", "_we")
"""What names one observed number: for hourly rows the window does not matter (an hour is an hour), for coarser
grains it does (a day at a window's edge is partial)."""


def _with_keys(frame: pl.LazyFrame) -> pl.LazyFrame:
    """``frame`` with the ``_ws``/``_we`` key columns of :data:`KEYS`."""
    window = pl.when(pl.col(C.GRAIN) == "hour").then(None)
    return frame.with_columns(_ws=window.otherwise(pl.col(C.WINDOW_START)), _we=window.otherwise(pl.col(C.WINDOW_END)))


def keyed(frame: pl.LazyFrame) -> pl.LazyFrame:
    """``frame`` with the ``_ws``/``_we`` key columns of :data:`KEYS`, sorted by fetch time (stable)."""
    return _with_keys(frame).sort(C.RETRIEVED_AT, maintain_order=True)


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
    differing historical values are a contradiction. ``frame`` is in fetch-time order already."""
    latest = merged(_with_keys(frame.lazy())).collect()
    found = conflicts(latest.lazy()).collect()
    if found.height and on_conflict == "raise":
        raise conflict_error(found.height, examples(found))
    return latest.select(*OUTPUT)


def parse_envelope(file: Path, envelope: dict[str, Any], *, provenance: bool = True) -> ParsedResponse | None:
    """One archived response -> its tidy rows with provenance columns (None for a failed request); with
    ``provenance=False`` the rows alone (add them with :func:`_with_provenance` or its polars twin)."""
    about = envelope["provenance"]
    if about.get("status") != 200:
        return None
    try:
        if about["endpoint"] in V2_ENDPOINTS:
            request = about.get("request", {})
            table, found = parse_analytics(json.loads(envelope["body"]), granularity=request.get("granularity"))
            table = table.drop_columns([C.SOURCE])
            start, end = _time(request.get("start_time")), _time(request.get("end_time"))
            # a small answer (100 ids at most): its tweets and grouping are read off its rows
            tweets = frozenset(pc.unique(table[C.TWEET_ID]).to_pylist())
            groupings = tuple(pc.unique(table[C.GROUPING]).to_pylist())
            parsed = ParsedResponse(table, replace(found, start=start, end=end, groupings=groupings), tweets)
        else:
            parsed = parse_response_bytes(envelope["body"])
    except (ValueError, ResponseFormatError) as exc:
        raise DataError(f"archive file {str(file)!r}: its response cannot be loaded ({exc})") from None
    if not provenance:
        return parsed
    return replace(parsed, table=_with_provenance(parsed.table, _provenance(about, parsed.report)))


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
    files = envelope_paths(root)
    # each answer as it is parsed: its rows, as polars for a polars result (the Arrow table is let go at once) or
    # as Arrow for pandas (converted once, at the end), so memory is the result plus an answer or two. A helper
    # thread reads (unzips) the next file while this one is parsed: zlib lets this thread run meanwhile
    answers: list[tuple[datetime | None, pl.DataFrame | pa.Table, dict[str, tuple[Any, pa.DataType]]]] = []
    spans: list[Span] = []
    report = LoadReport()
    with ThreadPoolExecutor(max_workers=1) as reader:
        ahead = reader.submit(read_envelope, files[0]) if files else None
        for i, file in enumerate(files):
            assert ahead is not None
            envelope = ahead.result()
            ahead = reader.submit(read_envelope, files[i + 1]) if i + 1 < len(files) else None
            parsed = parse_envelope(file, envelope, provenance=False)
            if parsed is None:
                continue
            columns = _provenance(envelope["provenance"], parsed.report)
            if backend == "polars":
                rows: pl.DataFrame | pa.Table = _with_provenance_polars(parsed.table, columns).select(*OUTPUT)
            else:
                rows = parsed.table  # provenance columns are added once for all answers (see _pandas_rows)
            spans.append(Span.of(parsed, columns))
            answers.append((columns[C.RETRIEVED_AT][0], rows, columns))
            report += parsed.report
    if not answers:
        raise DataError(f"archive {str(root)!r} holds no successful responses yet; run a fetch into it first")
    # fetch-time order (stable, so equal times keep key order; an unknown time first, as polars sorts nulls):
    # each answer has one fetch time, so ordering the answers orders the rows without sorting them
    answers.sort(key=lambda answer: (answer[0] is not None, answer[0] or _EARLIEST))
    # usually nothing repeats: each hour was fetched once. Answers whose spans do not meet cannot share a key, so
    # the exact check (hashing every row, sorting the hashes) runs only when some do
    meet = spans_meet(spans)
    if backend != "polars" and not meet:  # pandas straight from the Arrow rows
        return _pandas_rows([(rows, columns) for _, rows, columns in answers]), report
    combined = pl.concat([_polars_rows(rows, columns) for _, rows, columns in answers], rechunk=False)
    if meet and hashes_repeat(key_hashes(_with_keys(combined.lazy()), KEYS)):
        combined = _deduplicate(combined, on_conflict)
    return (combined if backend == "polars" else to_frame(combined.to_arrow(), backend)), report


def _polars_rows(rows: pl.DataFrame | pa.Table, columns: dict[str, tuple[Any, pa.DataType]]) -> pl.DataFrame:
    """An answer's rows with their provenance columns as polars (a polars load has them so already; a pandas
    load keeps the bare Arrow rows, see :func:`_pandas_rows`)."""
    if isinstance(rows, pl.DataFrame):
        return rows
    return to_polars(_with_provenance(rows, columns).select(list(OUTPUT)))


@dataclass(frozen=True)
class Span:
    """Where one answer's keys (see :data:`KEYS`) can lie: its endpoint, groupings and tweets, and a time range
    that holds the time in each of its keys (an hourly row's hour, a coarser row's window start).

    One answer never names a number twice (both parsers refuse that), so two rows can share a key only if they come
    from two answers that share the endpoint, a grouping and a tweet and whose ranges meet. Nothing here hashes the
    rows: groupings and tweets come from the parser, the range from the timestamp column's minimum and maximum.
    """

    endpoint: str
    groupings: frozenset[str]
    tweet_ids: frozenset[str | None]
    lo: datetime
    hi: datetime

    @classmethod
    def of(cls, parsed: ParsedResponse, columns: dict[str, tuple[Any, pa.DataType]]) -> Span:
        """The span of a parsed answer, with its :func:`_provenance` columns (which hold its window)."""
        where = (columns[C.ENDPOINT][0], frozenset(parsed.report.groupings), parsed.tweet_ids)
        start = columns[C.WINDOW_START][0]
        if start is None:  # a window the answer does not state may equal another unstated one: unbounded
            return cls(*where, _EARLIEST, _LATEST)
        # hourly rows have timestamps; the others' key time is the window start. The day rows' timestamps and
        # the start of an answer without coarser rows only widen the range, which stays sound
        found = pc.min_max(parsed.table[C.TIMESTAMP]).as_py()
        times = [start, *(t for t in (found["min"], found["max"]) if t is not None)]
        return cls(*where, min(times), max(times))


def spans_meet(spans: list[Span]) -> bool:
    """Whether two answers' spans meet: the same endpoint, grouping and tweet, with ranges that overlap. Per
    endpoint, grouping and tweet, sorted by start, a range meets an earlier one when it starts no later than the
    latest end before it."""
    rows = [(s.endpoint, g, tweet, s.lo, s.hi) for s in spans for g in s.groupings for tweet in s.tweet_ids]
    if len(rows) < 2:
        return False
    where = [C.ENDPOINT, C.GROUPING, C.TWEET_ID]
    frame = pl.DataFrame(rows, schema=[*where, "lo", "hi"], orient="row")
    reach = pl.col("hi").cum_max().shift(1).over(where)
    meet: bool = frame.sort(*where, "lo").select((pl.col("lo") <= reach).any()).item()
    return meet
