"""per_tweet: the one sanctioned wide frame (one row per tweet, one int64 column per metric), with metadata."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl

from .. import catalog
from .. import columns as C
from ..errors import DataError, StatsInputError, did_you_mean
from ..metrics import Ratio, resolve_metric
from .frames import Backend, Frame, check_backend, to_frame, to_polars

__all__ = ["SOURCE_PRIORITY", "per_tweet", "read_metadata"]

GRAIN_PRIORITY = ("total", "hour", "day", "hour_of_day")
"""Which grain a tweet's metric is taken from when several are present (lifetime totals first)."""
SOURCE_PRIORITY = (
    "",
    "v2.organic_metrics",
    "v2.non_public_metrics",
    "v2.public_metrics",
    "v2.media.organic_metrics",
    "v2.media.non_public_metrics",
    "v2.media.public_metrics",
    "analytics_csv",
    "v2.promoted_metrics",
    "v2.media.promoted_metrics",
    "analytics_csv.promoted",
)
"""Which source wins for one metric: the Engagement API (no source), then organic before public, promoted last
(the Engagement API's impressions are organic)."""
ENDPOINT_PRIORITY = ("totals", "", "historical", "28hr")
"""Lifetime totals first; then plain responses; then historical windows (summed); /28hr last."""
_REQUIRED = (C.TWEET_ID, C.ENGAGEMENT_TYPE, C.GRAIN, C.VALUE, C.GROUPING)


def _check_ids(frame: pl.DataFrame, what: str) -> pl.DataFrame:
    """Tweet ids must be text; ints are exact and converted, floats and scientific notation are refused."""
    if C.TWEET_ID not in frame.columns:
        raise DataError(
            f"{what} has no {C.TWEET_ID!r} column{did_you_mean(C.TWEET_ID, frame.columns)}; columns: {frame.columns}"
        )
    dtype = frame.schema[C.TWEET_ID]
    fix = (
        "read it as text, e.g. pd.read_csv(path, dtype={'tweet_id': str}) "
        "or pl.read_csv(path, schema_overrides={'tweet_id': pl.String})"
    )
    if dtype.is_float():
        raise DataError(
            f"{what}: {C.TWEET_ID} is {dtype}; ids above 2**53 have already lost digits as floats. Re-{fix}"
        )
    if dtype.is_integer():
        return frame.with_columns(pl.col(C.TWEET_ID).cast(pl.String))
    if dtype != pl.String:
        raise DataError(f"{what}: {C.TWEET_ID} must hold strings, got {dtype}")
    bad = frame.filter(pl.col(C.TWEET_ID).is_not_null() & ~pl.col(C.TWEET_ID).str.contains(r"^\s*\d+\s*$"))
    if bad.height:
        example = bad[C.TWEET_ID][0]
        hint = (
            " (scientific notation: a spreadsheet or float conversion rounded the ids)"
            if "e" in example.lower()
            else ""
        )
        raise DataError(f"{what}: tweet id {example!r} is not a string of digits{hint}; {fix} from the original source")
    return frame.with_columns(pl.col(C.TWEET_ID).str.strip_chars())


def read_metadata(metadata: Any) -> pl.DataFrame:
    """A metadata frame (pandas or polars) or CSV path, with ``tweet_id`` as text."""
    if isinstance(metadata, (str, Path)):
        frame = pl.read_csv(metadata, schema_overrides={C.TWEET_ID: pl.String}, infer_schema_length=10_000)
    else:
        frame = to_polars(metadata, "metadata")
    frame = _check_ids(frame, "metadata")
    duplicated = frame.filter(pl.col(C.TWEET_ID).is_duplicated())
    if duplicated.height:
        raise DataError(f"metadata lists tweet {duplicated[C.TWEET_ID][0]!r} more than once; keep one row per tweet")
    return frame


