"""Time-series analytics on tidy hourly data (pure; pandas or polars in, the same backend out).

Hourly rows (``grain == "hour"``, one source per tweet and metric, as ``per_tweet`` chooses) are aligned on
tweet age (hours since the hour of posting, from a metadata ``created_at``); overlapping windows count once.
The data cover each tweet from its first hour in the data (or the start of the fetch window that holds it, where
the rows carry ``window_start``) to its last: within that span a missing hour is a zero (the APIs list zero
buckets), outside it nothing is made up. A tweet posted before its data begin has no running total, share,
half-life or crossing time (null, with the reason in a column); hours after the data end are absent, not zeros.
From there: cumulative curves and the share of the observed total by age, half-life (hours to half the total),
time to a threshold (the first hour a running total reaches N, or censored), hour-of-day by weekday profiles in
any time zone, and daily rollups (with the account-level days of daily summary exports beside them).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from . import columns as C
from .errors import DataError
from .load.frames import check_backend, to_frame, to_polars
from .load.tweets_rules import read_metadata, source_rank

__all__ = ["by_age", "daily", "half_life", "hour_weekday_profile", "posting_time", "time_to_threshold"]

AGE = "age_hours"


def _polars(frame: Any) -> tuple[pl.DataFrame, str]:
    """The frame as polars, and the backend to answer in (the caller's)."""
    backend = "polars" if isinstance(frame, (pl.DataFrame, pl.LazyFrame)) else "pandas"
    return to_polars(frame, "tidy frame"), backend


def _back(frame: pl.DataFrame, backend: str) -> Any:
    return to_frame(frame.to_arrow(), check_backend(backend))


def _hourly(tidy: pl.DataFrame, metric: str | None) -> pl.DataFrame:
    """One value per (tweet, metric, hour): hourly rows only; overlapping windows counted once. ``_from`` is the
    first hour the tweet's data cover (its first row, or its earliest window's start if earlier)."""
    missing = [c for c in (C.TWEET_ID, C.ENGAGEMENT_TYPE, C.GRAIN, C.TIMESTAMP, C.VALUE) if c not in tidy.columns]
    if missing:
        raise DataError(f"tidy frame lacks {missing}; load hourly data with load_response or load_archive")
    rows = tidy.filter((pl.col(C.GRAIN) == "hour") & pl.col(C.TWEET_ID).is_not_null())
    if metric is not None:
        rows = rows.filter(pl.col(C.ENGAGEMENT_TYPE) == metric)
    if rows.height == 0:
        which = f" for {metric!r}" if metric else ""
        raise DataError(f"no hourly rows{which}: fetch /historical or /28hr with the 'hourly' grouping")
    # one source per tweet and metric, as per_tweet chooses (an hour of Engagement API impressions and one of X API
    # v2 impressions are different counts); within it, an hour in several windows or groupings counts once
    rank = source_rank(rows.columns)
    rows = rows.filter(rank == rank.min().over(C.TWEET_ID, C.ENGAGEMENT_TYPE))
    start = pl.col(C.TIMESTAMP).min()
    if C.WINDOW_START in rows.columns:  # the fetch window says where the data begin, even before a first row
        start = pl.min_horizontal(start, pl.col(C.WINDOW_START).min().dt.truncate("1h"))
    return (
        rows.group_by(C.TWEET_ID, C.ENGAGEMENT_TYPE, C.TIMESTAMP)
        .agg(pl.col(C.VALUE).max())
        .join(
            rows.group_by(C.TWEET_ID, C.ENGAGEMENT_TYPE).agg(start.alias("_from")), on=[C.TWEET_ID, C.ENGAGEMENT_TYPE]
        )
    )


def _created(metadata: Any) -> pl.DataFrame:
    meta = read_metadata(metadata)
    if "created_at" not in meta.columns:
        raise DataError("metadata needs a created_at column (ISO UTC time of posting) to align tweets by age")
    created = pl.col("created_at")
    if meta.schema["created_at"] == pl.String:
        created = created.str.to_datetime(time_zone="UTC", time_unit="us")
    return meta.select(C.TWEET_ID, created.dt.convert_time_zone("UTC").dt.truncate("1h").alias("_posted"))


def by_age(tidy: Any, metadata: Any, *, metric: str | None = None, max_hours: int | None = None) -> Any:
    """Hourly values aligned on tweet age, with running totals and the share of each tweet's observed total.

    Columns: ``tweet_id, engagement_type, age_hours, value, cumulative, share, from_posting``. Every hour the data
    cover is present, from posting (or the first covered hour) to the last observed hour (at most ``max_hours``);
    a missing hour inside that span is a zero, and hours after the data end are absent. ``from_posting`` is False
    for a tweet posted before its data begin: its ``cumulative`` and ``share`` are null (what came before is not
    known), never a total counted from zero. ``share`` is also null for a tweet with no observed ``metric`` at all.
    A tweet posted after its data end has no rows.
    """
    frame, backend = _polars(tidy)
    if max_hours is not None and (isinstance(max_hours, bool) or not isinstance(max_hours, int) or max_hours < 1):
        raise DataError(f"max_hours must be a whole number of hours, at least 1, got {max_hours!r}")
    curves, _ = _curves(frame, metadata, metric, max_hours)
    return _back(curves, backend)


def _curves(
    frame: pl.DataFrame, metadata: Any, metric: str | None, max_hours: int | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """by_age's curves, and the (tweet, metric) pairs whose data all precede the tweet's posting."""
    posted = _created(metadata)
    keys = [C.TWEET_ID, C.ENGAGEMENT_TYPE]
    rows = _hourly(frame, metric).join(posted, on=C.TWEET_ID, how="inner")
    hours = (pl.col(C.TIMESTAMP) - pl.col("_posted")).dt.total_hours().cast(pl.Int64)
    first = (pl.col("_from") - pl.col("_posted")).dt.total_hours().cast(pl.Int64)
    rows = rows.with_columns(
        hours.alias(AGE), first.clip(lower_bound=0).alias("_first"), (first <= 0).alias("from_posting")
    )
    late = rows.group_by(keys).agg(pl.col(AGE).max()).filter(pl.col(AGE) < 0).select(keys)
    rows = rows.filter(pl.col(AGE) >= 0)
    if max_hours is not None:
        rows = rows.filter(pl.col(AGE) < max_hours)
    span = rows.group_by(keys).agg(
        pl.col(AGE).max().alias("_last"), pl.col("_first").first(), pl.col("from_posting").first()
    )
    grid = span.with_columns(pl.int_ranges(pl.col("_first"), pl.col("_last") + 1).alias(AGE)).explode(AGE)
    full = grid.drop("_last", "_first").join(rows.select(*keys, AGE, C.VALUE), on=[*keys, AGE], how="left")
    full = full.with_columns(pl.col(C.VALUE).fill_null(0)).sort(*keys, AGE)
    complete = pl.col("from_posting")
    total = pl.col(C.VALUE).sum().over(keys)
    full = full.with_columns(pl.when(complete).then(pl.col(C.VALUE).cum_sum().over(keys)).alias("cumulative"))
    full = full.with_columns(pl.when(complete & (total > 0)).then(pl.col("cumulative") / total).alias("share"))
    columns = [*keys, AGE, C.VALUE, "cumulative", "share", "from_posting"]
    return full.select(columns).with_columns(pl.col(AGE).cast(pl.Int32)), late


POSTED_BEFORE = "posted before its data begin"
POSTED_AFTER = "posted after its data end"


def _per_tweet(curves: pl.DataFrame, late: pl.DataFrame, found: pl.DataFrame) -> pl.DataFrame:
    """One row per tweet: ``found`` (the number asked for) joined to its total, the hours observed and whether the
    data cover it from posting; the tweets whose data all precede their posting added with nothing observed."""
    totals = curves.group_by(C.TWEET_ID).agg(
        pl.col(C.VALUE).sum().alias("total"),
        (pl.col(AGE).max() + 1).cast(pl.Int32).alias("age_at_data_end"),
        pl.col("from_posting").first(),
    )
    after = late.select(C.TWEET_ID).unique().with_columns(age_at_data_end=pl.lit(None, pl.Int32))
    return pl.concat([totals, after], how="diagonal_relaxed").join(found, on=C.TWEET_ID, how="left")


def half_life(tidy: Any, metadata: Any, *, metric: str = "impressions", fraction: float = 0.5) -> Any:
    """Hours from posting until a tweet had ``fraction`` (default half) of its observed total of ``metric``.

    Columns: ``tweet_id, half_life_hours, total, age_at_data_end, reason``. ``age_at_data_end`` is the tweet's age
    in hours when its data end (a young tweet's half-life is of what it has had so far). The half-life is null,
    with ``reason`` saying why, for a tweet posted before its data begin (its early hours, usually most of its
    reach, are not in the data), posted after they end, or with nothing observed ("no impressions observed");
    ``reason`` is null where there is a number.
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise DataError(f"fraction must be in (0, 1], got {fraction!r}")
    frame, backend = _polars(tidy)
    curves, late = _curves(frame, metadata, metric)
    reached = (
        curves.filter(pl.col("share") >= fraction)
        .group_by(C.TWEET_ID)
        .agg((pl.col(AGE).min() + 1).alias("half_life_hours"))
    )
    reason = (
        pl.when(pl.col("from_posting").is_null())
        .then(pl.lit(POSTED_AFTER))
        .when(~pl.col("from_posting"))
        .then(pl.lit(POSTED_BEFORE))
        .when(pl.col("total") == 0)
        .then(pl.lit(f"no {metric} observed"))
    )
    out = (
        _per_tweet(curves, late, reached)
        .with_columns(reason.alias("reason"))
        .select(C.TWEET_ID, "half_life_hours", "total", "age_at_data_end", "reason")
        .sort(C.TWEET_ID)
    )
    return _back(out, backend)


def time_to_threshold(tidy: Any, metadata: Any, *, metric: str = "favorites", threshold: int = 100) -> Any:
    """For each tweet, the first hour of age at whose end its running total of ``metric`` reached ``threshold``.

    Columns: ``tweet_id, hours_to_threshold, crossed_at`` (UTC end of that hour), ``total``, ``age_at_data_end``,
    ``censored`` and ``reason``. A tweet that had not reached the threshold by the end of its data is ``censored``
    (True): it may still cross later, so its time is more than ``age_at_data_end`` hours, not never. A tweet posted
    before its data begin (its running total before them is not known) or after they end has no time and ``censored`` is
    null; ``reason`` says which, and is null where there is a number.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise DataError(f"threshold must be a whole number of at least 1, got {threshold!r}")
    frame, backend = _polars(tidy)
    curves, late = _curves(frame, metadata, metric)
    first = (
        curves.filter(pl.col("cumulative") >= threshold)
        .group_by(C.TWEET_ID)
        .agg((pl.col(AGE).min() + 1).alias("hours_to_threshold"))
    )
    known = pl.col("from_posting").fill_null(False)
    reason = (
        pl.when(pl.col("from_posting").is_null())
        .then(pl.lit(POSTED_AFTER))
        .when(~pl.col("from_posting"))
        .then(pl.lit(POSTED_BEFORE))
        .when(pl.col("hours_to_threshold").is_null())
        .then(pl.lit(f"not {threshold} {metric} by the end of its data"))
    )
    out = (
        _per_tweet(curves, late, first)
        .join(_created(metadata), on=C.TWEET_ID, how="left")
        .with_columns(
            crossed_at=pl.col("_posted") + pl.duration(hours=pl.col("hours_to_threshold")),
            censored=pl.when(known).then(pl.col("hours_to_threshold").is_null()),
            reason=reason,
        )
        .select(C.TWEET_ID, "hours_to_threshold", "crossed_at", "total", "age_at_data_end", "censored", "reason")
        .sort(C.TWEET_ID)
    )
    return _back(out, backend)


def hour_weekday_profile(tidy: Any, *, metric: str = "impressions", tz: str = "UTC") -> Any:
    """Total ``metric`` by weekday (Monday first) and hour of day in time zone ``tz``, with each cell's share
    (and the ``metric`` and ``tz`` named in columns of their own, for titles)."""
    frame, backend = _polars(tidy)
    rows = _hourly(frame, metric)
    try:
        local = rows.with_columns(pl.col(C.TIMESTAMP).dt.convert_time_zone(tz).alias("_local"))
    except Exception as exc:  # polars raises its own error type for unknown zones
        raise DataError(f"unknown time zone {tz!r}: {exc}") from None
    out = (
        local.with_columns(
            weekday=pl.col("_local").dt.strftime("%a"),
            _wd=pl.col("_local").dt.weekday(),
            hour=pl.col("_local").dt.hour(),
        )
        .group_by("_wd", "weekday", "hour")
        .agg(pl.col(C.VALUE).sum())
        .sort("_wd", "hour")
        .with_columns(share=pl.col(C.VALUE) / pl.col(C.VALUE).sum(), metric=pl.lit(metric), tz=pl.lit(tz))
        .drop("_wd")
    )
    return _back(out, backend)


def daily(tidy: Any, *, metric: str | None = None, tz: str = "UTC") -> Any:
    """Daily values: ``tweet_id, engagement_type, day, value``.

    Hourly rows of tweets are summed to calendar days in ``tz``. Account-level day rows (a daily summary or
    account overview export: ``grain == "day"`` with no tweet id) are days as the export defines them, kept
    with a null ``tweet_id``; they cannot be moved to another time zone, so ``tz`` other than UTC refuses them.
    One day of an account metric seen twice (two overlapping exports concatenated by hand) is refused, not
    added: load the files together with ``load_analytics_csv([...])``, which keeps the latest.
    """
    frame, backend = _polars(tidy)
    parts = []
    account = _account_days(frame, metric)
    if account.height and tz != "UTC":
        raise DataError(
            f"tz={tz!r}: the account-level day rows (daily summary or account overview exports) are calendar days "
            "as exported and cannot be moved to another time zone; drop tz, or filter out rows without a tweet_id"
        )
    tweet_hours = (pl.col(C.GRAIN) == "hour") & pl.col(C.TWEET_ID).is_not_null()
    has_hours = {C.GRAIN, C.TWEET_ID}.issubset(frame.columns) and frame.select(tweet_hours.any()).item()
    if has_hours or not account.height:  # no rows of either kind: _hourly says what to fetch
        rows = _hourly(frame, metric)
        try:
            local = rows.with_columns(pl.col(C.TIMESTAMP).dt.convert_time_zone(tz).dt.date().alias(C.DAY))
        except Exception as exc:  # polars raises its own error type for unknown zones
            raise DataError(f"unknown time zone {tz!r}: {exc}") from None
        parts.append(local.group_by(C.TWEET_ID, C.ENGAGEMENT_TYPE, C.DAY).agg(pl.col(C.VALUE).sum()))
    if account.height:
        parts.append(account)
    out = pl.concat(parts, how="vertical_relaxed").sort(C.TWEET_ID, C.ENGAGEMENT_TYPE, C.DAY, nulls_last=True)
    return _back(out, backend)


def _account_days(frame: pl.DataFrame, metric: str | None) -> pl.DataFrame:
    """The account-level day rows (no tweet id), one per metric and day; a day seen twice is refused."""
    if not {C.TWEET_ID, C.GRAIN, C.DAY}.issubset(frame.columns):
        return pl.DataFrame()
    rows = frame.filter(pl.col(C.TWEET_ID).is_null() & (pl.col(C.GRAIN) == "day"))
    if metric is not None:
        rows = rows.filter(pl.col(C.ENGAGEMENT_TYPE) == metric)
    rows = rows.select(C.TWEET_ID, C.ENGAGEMENT_TYPE, C.DAY, C.VALUE)
    twice = rows.filter(pl.len().over(C.ENGAGEMENT_TYPE, C.DAY) > 1)
    if twice.height:
        first = twice.row(0, named=True)
        raise DataError(
            f"{twice.height} account-level day rows observe the same day more than once (e.g. "
            f"{first[C.ENGAGEMENT_TYPE]} on {first[C.DAY]}): overlapping exports concatenated by hand, which must "
            "not be added. Load the files together: load_analytics_csv([...]) keeps the latest export's day"
        )
    return rows


def posting_time(frame: Any, *, column: str = "created_at", tz: str = "UTC") -> Any:
    """Add ``hour_of_day`` (0-23) and ``weekday`` (1 = Monday ... 7 = Sunday) of each tweet's posting time, in
    ``tz``, from ``column`` (a datetime, or ISO text); the covariates an adjusted comparison of content types
    usually holds fixed (``compare(..., adjust_for=["account", "hour_of_day", "weekday"])``).

    Examples
    --------
    >>> import polars as pl
    >>> posting_time(pl.DataFrame({"created_at": ["2026-05-30T19:30:00Z"]}))[["hour_of_day", "weekday"]].row(0)
    (19, 6)
    """
    data, backend = _polars(frame)
    if column not in data.columns:
        raise DataError(f"no {column!r} column: posting times come from per-tweet exports, v2 data or metadata")
    created = pl.col(column)
    if data.schema[column] == pl.String:
        created = created.str.to_datetime(time_zone="UTC", time_unit="us")
    elif data.schema[column] == pl.Datetime and getattr(data.schema[column], "time_zone", None) is None:
        raise DataError(f"{column!r} has no time zone; make it UTC first (e.g. .dt.replace_time_zone('UTC'))")
    local = created.dt.convert_time_zone(tz)
    out = data.with_columns(hour_of_day=local.dt.hour().cast(pl.Int8), weekday=local.dt.weekday().cast(pl.Int8))
    return _back(out, backend)
