"""What ``per_tweet`` decides on every engine (polars here, others through narwhals in :mod:`.tweets_engine`):
which rows win for one tweet's metric, what counts as one number seen twice,
and how ids and metadata are checked."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import narwhals as nw
import polars as pl

from .. import columns as C
from .. import sources
from ..errors import DataError, StatsInputError, did_you_mean
from ..ids import rounded_ids, rounded_ids_error, spreadsheet_rounding, warn_unmatched
from ..metrics import Ratio, resolve_metric
from ..sources.engagement import catalog
from .frames import to_polars

__all__ = [
    "BUCKET",
    "ENDPOINT_PRIORITY",
    "GRAIN_PRIORITY",
    "ID_SHAPE",
    "RANKED",
    "REQUIRED",
    "bucket_columns",
    "check_ids",
    "check_required",
    "check_rounded_join",
    "id_dtype",
    "metric_order",
    "overlapping",
    "priority",
    "read_metadata",
    "refuse_fractional",
    "repeats_error",
    "source_rank",
    "uniform_in",
    "with_rates",
]

GRAIN_PRIORITY = ("total", "hour", "day", "week", "hour_of_day")
"""Which grain a tweet's metric is taken from when several are present (lifetime totals first)."""
ENDPOINT_PRIORITY = ("totals", "", "historical", "28hr")
"""Lifetime totals first; then plain responses; then historical windows (summed); /28hr last."""
REQUIRED = (C.TWEET_ID, C.ENGAGEMENT_TYPE, C.GRAIN, C.VALUE, C.GROUPING)
BUCKET = (C.TWEET_ID, C.ENGAGEMENT_TYPE, C.GRAIN, C.DAY, C.HOUR, C.TIMESTAMP)
"""The columns that can name one number: tweet, metric, grain and the bucket's day/hour/timestamp."""


_ID_FIX = (
    "read it as text, e.g. pd.read_csv(path, dtype={'tweet_id': str}) "
    "or pl.read_csv(path, schema_overrides={'tweet_id': pl.String})"
)


def id_dtype(dtype: pl.DataType, what: str) -> pl.Expr:
    """Tweet ids must be text: ints are exact and become strings, floats are refused (read from the schema)."""
    if dtype.is_float():
        raise DataError(
            f"{what}: {C.TWEET_ID} is {dtype}; ids above 2**53 have already lost digits as floats. Re-{_ID_FIX}"
        )
    if dtype.is_integer():
        return pl.col(C.TWEET_ID).cast(pl.String)
    if dtype != pl.String:
        raise DataError(f"{what}: {C.TWEET_ID} must hold strings, got {dtype}")
    return pl.col(C.TWEET_ID)


def check_ids(frame: pl.DataFrame, what: str) -> pl.DataFrame:
    """Tweet ids must be text; ints are exact and converted, floats and scientific notation are refused."""
    if C.TWEET_ID not in frame.columns:
        raise DataError(
            f"{what} has no {C.TWEET_ID!r} column{did_you_mean(C.TWEET_ID, frame.columns)}; columns: {frame.columns}"
        )
    frame = frame.with_columns(id_dtype(frame.schema[C.TWEET_ID], what))
    bad = frame.filter(pl.col(C.TWEET_ID).is_not_null() & ~pl.col(C.TWEET_ID).str.contains(r"^\s*\d+(?:_\d+)?\s*$"))
    if bad.height:
        example = bad[C.TWEET_ID][0]
        hint = (
            " (scientific notation: a spreadsheet or float conversion rounded the ids)"
            if "e" in example.lower()
            else ""
        )
        raise DataError(
            f"{what}: tweet id {example!r} is not a string of digits{hint}; {_ID_FIX} from the original source"
        )
    return frame.with_columns(pl.col(C.TWEET_ID).str.strip_chars())


