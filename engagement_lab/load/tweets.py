"""per_tweet: the one sanctioned wide frame (one row per tweet, one int64 column per metric), with metadata."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import narwhals as nw
import pandas as pd
import polars as pl

from .. import columns as C
from ..errors import DataError, check_choice
from .frames import (
    Backend,
    check_backend,
    hashes_repeat,
    key_hash,
    key_hashes,
    repeat_parts,
    repeats_query,
    to_frame,
    to_polars,
)
from .tweets_engine import per_tweet_lazy
from .tweets_population import POPULATION, one_population, tweet_ids
from .tweets_rules import (
    BUCKET,
    ENDPOINT_PRIORITY,
    GRAIN_PRIORITY,
    ID_SHAPE,
    RANKED,
    bucket_columns,
    check_found,
    check_ids,
    check_required,
    check_rounded_join,
    id_dtype,
    metric_order,
    overlapping,
    priority,
    read_metadata,
    refuse_fractional,
    repeats_error,
    source_rank,
    uniform_in,
    wanted_metrics,
    with_rates,
)

__all__ = ["per_tweet", "read_metadata"]


def _ranked(tidy: pl.DataFrame) -> pl.DataFrame:
    """Per (tweet, metric): only the rows of the best source, then endpoint, then grain (in that order of
    precedence, so some row always wins), then one grouping."""
    columns = tidy.columns
    rank = (
        source_rank(columns) * 10_000
        + priority(C.ENDPOINT, ENDPOINT_PRIORITY, columns) * 100
        + priority(C.GRAIN, GRAIN_PRIORITY, columns)
    )
    keys = [C.TWEET_ID, C.ENGAGEMENT_TYPE]
    ranked = tidy.filter(pl.col(C.TWEET_ID).is_not_null() & pl.col(C.ENGAGEMENT_TYPE).is_not_null())
    ranked = ranked.with_columns(_rank=rank).filter(pl.col("_rank") == pl.col("_rank").min().over(keys))
    grouping = pl.col(C.GROUPING).fill_null("")
    return ranked.filter(grouping == grouping.min().over(keys)).drop("_rank")


def _one_observation(ranked: pl.DataFrame, keep: str) -> pl.DataFrame:
    """Refuse (or, with ``keep="latest"``, resolve) several observations of one cumulative number."""
    # the usual case: no bucket seen twice, decided in one cheap pass (the window-overlap test below sorts within
    # every bucket, which is slow over millions of one-row buckets and only matters when some repeat)
    many = ranked.with_columns(_many=pl.len().over(bucket_columns(ranked)) > 1)
    if not many["_many"].any():
        return ranked
    # the overlap test runs on the repeated buckets only (all rows of such a bucket are among them)
    shared = many.filter("_many").drop("_many")
    repeat = shared.select(overlapping(shared)).to_series()
    if not repeat.any():  # repeats, but contiguous windows of one history
        return ranked
    flagged = pl.concat(
        [
            many.filter(~pl.col("_many")).drop("_many").with_columns(_repeat=pl.lit(False)),
            shared.with_columns(_repeat=repeat),
        ]
    )
    repeats = flagged.filter("_repeat")
    if keep == "raise":
        raise repeats_error(repeats)
    bucket = bucket_columns(ranked)
    time = pl.col(C.RETRIEVED_AT) if C.RETRIEVED_AT in ranked.columns else pl.lit(None, pl.Datetime("us", "UTC"))
    latest = (
        flagged.with_columns(_time=time)
        .sort(["_time", "_row"], nulls_last=False)
        .with_columns(_is_last=pl.int_range(pl.len()).over(bucket) == pl.len().over(bucket) - 1)
    )
    return latest.filter(~pl.col("_repeat") | pl.col("_is_last")).drop("_time", "_is_last", "_repeat")


def _choose_rows(tidy: pl.DataFrame, keep: str) -> pl.DataFrame:
    """Per (tweet, metric): the best source, endpoint and grain, one grouping, one observation; summed."""
    chosen = _one_observation(_ranked(tidy.with_row_index("_row") if keep == "latest" else tidy), keep)
    return chosen.group_by([C.TWEET_ID, C.ENGAGEMENT_TYPE]).agg(pl.sum(C.VALUE))


def _refuse_account_level(frame: pl.DataFrame) -> None:
    if frame.height and frame[C.TWEET_ID].null_count() == frame.height:
        grains = sorted(set(frame[C.GRAIN].drop_nulls().to_list()))
        raise DataError(
            f"this data has no tweets: every row is account-level ({grains} rows without a tweet id: a daily "
            "summary or account overview export, or a grouping without tweet.id such as 'Grand Totals'). "
            "per_tweet needs per-tweet rows; for account-level days use engagement_lab.timeseries.daily(tidy)."
        )


def _uniform(column: str, in_memory: bool) -> pl.Expr:
    """True when ``column`` holds one value throughout (or only nulls)."""
    values = pl.col(column)
    nulls = values.null_count()
    # in memory, every value equal to the first: a twelfth of the time of min and max on 10M strings; a streaming
    # scan keeps min and max in constant memory
    same = (values == values.first()).all() if in_memory else values.min() == values.max()
    return (same & (nulls == 0)) | (nulls == pl.len())


def _later(pairs: Sequence[tuple[pl.Expr, pl.Expr]]) -> pl.Expr:
    """Whether ``a`` comes strictly after ``b``, comparing the (a, b) pairs of time columns in order. A null is
    never greater and equals only a null, so "later" is transitive and a time is never later than itself."""
    later, equal_so_far = pl.lit(False), pl.lit(True)
    for a, b in pairs:
        later = later | (equal_so_far & (a > b).fill_null(False))
        equal_so_far = equal_so_far & a.eq_missing(b)
    return later


def _in_stretches(frame: pl.LazyFrame, keys: Sequence[str]) -> tuple[list[pl.Expr], pl.LazyFrame]:
    """The passes of a proof that no bucket repeats in the usual layouts: one answer's rows, tweet by tweet, or
    several such answers concatenated (decided by :func:`_stretches_apart`).

    A stretch is a run of consecutive rows sharing tweet, metric and grain. The facts say whether the bucket's
    time (day, hour, timestamp) strictly increases within every stretch (``ordered``) and give the last row's
    times; the query gives each stretch's key hash, its first row's times and the times of the row before it
    (the last of the stretch before), about 36 bytes per stretch. When no proof holds (times not increasing
    within a stretch, as in a frame sorted newest first or one tweet's answers concatenated newest first; short
    stretches; a repeat) the hash sort of every row decides.

    Two variants were measured with ``benchmarks/per_tweet.py`` and not kept (numbers in ``benchmarks/README.md``):
    gathering the stretches' last rows after this pass (a smaller table) was slower than the shift here, and ending
    a stretch also where its times turn (which proves a frame sorted newest first) slowed every other layout."""
    group = [k for k in (C.TWEET_ID, C.ENGAGEMENT_TYPE, C.GRAIN) if k in keys]
    times = [k for k in keys if k not in group]
    same = pl.all_horizontal(*[pl.col(k).eq_missing(pl.col(k).shift(1)) for k in group])
    facts = [
        (~same | _later([(pl.col(k), pl.col(k).shift(1)) for k in times])).all().alias("ordered"),
        pl.col(C.ENGAGEMENT_TYPE).null_count().alias("metric_nulls"),
        *[pl.col(k).last().alias(f"_end_{k}") for k in times],
    ]
    before = [pl.col(k).shift(1).alias(f"_before_{k}") for k in times]
    starts = frame.with_columns(*before, _start=~same).filter("_start")
    starts = starts.select(key_hash(group).alias("_h"), *times, *[f"_before_{k}" for k in times])
    return facts, starts


def _stretches_apart(starts: pl.DataFrame, ends: dict[str, Any], rows: int) -> bool:
    """Whether the stretches (from :func:`_in_stretches`, each with its times strictly increasing) cannot share
    a bucket: no two share tweet, metric and grain, or those that do (equal key hashes), sorted by their first
    times, each begin after the one before ends. That covers one answer and several answers concatenated in any
    order (answers that overlap are repeats, which the sort of every row then names). Short stretches (rows
    sorted by time with the metrics interleaved: more stretches than a quarter of the rows, beyond 10,000) are
    left to that sort, which then costs about the same.

    The proof holds whatever the order within a chain (each stretch later than the one before makes them all
    apart); the sort only makes it likely to be found. A hash collision only joins two keys' stretches into one
    chain, which is then proved apart or not."""
    hashes = starts["_h"].sort()
    if not (hashes == hashes.shift(1)).any():  # no key in two stretches (one answer): one cheap sort
        return True
    if starts.height > max(rows // 4, 10_000):  # short stretches: sorting them costs what the sort of every row does
        return False
    times = [c for c in starts.columns if c != "_h" and not c.startswith("_before_")]
    # the last times of each stretch: those of the row before the next stretch's first, and the frame's last row
    lasts = {k: pl.concat([starts[f"_before_{k}"].slice(1), pl.Series([ends[f"_end_{k}"]], dtype=starts[k].dtype)])
             for k in times}  # fmt: skip
    chains = starts.select("_h", *times, *[lasts[k].alias(f"_last_{k}") for k in times]).sort(["_h", *times])
    shared = pl.col("_h") == pl.col("_h").shift(1)
    first, last = [pl.col(k) for k in times], [pl.col(f"_last_{k}") for k in times]
    after = _later([(f, e.shift(1)) for f, e in zip(first, last, strict=True)])
    return bool(chains.select((~shared | after).all()).item())


def _repeats(frame: pl.LazyFrame, keys: Sequence[str], parts: int, start: int = 0) -> bool:
    """Whether any bucket repeats, by the hash sort, one hash part after another (stopping at the first found)."""
    return any(
        repeats_query(frame, keys, part, parts).collect(engine="streaming").item() for part in range(start, parts)
    )


def _survey(
    frame: pl.LazyFrame, columns: Sequence[str], sums: pl.LazyFrame, rows: int | None = None
) -> tuple[dict[str, Any], pl.DataFrame]:
    """What the fast path needs to know about an eager input (in as few passes as it allows): account-level rows,
    whether every row has the same source, endpoint, grain and grouping, whether ids are clean, the metric names,
    and whether any bucket repeats (proved from the same pass for the usual layouts, see :func:`_in_stretches`, else
    sorted hashes compared with their neighbours: cheaper than counting distinct values). ``sums`` is collected
    too (the fast path's answer); ``rows`` is the input's height when known. A lazy input is surveyed by
    :func:`_one_pass` instead."""
    clean_ids = pl.col(C.TWEET_ID).drop_nulls().unique().str.contains(ID_SHAPE).all()
    keys = [c for c in BUCKET if c in columns]
    proof, stretches = _in_stretches(frame, keys)
    facts = frame.select(
        *proof,
        rows=pl.len(),
        id_nulls=pl.col(C.TWEET_ID).null_count(),
        uniform=pl.all_horizontal(*[_uniform(c, rows is not None) for c in RANKED if c in columns]),
    )
    # the repeat check sorts one hash per row: a frame larger than one pass is checked in hash parts, one after
    # another, so memory stays bounded
    parts = repeat_parts(rows) if rows is not None else repeat_parts(frame.select(pl.len()).collect().item())
    found, starts = pl.collect_all([facts, stretches])
    survey = found.row(0, named=True)
    ordered, metric_nulls = survey.pop("ordered"), survey.pop("metric_nulls")
    ends = {k: survey.pop(k) for k in list(survey) if k.startswith("_end_")}
    simple = survey["uniform"] and not survey["id_nulls"] and ordered and not metric_nulls
    if simple and _stretches_apart(starts, ends, survey["rows"]):
        summed, survey["repeats"] = sums.collect(), False
    else:  # not proved: the sort runs alongside the sums
        summed, first = pl.collect_all([sums, repeats_query(frame, keys, 0, parts)])
        survey["repeats"] = first.item() or _repeats(frame, keys, parts, start=1)
    survey["clean_ids"] = summed.select(clean_ids).item()
    survey["metrics"] = summed[C.ENGAGEMENT_TYPE].unique().drop_nulls().to_list()  # from the small sums
    return survey, summed


def _one_pass(frame: pl.LazyFrame, columns: Sequence[str]) -> tuple[dict[str, Any], pl.DataFrame]:
    """What the fast path needs to know about a lazy input, and its answer, in one streaming pass.

    Per tweet and metric (a small table: one row per tweet and metric, however many hours each has): the sum of the
    values, the rows, each ranked column's least and greatest value and its nulls, and ``created_at``. From it: the
    survey facts, the metric names and the ids. The same scan writes every row's bucket hash to a temporary Parquet
    file (8 bytes a row; polars' streaming engine feeds both from one read), whose sort then decides whether any
    bucket repeats: exact, in hash parts of at most :data:`~engagement_lab.load.frames.REPEAT_PASS_ROWS` rows, so
    memory holds one part (an Arrow IPC file is memory-mapped, and its pages counted: 0.66 GB against 0.51 GB on
    22.5M rows of every metric). Only when some row lacks a timestamp (daily rows) does the check read the input
    again, for day and hour. Measured and not kept: counting distinct hashes per tweet and metric in the pass (2.7
    GB on 20M rows), each tweet and metric's list of hashes (polars leaves streaming: 1.06 GB at 2.5M rows), and
    ``collect_all`` of the sums and the sort (one read, but 2.54 GB at 102M rows); the file took 20 s and 0.44 GB at
    102M rows where two reads took 32 s."""
    keys = [C.TWEET_ID, C.ENGAGEMENT_TYPE]
    ranked = [c for c in RANKED if c in columns]
    sums = frame.group_by(keys).agg(
        pl.col(C.VALUE).sum(),
        pl.len().alias("_rows"),
        *[pl.col(c).min().alias(f"_min_{c}") for c in ranked],
        *[pl.col(c).max().alias(f"_max_{c}") for c in ranked],
        *[pl.col(c).null_count().alias(f"_nulls_{c}") for c in ranked],
        *([pl.col(C.CREATED_AT).min()] if C.CREATED_AT in columns else []),
        *([pl.col(C.TIMESTAMP).null_count().alias("_nulls_timestamp")] if C.TIMESTAMP in columns else []),
    )
    timestamped = C.TIMESTAMP in columns
    with tempfile.TemporaryDirectory(prefix="engagement_lab_") as folder:
        # the same scan feeds the sums and a file of every row's bucket hash (8 bytes a row, on disk, not in
        # memory): polars' streaming engine reads the input once for both
        hashes = Path(folder) / "hashes.parquet"
        written = key_hashes(frame, _hashed_bucket(columns, timestamped)).sink_parquet(
            hashes, compression="uncompressed", statistics=False, lazy=True
        )
        found = pl.collect_all([sums, written], engine="streaming")[0]
        rows = int(found["_rows"].sum())
        named = found.filter(pl.col(C.TWEET_ID).is_not_null())
        valid = named.filter(pl.col(C.ENGAGEMENT_TYPE).is_not_null())
        survey = {
            "rows": rows,
            "id_nulls": rows - int(named["_rows"].sum()),
            "uniform": all(uniform_in(found, c, rows) for c in ranked),
            "clean_ids": bool(named[C.TWEET_ID].unique().str.contains(ID_SHAPE).all()),
            "metrics": valid[C.ENGAGEMENT_TYPE].unique().to_list(),
        }
        # only the fast path needs it (the exact way finds repeats itself)
        simple = survey["uniform"] and survey["clean_ids"]
        timed = timestamped and not found["_nulls_timestamp"].sum()
        if not simple:
            survey["repeats"] = False
        elif timed or not timestamped:  # the hashes written name every bucket: sorted from the file, in parts
            survey["repeats"] = hashes_repeat(pl.scan_parquet(hashes), repeat_parts(rows))
        else:  # some rows lack a timestamp: their buckets need day and hour too, read again
            survey["repeats"] = _repeats(frame, _hashed_bucket(columns, False), repeat_parts(rows))
    return survey, valid.drop("_nulls_timestamp", strict=False)


def _hashed_bucket(columns: Sequence[str], timed: bool) -> list[str]:
    """The bucket columns the repeat check of a uniform lazy input hashes: not the grain (one value throughout),
    and only the timestamp of the times when no row lacks one (day and hour are read from it by every loader).
    Fewer columns can only make two buckets look alike, which sends the frame the exact way, never past it; each
    column left out is one fewer read."""
    times = [C.TIMESTAMP] if timed else [C.DAY, C.HOUR, C.TIMESTAMP]
    return [c for c in (C.TWEET_ID, C.ENGAGEMENT_TYPE, *times) if c in columns]


def per_tweet(
    tidy: Any,
    *,
    metadata: Any = None,
    rates: Sequence[str] = (),
    backend: Backend | None = None,
    keep: Literal["raise", "latest"] = "raise",
    population: str = "auto",
    metrics: Sequence[str] | None = None,
) -> Any:
    """One row per tweet, one int64 column per metric, metadata joined on string ids.

    Each tweet's row counts one population, never a mix: sources count a metric differently, e.g. one v2 post
    holds organic likes (1,244) and public likes (17,168), and a row with organic likes beside public retweets
    would be a number nobody measured. The ``population`` column of the result says which one each row counts.

    Parameters
    ----------
    tidy : pandas or polars DataFrame, polars LazyFrame, or another engine's lazy frame
        A tidy frame from any loader (or ``scan()``). Where a tweet's metric appears at several grains, lifetime
        totals win over hourly, daily, then hour-of-day sums; one grouping and one source are used, never summed
        across them. A LazyFrame gives a LazyFrame: when every row has one source, endpoint, grain and grouping
        and no bucket repeats, the data is read once for every check and the sums per tweet and metric, and the
        exact repeat check sorts the rows' bucket hashes, written to a temporary file by the same read (8 bytes a
        row; daily rows without a timestamp are read once more); collecting the result reads nothing more. A
        lazy frame of another engine that narwhals supports (a DuckDB relation, Ibis, Dask, PySpark...) gives the
        same kind back, with the same rules evaluated in that engine (``keep="latest"`` is polars-only
        there): one aggregation checks it (and, on DuckDB, counts each tweet and metric's distinct buckets), and
        the table is computed there when you collect. On DuckDB the usual load is read once: that aggregation's
        sums are the table, a relation of the input's own connection.
    metadata : DataFrame or path to CSV, optional
        One row per tweet with a ``tweet_id`` column (campaign, variant, content type...).
    rates : sequence of str
        Named rates to add as float columns (``"engagement_rate"``, ``"ctr"``...; see ``NAMED_METRICS``).
    backend : {"pandas", "polars"}, optional
        Defaults to the backend of ``tidy`` (polars, lazily, for a LazyFrame).
    keep : {"raise", "latest"}
        What to do when the frame holds one number more than once (a lifetime total, day or hour of one tweet
        from two files or snapshots, e.g. a hand-made ``pd.concat``): ``"raise"`` (default) refuses, naming the
        tweets; ``"latest"`` keeps the latest observation (by ``retrieved_at``, then row order). Such numbers
        are cumulative and are never added. Contiguous history windows are not repeats and are summed.
    population : str
        Which population every row counts: ``"public"`` (v2 ``public_metrics``: the counts anyone sees, over
        organic and promoted contexts), ``"non_public"`` (v2 ``non_public_metrics``: owner-only counts such as
        clicks and video playback over all contexts), ``"organic"`` (v2 ``organic_metrics``: the non-promoted
        context only), ``"promoted"`` (v2 ``promoted_metrics``: the paid context only), ``"analytics"`` (X API v2
        post and media analytics answers), ``"engagement"`` (Engagement API totals: the owner's full counts),
        ``"export"`` and ``"export_promoted"`` (an analytics.twitter.com / X Premium export's columns and its
        "promoted ..." columns); a source registered with :func:`engagement_lab.sources.register` is a
        population of its own name. A v2 post's media counts belong to the post's population. Tweets with no
        counts of the chosen population are left out, with a warning. ``"auto"`` (default): each tweet's row takes
        all its metrics from the first population it has, in the registry's order (engagement, analytics,
        organic, non_public, public, export, promoted, export_promoted: organic before public because the
        Engagement API's impressions are organic), and warns when tweets end up counting different populations.
        A frame without a ``source`` column (the Engagement API's loaders) is one population and gets no
        ``population`` column unless one is asked for. A ``source`` tag that no registered source has is
        refused, never ranked by guess.
    metrics : list of str, optional
        Only these metrics (``engagement_type`` values) are read, checked and pivoted; by default every metric
        the frame holds. On a large lazy input a comparison of one rate needs only its two counts, e.g.
        ``per_tweet(scan(path), metrics=["engagements", "impressions"], rates=["engagement_rate"])``. Tweets
        holding none of them are left out (a comparison of those metrics would leave them out too). A name the
        frame does not hold is refused with the closest it holds, as is a rate whose counts are not named.

    A value that is not a whole number (a float or decimal ``value`` column holding 23.5) is refused, naming its
    rows: the table holds counts as integers, and would cut it to 23. A ``created_at`` column in ``tidy`` (exports,
    v2 payloads) is kept as a column of the result. With ``metadata``, tweets that find no metadata row are named
    in a ``UserWarning``, and ids within float rounding (2**11) of a metadata id are shown as pairs, "probably
    float-mangled" (an id that went through a float).
    """
    check_choice("keep", keep, ("raise", "latest"), DataError)
    wanted = wanted_metrics(metrics, rates)
    if not isinstance(tidy, (pd.DataFrame, pl.DataFrame, pl.LazyFrame)):
        other = nw.from_native(tidy, pass_through=True)
        if isinstance(other, nw.LazyFrame):  # DuckDB, Ibis, Dask, PySpark...: evaluated there, lazily
            if backend is not None:
                raise DataError(f"a lazy {other.implementation} frame gives the same kind back; drop backend=")
            return per_tweet_lazy(
                tidy, metadata=metadata, rates=rates, keep=keep, population=population, metrics=metrics
            )
    lazy_in = isinstance(tidy, pl.LazyFrame)
    if lazy_in and backend not in (None, "polars"):
        raise DataError(f"a LazyFrame gives a polars LazyFrame; collect it first for backend={backend!r}")
    out_backend = check_backend(backend or ("polars" if isinstance(tidy, (pl.DataFrame, pl.LazyFrame)) else "pandas"))
    frame = tidy.lazy() if isinstance(tidy, (pl.LazyFrame, pl.DataFrame)) else to_polars(tidy, "tidy").lazy()
    schema = frame.collect_schema()
    columns = schema.names()
    check_required(columns)
    frame = frame.with_columns(id_dtype(schema[C.TWEET_ID], "tidy frame"))
    height = None if lazy_in else (tidy.height if isinstance(tidy, pl.DataFrame) else len(tidy))
    frame, label, height = one_population(frame, columns, population, height)
    every_metric = frame
    if wanted is not None:  # after the population is chosen: which one a tweet counts does not hang on the metrics
        frame, height = frame.filter(pl.col(C.ENGAGEMENT_TYPE).is_in(wanted)), None
    refuse_fractional(frame, schema[C.VALUE])
    keys = [C.TWEET_ID, C.ENGAGEMENT_TYPE]
    # an eager input is summed while it is surveyed (the sums are small); a lazy one is read once, the checks
    # folded into the sums per tweet and metric
    grouped: pl.DataFrame | None = None
    if lazy_in:
        survey, grouped = _one_pass(frame, columns)
        summed = grouped.select(*keys, C.VALUE)
    else:
        sums = frame.filter(pl.all_horizontal(pl.col(keys).is_not_null())).group_by(keys).agg(pl.sum(C.VALUE))
        survey, summed = _survey(frame, columns, sums, height)
    if survey["rows"] and survey["id_nulls"] == survey["rows"]:
        _refuse_account_level(frame.select(C.TWEET_ID, C.GRAIN).collect())
    fast = survey["uniform"] and survey["clean_ids"] and not survey["repeats"]
    if fast:
        # the usual load: nothing to rank, no bucket seen twice (equal hashes would send it the exact way)
        chosen = summed.lazy()
        metrics = metric_order(survey["metrics"])
    else:
        eager = check_ids(frame.collect(), "tidy frame")  # account-level data was refused above
        found = _choose_rows(eager, keep)
        metrics = metric_order(found[C.ENGAGEMENT_TYPE].unique().to_list())
        chosen = found.lazy()
    held = every_metric.select(pl.col(C.ENGAGEMENT_TYPE).drop_nulls().unique())
    check_found(wanted, metrics, lambda: held.collect().to_series().to_list())
    wide = chosen.pivot(on=C.ENGAGEMENT_TYPE, on_columns=metrics, index=C.TWEET_ID, values=C.VALUE)
    wide = wide.select(C.TWEET_ID, *[pl.col(m).cast(pl.Int64) for m in metrics])
    if label is not None:  # which population each row counts, beside the id
        wide = wide.join(label, on=C.TWEET_ID, how="left") if isinstance(label, pl.LazyFrame) else (
            wide.with_columns(pl.lit(label, pl.String).alias(POPULATION)))  # fmt: skip
        wide = wide.select(C.TWEET_ID, POPULATION, *metrics)
    # a lazy input's fast path has everything from its one pass; the exact way reads the frame again
    one_pass = grouped if fast else None
    if C.CREATED_AT in columns:
        if one_pass is not None:  # a tweet's created_at is one time (the earliest, were it several)
            created = one_pass.lazy().group_by(C.TWEET_ID).agg(pl.col(C.CREATED_AT).min())
        else:
            created = frame.group_by(C.TWEET_ID).agg(pl.col(C.CREATED_AT).drop_nulls().first())
        wide = wide.join(created, on=C.TWEET_ID, how="left")
    wide = with_rates(wide, rates, [C.TWEET_ID, *metrics])
    if metadata is not None:
        meta = read_metadata(metadata)
        if one_pass is not None:
            check_rounded_join(lambda: set(one_pass[C.TWEET_ID].to_list()), meta)
        else:
            check_rounded_join(lambda: tweet_ids(frame), meta)
        if C.CREATED_AT in columns and C.CREATED_AT in meta.columns:
            meta = meta.rename({C.CREATED_AT: f"{C.CREATED_AT}_metadata"})
        wide = wide.join(meta.lazy(), on=C.TWEET_ID, how="left")
    wide = wide.sort(C.TWEET_ID)
    if lazy_in:
        return wide
    result = to_frame(wide.collect().to_arrow(), out_backend)
    if isinstance(result, pd.DataFrame):
        result = result.astype(dict.fromkeys(metrics, "Int64"))
    return result