def _choose_rows(tidy: pl.DataFrame) -> pl.DataFrame:
    """Per (tweet, metric): the best source, endpoint and grain, then one grouping; summed."""
    source = pl.col(C.SOURCE).fill_null("") if C.SOURCE in tidy.columns else pl.lit("")
    ranked = tidy.filter(pl.col(C.TWEET_ID).is_not_null() & pl.col(C.ENGAGEMENT_TYPE).is_not_null()).with_columns(
        _source=source.replace_strict(SOURCE_PRIORITY, list(range(len(SOURCE_PRIORITY))), default=len(SOURCE_PRIORITY)),
        _grain=pl.col(C.GRAIN).replace_strict(GRAIN_PRIORITY, list(range(len(GRAIN_PRIORITY))), default=9),
    )
    endpoint = pl.col(C.ENDPOINT) if C.ENDPOINT in tidy.columns else pl.lit("")
    ranked = ranked.with_columns(
        _endpoint=endpoint.replace_strict(ENDPOINT_PRIORITY, list(range(len(ENDPOINT_PRIORITY))), default=9)
    )
    keys = [C.TWEET_ID, C.ENGAGEMENT_TYPE]
    best = ranked.group_by(keys).agg(pl.min("_source"), pl.min("_endpoint"), pl.min("_grain"))
    ranked = ranked.join(best, on=[*keys, "_source", "_endpoint", "_grain"])
    first = ranked.group_by(keys).agg(pl.min(C.GROUPING).alias("_grouping"))
    ranked = ranked.join(first, on=keys).filter(pl.col(C.GROUPING) == pl.col("_grouping"))
    return ranked.group_by(keys).agg(pl.sum(C.VALUE))


def _metric_order(names: Sequence[str]) -> list[str]:
    known = [m for m in catalog.METRICS if m in names]
    return known + sorted(set(names) - set(known))


def per_tweet(
    tidy: Frame,
    *,
    metadata: Any = None,
    rates: Sequence[str] = (),
    backend: Backend | None = None,
) -> Frame:
    """One row per tweet, one int64 column per metric, metadata joined on string ids.

    Parameters
    ----------
    tidy : pandas or polars DataFrame
        A tidy frame from any loader. Where a tweet's metric appears at several grains, lifetime totals
        win over hourly, daily, then hour-of-day sums; one grouping and one source are used, never summed
        across them.
    metadata : DataFrame or path to CSV, optional
        One row per tweet with a ``tweet_id`` column (campaign, variant, content type...).
    rates : sequence of str
        Named rates to add as float columns (``"engagement_rate"``, ``"ctr"``...; see ``NAMED_METRICS``).
    backend : {"pandas", "polars"}, optional
        Defaults to the backend of ``tidy``.
    """
    out_backend = check_backend(backend or ("polars" if isinstance(tidy, pl.DataFrame) else "pandas"))
    frame = to_polars(tidy, "tidy")
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(
            f"tidy frame lacks {missing}{did_you_mean(missing[0], frame.columns)}; build it with a load_* function"
        )
    frame = _check_ids(frame, "tidy frame")
    chosen = _choose_rows(frame)
    metrics = _metric_order(chosen[C.ENGAGEMENT_TYPE].unique().to_list())
    wide = chosen.pivot(on=C.ENGAGEMENT_TYPE, index=C.TWEET_ID, values=C.VALUE).select(C.TWEET_ID, *metrics)
    wide = wide.with_columns(pl.col(metrics).cast(pl.Int64)).sort(C.TWEET_ID)
    for name in rates:
        try:
            rate = resolve_metric(name, wide.columns)
        except StatsInputError as exc:
            raise DataError(str(exc)) from None
        if not isinstance(rate, Ratio):
            raise DataError(f"{name!r} is not a rate; choose from the named rates such as 'engagement_rate'")
        den = pl.col(rate.denominator).cast(pl.Float64)
        wide = wide.with_columns((pl.col(rate.numerator) / pl.when(den > 0).then(den)).alias(name))
    if metadata is not None:
        wide = wide.join(read_metadata(metadata), on=C.TWEET_ID, how="left")
    result = to_frame(wide.to_arrow(), out_backend)
    if isinstance(result, pd.DataFrame):
        result = result.astype(dict.fromkeys(metrics, "Int64"))
    return result