def _in_memory(metadata: Any) -> Any:
    """Metadata given as a lazy frame of any engine narwhals reads (a DuckDB relation, a Dask or Ibis frame) is
    one row per tweet, small: it is collected to polars (other inputs are returned as they are)."""
    if isinstance(metadata, (pl.DataFrame, pl.LazyFrame, list)):
        return metadata
    try:
        frame = nw.from_native(metadata)
    except TypeError:
        return metadata
    return frame.collect(backend="polars").to_native() if isinstance(frame, nw.LazyFrame) else metadata


def read_metadata(metadata: Any) -> pl.DataFrame:
    """A metadata frame (pandas or polars, or a lazy frame of another engine such as a DuckDB relation) or CSV
    path, with ``tweet_id`` as text."""
    if isinstance(metadata, (str, Path)):
        if not Path(metadata).is_file():
            raise DataError(f"metadata file {str(metadata)!r} does not exist")
        try:
            frame = pl.read_csv(metadata, schema_overrides={C.TWEET_ID: pl.String}, infer_schema_length=10_000)
        except pl.exceptions.PolarsError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            hint = " (save it as UTF-8: spreadsheets call it 'CSV UTF-8')" if "utf" in first.lower() else ""
            raise DataError(f"metadata file {str(metadata)!r} cannot be read as CSV: {first}{hint}") from None
    else:
        frame = to_polars(_in_memory(metadata), "metadata")
    frame = check_ids(frame, "metadata")
    duplicated = frame.filter(pl.col(C.TWEET_ID).is_duplicated())
    if duplicated.height:
        raise DataError(f"metadata lists tweet {duplicated[C.TWEET_ID][0]!r} more than once; keep one row per tweet")
    rounded = rounded_ids(frame[C.TWEET_ID].drop_nulls().to_list())
    if rounded:
        raise rounded_ids_error("metadata", rounded)
    return frame


def check_rounded_join(tweet_ids: Callable[[], set[str]], metadata: pl.DataFrame, stacklevel: int = 2) -> None:
    """Refuse metadata ids that match no tweet but equal a tweet's id rounded to 15 digits (a spreadsheet saved
    them); warn when tweets find no metadata row, naming the pairs of ids a float moved apart (see
    :func:`engagement_lab.ids.warn_unmatched`). ``stacklevel`` as for :func:`warnings.warn`, from the caller."""
    known = tweet_ids()
    meta_ids = metadata[C.TWEET_ID].drop_nulls().to_list()
    # only ids with nothing but zeros after the 15th digit can be rounded ones: usually none, so no work
    shaped = [i for i in meta_ids if len(i) > 15 and set(i[15:]) == {"0"} and i not in known]
    if shaped:
        rounded = {r: t for t in known for r in spreadsheet_rounding(t) if r != t}
        hits = [f"{i} (tweet {rounded[i]})" for i in shaped if i in rounded]
        if hits:
            raise rounded_ids_error(f"metadata ({len(hits)} ids match a tweet only after rounding)", hits)
    warn_unmatched(sorted(known), meta_ids, stacklevel=stacklevel + 1)


def priority(column: str, order: Sequence[str], columns: Sequence[str]) -> pl.Expr:
    """A column's rank in ``order`` (null counts as "", a value not listed ranks last)."""
    values = pl.col(column).fill_null("") if column in columns else pl.lit("")
    return values.replace_strict(order, list(range(len(order))), default=len(order), return_dtype=pl.Int64)


def source_rank(columns: Sequence[str]) -> pl.Expr:
    """Each row's source tag in :func:`engagement_lab.sources.tag_order` (0 is the best): per tweet and metric one
    source is used, as sources count a metric differently (organic, public, promoted), so their numbers are never
    mixed. Tags outside the registry were refused before (:func:`.tweets_population.choose_population`)."""
    return priority(C.SOURCE, sources.tag_order(), columns)


def bucket_columns(frame: pl.DataFrame) -> list[str]:
    """The columns that name one number: tweet, metric, grain and the bucket's day/hour/timestamp (a column that
    is null throughout names nothing and is left out, which keeps the check cheap on large hourly frames)."""
    return [c for c in BUCKET if c in frame.columns and frame[c].null_count() < frame.height]


def overlapping(ranked: pl.DataFrame) -> pl.Expr:
    """True for rows that repeat a bucket another row already covers: the same lifetime total, day or hour
    seen twice, or two windows of one bucket that overlap. Contiguous windows of a history are not repeats."""
    bucket = bucket_columns(ranked)
    repeated = pl.len().over(bucket) > 1
    if C.WINDOW_START not in ranked.columns:
        return repeated
    hour = pl.col(C.GRAIN) == "hour"
    start, end = pl.col(C.WINDOW_START), pl.col(C.WINDOW_END)
    unwindowed = (start.is_null() | end.is_null()).any().over(bucket)
    previous_end = end.cum_max().shift(1).over(bucket, order_by=start)
    overlaps = (start < previous_end).any().over(bucket)
    return repeated & (hour | unwindowed | overlaps)


def uniform_in(grouped: pl.DataFrame, column: str, rows: int) -> bool:
    """Whether ``column`` holds one value throughout the rows (or only nulls), from a per tweet and metric table of
    its least and greatest values and nulls (``_min_``, ``_max_`` and ``_nulls_`` + the column's name) and the
    rows it sums to."""
    nulls = int(grouped[f"_nulls_{column}"].sum())
    least, greatest = grouped[f"_min_{column}"].min(), grouped[f"_max_{column}"].max()
    return (nulls == 0 and least == greatest) or nulls == rows


def refuse_fractional(frame: Any, dtype: Any) -> None:
    """Refuse values that are not whole numbers (a float or decimal ``value`` column: counts read by hand, or an
    average), naming the rows: a count of 23.5 would become 23 in the int64 table, silently. ``frame`` is a
    narwhals lazy frame or a polars one; an integer column is whole by its type and costs nothing."""
    if not (dtype.is_float() or dtype.is_decimal()):
        return
    lazy = nw.from_native(frame)  # a polars LazyFrame too: one query for every engine
    bad = (nw.col(C.VALUE) != nw.col(C.VALUE).floor()).fill_null(False)  # NaN and null are missing, not fractions
    n = int(lazy.select(bad.cast(nw.Int64).sum()).collect(backend="polars").to_native().item() or 0)
    if n:
        found = lazy.filter(bad).select(C.TWEET_ID, C.ENGAGEMENT_TYPE, C.VALUE).head(3)
        shown = found.collect(backend="polars").to_native().rows(named=True)
        raise DataError(
            f"tidy frame: {n} row(s) hold a value that is not a whole number, e.g. {shown}; engagement counts are "
            "whole numbers and the table holds them as integers (23.5 would become 23). Fix the source, or round "
            "the value column yourself if it holds averages"
        )


def repeats_error(repeats: pl.DataFrame) -> DataError:
    """The refusal of rows that observe one number more than once, naming the tweets and metrics, with the advice
    that fits how they met: one load keeps the latest observation of a bucket (an hour whichever window reported
    it), so rows with the same window (or none) or hours come from separate loads; rows of one load that repeat
    are days or totals of different windows that overlap, which loading together cannot resolve."""
    tweets = repeats[C.TWEET_ID].unique(maintain_order=True)
    metrics = repeats[C.ENGAGEMENT_TYPE].unique(maintain_order=True).to_list()
    head = (
        f"the frame holds {repeats.height} rows that observe the same number more than once "
        f"({tweets.len()} tweet(s), e.g. {tweets.head(5).to_list()}; metrics {metrics[:5]}), which must not be added"
    )
    bucket = bucket_columns(repeats)
    window = [c for c in (C.WINDOW_START, C.WINDOW_END) if c in repeats.columns]
    separate = (
        repeats.height == 0
        or len(window) < 2
        or bool(
            repeats.select(
                (pl.col(C.GRAIN) == "hour").any()
                | pl.any_horizontal([pl.col(c).is_null() for c in window]).any()
                | (pl.len().over([*bucket, *window]) > 1).any()
            ).item()
        )
    )
    has_files = C.SOURCE_FILE in repeats.columns
    files = repeats[C.SOURCE_FILE].drop_nulls().unique(maintain_order=True).to_list() if has_files else []
    seen = f" (from {files[:4]})" if files else ""
    if separate:
        return DataError(
            f"{head}: lifetime totals or buckets of one tweet from files or snapshots loaded separately and then "
            f"concatenated{seen}. Load the files together in one call (load([...]), load_analytics_csv([...]), "
            "load_v2([...]), load_response([...]) or load_archive keep the latest observation), or call "
            "per_tweet(..., keep='latest')."
        )
    return DataError(
        f"{head}: they were loaded together{seen}, but their windows overlap (a day or total counted in two "
        "fetch windows that share time), so loading them together again does not help. Fetch windows that do "
        "not overlap (or delete one of the overlapping files), or call per_tweet(..., keep='latest') to use the "
        "latest retrieved window's number."
    )


def check_required(columns: Sequence[str]) -> None:
    """Refuse a tidy frame that lacks a column :data:`REQUIRED`, naming it and the likely intended column."""
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise DataError(
            f"tidy frame lacks {missing}{did_you_mean(missing[0], columns)}; build it with a load_* function"
        )


def wanted_metrics(metrics: Sequence[str] | None, rates: Sequence[str] = ()) -> list[str] | None:
    """``per_tweet(metrics=...)`` checked: None (every metric), or a non-empty list of names that holds the counts
    of every rate in ``rates``."""
    if metrics is None:
        return None
    if isinstance(metrics, str) or not metrics or not all(isinstance(m, str) for m in metrics):
        raise DataError(
            f"metrics= takes a list of metric names, e.g. metrics=['engagements', 'impressions']; got {metrics!r}"
        )
    wanted = list(dict.fromkeys(metrics))
    for name in rates:
        try:
            rate = resolve_metric(name)
        except StatsInputError:
            continue  # with_rates names an unknown rate with its own message
        left_out = [c for c in rate.columns if isinstance(rate, Ratio) and c not in wanted]
        if left_out:
            raise DataError(
                f"rates=[{name!r}] needs {left_out} as well, which metrics= leaves out; add them: "
                f"metrics={[*wanted, *left_out]!r}"
            )
    return wanted


def check_found(wanted: Sequence[str] | None, found: Sequence[str], held: Callable[[], Sequence[str]]) -> None:
    """Refuse a metric asked for by ``metrics=`` that the tidy frame does not hold, naming the closest of those it
    holds (``held()``: read only when something is missing)."""
    missing = [m for m in wanted or () if m not in found]
    if missing:
        names = sorted(set(held()))
        raise DataError(
            f"metric {missing[0]!r} is not in the tidy frame{did_you_mean(missing[0], names)}; it holds {names}"
        )


def metric_order(names: Sequence[str]) -> list[str]:
    known = [m for m in catalog.METRICS if m in names]
    return known + sorted(set(names) - set(known))


ID_SHAPE = r"^\d+(?:_\d+)?$"
"""A tweet id (digits) or a media key (``7_1790...``: the rows of X API v2 media analytics, one per video)."""
RANKED = (C.SOURCE, C.ENDPOINT, C.GRAIN, C.GROUPING)


def with_rates(wide: Any, rates: Sequence[str], columns: list[str]) -> Any:
    """Named rates added as float columns to a lazy frame of any engine narwhals supports (the same kind back); a
    zero or missing denominator gives null, never a number."""
    frame = nw.from_native(wide)
    for name in rates:
        try:
            rate = resolve_metric(name, columns)
        except StatsInputError as exc:
            raise DataError(str(exc)) from None
        if not isinstance(rate, Ratio):
            raise DataError(f"{name!r} is not a rate; choose from the named rates such as 'engagement_rate'")
        den = nw.col(rate.denominator).cast(nw.Float64)
        frame = frame.with_columns((nw.col(rate.numerator).cast(nw.Float64) / nw.when(den > 0).then(den)).alias(name))
        columns = [*columns, name]
    return frame.to_native()
