"""per_tweet on a lazy frame of another engine (DuckDB, Ibis, Dask, PySpark... through narwhals): the same rules,
evaluated in that engine, and a lazy frame of the same kind back.

Only small answers leave the engine: one row per tweet and metric from one aggregation (its sum, rows, distinct
buckets and ranked columns' ranges, which give the survey, the ids and the metric names) and, when some tweet and
metric has fewer buckets than rows, the count of repeated buckets and the rows of those buckets (to tell
contiguous history windows from real repeats with the same code as the polars path).

On DuckDB, when every row has one source, endpoint, grain and grouping and no bucket repeats (the usual load),
that aggregation's sums are the table: it is pivoted in polars and handed back as a relation of the input's own
connection, so the data is read once. Elsewhere the table is computed in the engine when the result is collected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import narwhals as nw
import polars as pl

from .. import columns as C
from .. import sources
from ..errors import DataError
from .frames import repeat_parts
from .tweets_population import POPULATION, choose_population
from .tweets_rules import (
    BUCKET,
    ENDPOINT_PRIORITY,
    GRAIN_PRIORITY,
    ID_SHAPE,
    RANKED,
    check_found,
    check_required,
    check_rounded_join,
    metric_order,
    overlapping,
    read_metadata,
    refuse_fractional,
    repeats_error,
    uniform_in,
    wanted_metrics,
    with_rates,
)

__all__ = ["per_tweet_lazy"]


def _priority(column: str, order: Sequence[str], columns: Sequence[str]) -> nw.Expr:
    """A column's rank in ``order`` (null counts as "", a value not listed ranks last)."""
    if column not in columns:
        return nw.lit(order.index("") if "" in order else len(order))
    values = nw.col(column).fill_null("")
    ranked: nw.Expr = nw.lit(len(order))
    for rank, value in reversed(list(enumerate(order))):
        ranked = nw.when(values == value).then(nw.lit(rank)).otherwise(ranked)
    return ranked


def _one_pass(frame: nw.LazyFrame[Any], columns: Sequence[str]) -> pl.DataFrame:
    """Per tweet and metric, in one aggregation of the engine (whose answer, one row per tweet and metric, comes
    to polars): the sum of the values, the rows, how many distinct buckets they name, each ranked column's least
    and greatest value and nulls, and the earliest ``created_at``. A bucket is named by a hash of its grain, day,
    hour and timestamp on DuckDB, elsewhere by them written as one text (a null as empty text). Either can only
    make two buckets look alike (a collision, or a value that is itself empty), which sends the frame to the exact
    check, never past it."""
    ranked = [c for c in RANKED if c in columns]
    keys = [C.TWEET_ID, C.ENGAGEMENT_TYPE]
    names = [c for c in BUCKET if c in columns and c not in keys]
    on_duckdb = frame.implementation.is_duckdb()
    if on_duckdb:  # DuckDB's own 64-bit hashes of the columns: no text built per row
        hashed = frame.to_native().project(f"*, {_hash(names)} AS _bucket, {_hash(keys)} AS _key")
        frame = nw.from_native(hashed)
    else:
        text = [nw.col(c).cast(nw.String).fill_null("") for c in names]
        frame = frame.with_columns(_bucket=nw.concat_str(text, separator="|") if len(text) > 1 else text[0])
    # each column first, then plain aggregations (Dask refuses an aggregation of an expression)
    flagged = frame.with_columns(**{f"_null_{c}": nw.col(c).is_null().cast(nw.Int64) for c in ranked})
    aggregations = [
        nw.col(C.VALUE).sum(),
        nw.len().alias("_rows"),
        nw.col("_bucket").n_unique().alias("_buckets"),
        *[nw.col(c).min().alias(f"_min_{c}") for c in ranked],
        *[nw.col(c).max().alias(f"_max_{c}") for c in ranked],
        *[nw.col(f"_null_{c}").sum().alias(f"_nulls_{c}") for c in ranked],
        *([nw.col(C.CREATED_AT).min()] if C.CREATED_AT in columns else []),
    ]
    if on_duckdb:
        # grouped by the one hash of tweet and metric: DuckDB's distinct count then holds two integers per row,
        # not the texts (0.65 GB against 0.92 GB at 102M rows, in the same time). Two tweets and metrics of one
        # hash would be summed together: each group's texts are checked to be one, and grouped by if not
        named = [nw.col(k).min().alias(k) for k in keys] + [nw.col(k).max().alias(f"_max_{k}") for k in keys]
        counted = [nw.col(k).count().alias(f"_count_{k}") for k in keys]
        table: pl.DataFrame = (
            flagged.group_by("_key").agg(*named, *counted, *aggregations).collect(backend="polars").to_native()
        )
        count = [pl.col(f"_count_{k}") for k in keys]
        one = [pl.col(k).eq_missing(pl.col(f"_max_{k}")) & ((n == 0) | (n == pl.col("_rows")))
               for k, n in zip(keys, count, strict=True)]  # fmt: skip
        if table.select(pl.all_horizontal(one).all()).item():
            return table.drop("_key", *[f"_{kind}_{k}" for kind in ("max", "count") for k in keys])
    return _by_texts(flagged, keys, aggregations)


def _by_texts(frame: nw.LazyFrame[Any], keys: list[str], aggregations: list[nw.Expr]) -> pl.DataFrame:
    """The one pass's aggregation grouped by the tweet and metric texts themselves."""
    found: pl.DataFrame = frame.group_by(*keys).agg(*aggregations).collect(backend="polars").to_native()
    return found


def _hash(columns: Sequence[str]) -> str:
    """DuckDB's 64-bit hash of the columns, as SQL."""
    return "hash(" + ", ".join(_quoted(c) for c in columns) + ")"


def _ids(frame: nw.LazyFrame[Any], dtype: Any, what: str) -> nw.LazyFrame[Any]:
    """Tweet ids as stripped text: integers are exact and become text, floats are refused (from the schema)."""
    if dtype.is_float():
        raise DataError(
            f"{what}: {C.TWEET_ID} is {dtype}; ids above 2**53 have already lost digits as floats. Re-read it as "
            "text from the original source"
        )
    if dtype.is_integer():
        return frame.with_columns(nw.col(C.TWEET_ID).cast(nw.String))
    if dtype != nw.String:
        raise DataError(f"{what}: {C.TWEET_ID} must hold strings, got {dtype}")
    return frame.with_columns(nw.col(C.TWEET_ID).str.strip_chars())


def _one_row(frame: nw.LazyFrame[Any]) -> dict[str, Any]:
    row: dict[str, Any] = frame.collect(backend="polars").to_native().row(0, named=True)
    return row


def per_tweet_lazy(
    native: Any,
    *,
    metadata: Any,
    rates: Sequence[str],
    keep: str,
    population: str = "auto",
    metrics: Sequence[str] | None = None,
) -> Any:
    """See :func:`engagement_lab.load.per_tweet`; ``native`` is a lazy frame narwhals supports."""
    wanted = wanted_metrics(metrics, rates)
    frame = nw.from_native(native)
    assert isinstance(frame, nw.LazyFrame)
    kind = frame.implementation
    schema = frame.collect_schema()
    columns = list(schema.names())
    check_required(columns)
    frame = _ids(frame, schema[C.TWEET_ID], "tidy frame")
    frame, label = choose_population(frame, columns, population)
    every_metric = frame
    if wanted is not None:  # after the population is chosen, as on polars
        frame = frame.filter(nw.col(C.ENGAGEMENT_TYPE).is_in(wanted))
    refuse_fractional(frame, schema[C.VALUE])
    grouped = _one_pass(frame, columns)  # the checks, the ids and the metric names: one aggregation, small
    rows = int(grouped["_rows"].sum())
    named = grouped.filter(pl.col(C.TWEET_ID).is_not_null())
    valid = named.filter(pl.col(C.ENGAGEMENT_TYPE).is_not_null())
    if rows and named.height == 0:
        raise DataError(
            "this data has no tweets: every row is account-level (rows without a tweet id). per_tweet needs "
            "per-tweet rows; for account-level days use engagement_lab.timeseries.daily(tidy)."
        )
    ids = named[C.TWEET_ID].unique()
    bad = ids.filter(~ids.str.contains(ID_SHAPE))
    if bad.len():
        raise DataError(
            f"tidy frame: tweet id {bad.min()!r} is not a string of digits ({bad.len()} such ids); read the "
            "ids as text from the original source"
        )
    uniform = all(uniform_in(grouped, c, rows) for c in RANKED if c in columns)
    keys = [C.TWEET_ID, C.ENGAGEMENT_TYPE]
    frame = frame.filter(~nw.col(C.TWEET_ID).is_null() & ~nw.col(C.ENGAGEMENT_TYPE).is_null())
    rank = (
        _priority(C.SOURCE, sources.tag_order(), columns) * 10_000
        + _priority(C.ENDPOINT, ENDPOINT_PRIORITY, columns) * 100
        + _priority(C.GRAIN, GRAIN_PRIORITY, columns)
    )
    ranked = frame
    if not uniform:  # several sources, endpoints, grains or groupings: keep the best per tweet and metric
        ranked = frame.with_columns(_rank=rank).filter(nw.col("_rank") == nw.col("_rank").min().over(*keys))
        grouping = nw.col(C.GROUPING).fill_null("")
        ranked = ranked.filter(grouping == grouping.min().over(*keys)).drop("_rank")
    repeats = bool((valid["_buckets"] < valid["_rows"]).any())  # some bucket may repeat (or two hashes collide)
    if repeats:  # the exact way
        _refuse_repeats(ranked, [c for c in BUCKET if c in columns], keep, kind, repeat_parts(rows))
    # every (tweet, metric) keeps some row after the ranking, so the names are those of the one pass
    metrics = metric_order(valid[C.ENGAGEMENT_TYPE].unique().to_list())
    held = every_metric.select(C.ENGAGEMENT_TYPE).unique().filter(~nw.col(C.ENGAGEMENT_TYPE).is_null())
    check_found(wanted, metrics, lambda: _one_column(held))
    wide = None
    if kind.is_duckdb() and uniform and not repeats:  # the one pass's sums are the table: no second read
        wide = _from_one_pass(native, valid, metrics, label, columns, rates)
    if wide is None:  # computed in the engine when the result is collected
        wide = _in_engine(ranked, frame, metrics, label, columns, rates)
    if metadata is not None:
        meta = read_metadata(metadata)
        check_rounded_join(lambda: set(valid[C.TWEET_ID].to_list()), meta, stacklevel=3)
        if C.CREATED_AT in columns and C.CREATED_AT in meta.columns:
            meta = meta.rename({C.CREATED_AT: f"{C.CREATED_AT}_metadata"})
        if kind.is_duckdb():
            wide = _duckdb_join(wide, meta)
        else:
            try:
                joined = nw.from_native(meta).lazy(backend=kind)
            except (ValueError, TypeError, NotImplementedError) as exc:
                raise DataError(
                    f"metadata cannot be sent to a {kind} frame ({exc}); join it there yourself, or collect the "
                    "tidy frame to polars first"
                ) from None
            wide = wide.join(joined, on=C.TWEET_ID, how="left")
    return wide.sort(C.TWEET_ID).to_native()


def _with_population(wide: nw.LazyFrame[Any], label: Any, metrics: Sequence[str]) -> nw.LazyFrame[Any]:
    """Which population each row counts, beside the id (``label``: one name, or a frame of one per tweet)."""
    if label is None:
        return wide
    wide = (
        wide.join(label, on=C.TWEET_ID, how="left")
        if isinstance(label, nw.LazyFrame)
        else wide.with_columns(nw.lit(label, nw.String).alias(POPULATION))
    )
    return wide.select(C.TWEET_ID, POPULATION, *metrics)


def _in_engine(
    ranked: nw.LazyFrame[Any],
    frame: nw.LazyFrame[Any],
    metrics: Sequence[str],
    label: Any,
    columns: Sequence[str],
    rates: Sequence[str],
) -> nw.LazyFrame[Any]:
    """The table as a plan of the engine: the chosen rows summed per tweet and metric, then one column each."""
    keys = [C.TWEET_ID, C.ENGAGEMENT_TYPE]
    chosen = ranked.group_by(*keys).agg(nw.col(C.VALUE).sum())
    # each metric's column first, then plain aggregations (Dask refuses an aggregation of an expression); the
    # cast last, once a tweet's metric is one value or null
    picked = [nw.when(nw.col(C.ENGAGEMENT_TYPE) == m).then(nw.col(C.VALUE)).alias(m) for m in metrics]
    wide = chosen.with_columns(*picked).group_by(C.TWEET_ID).agg(*[nw.col(m).max() for m in metrics])
    wide = _with_population(wide.with_columns(*[nw.col(m).cast(nw.Int64) for m in metrics]), label, metrics)
    if C.CREATED_AT in columns:
        wide = wide.join(frame.group_by(C.TWEET_ID).agg(nw.col(C.CREATED_AT).min()), on=C.TWEET_ID, how="left")
    rated: nw.LazyFrame[Any] = nw.from_native(with_rates(wide.to_native(), rates, [C.TWEET_ID, *metrics]))
    return rated


def _from_one_pass(
    relation: Any,
    valid: pl.DataFrame,
    metrics: Sequence[str],
    label: Any,
    columns: Sequence[str],
    rates: Sequence[str],
) -> nw.LazyFrame[Any] | None:
    """The table from the one pass's sums (one row per tweet and metric, already in polars), as a relation of
    ``relation``'s own connection; None when that connection cannot read it (replacement scans turned off, or a
    table of the name it is read by), and the table is then computed in the engine."""
    import duckdb

    wide = valid.pivot(on=C.ENGAGEMENT_TYPE, on_columns=metrics, index=C.TWEET_ID, values=C.VALUE)
    wide = wide.select(C.TWEET_ID, *[pl.col(m).cast(pl.Int64) for m in metrics])
    if isinstance(label, nw.LazyFrame):  # one per tweet: small
        label = nw.from_native(label.collect(backend="polars").to_native().lazy())
    table = _with_population(nw.from_native(wide.lazy()), label, metrics)
    if C.CREATED_AT in columns:  # a tweet's created_at is one time (the earliest, were it several)
        created = nw.from_native(valid.lazy().group_by(C.TWEET_ID).agg(pl.col(C.CREATED_AT).min()))
        table = table.join(created, on=C.TWEET_ID, how="left")
    table = with_rates(table.to_native(), rates, [C.TWEET_ID, *metrics]).collect()
    if _shadowed(relation, "_el_table"):
        return None
    _el_table = table.to_arrow()  # read by name in the query below: DuckDB's replacement scan, which keeps it alive
    try:
        on_connection: nw.LazyFrame[Any] = nw.from_native(relation.query("_el_input", "SELECT * FROM _el_table"))
    except duckdb.Error:  # replacement scans turned off
        return None
    return on_connection


def _duckdb_join(wide: nw.LazyFrame[Any], meta: Any) -> nw.LazyFrame[Any]:
    """``wide`` left-joined with the metadata, on ``wide``'s own DuckDB connection.

    narwhals sends a frame to DuckDB through DuckDB's default connection, and a relation of the user's own
    connection (``con.sql(...)``) cannot join one of another ("Cannot combine LEFT and RIGHT relations of
    different connections"). So the relation's connection reads the metadata itself: the SQL below names this
    function's local Arrow table, which DuckDB finds by a replacement scan."""
    import duckdb

    _el_metadata = meta.to_arrow()  # read by name in the query below: DuckDB's replacement scan
    relation = wide.to_native()
    if _shadowed(relation, "_el_metadata"):
        raise DataError(
            "this DuckDB connection has a table or view named _el_metadata, which would be read instead of the "
            "metadata; rename or drop it, or join the metadata yourself"
        )
    taken = {c.lower() for c in wide.columns}  # DuckDB's names ignore case
    extra = "".join(f", m.{_quoted(c)} AS {_quoted(c + '_right' if c.lower() in taken else c)}"  # as narwhals names
                    for c in meta.columns if c != C.TWEET_ID)  # fmt: skip
    key = _quoted(C.TWEET_ID)
    sql = f"SELECT w.*{extra} FROM _el_wide AS w LEFT JOIN _el_metadata AS m ON w.{key} = m.{key}"
    try:
        joined: nw.LazyFrame[Any] = nw.from_native(relation.query("_el_wide", sql))
    except duckdb.Error as exc:
        raise DataError(
            f"DuckDB could not read the metadata ({str(exc).splitlines()[0]}); it reads it by a replacement scan, "
            "which SET python_enable_replacements = false turns off: turn it on, or join the metadata yourself"
        ) from None
    return joined


def _shadowed(relation: Any, name: str) -> bool:
    """Whether ``relation``'s connection has a table or view called ``name``, which a query naming a local
    Python object of that name would read instead, silently."""
    names = "SELECT table_name AS name FROM duckdb_tables() UNION ALL SELECT view_name FROM duckdb_views()"
    found = relation.query("_el_any", f"SELECT count(*) FROM ({names}) WHERE lower(name) = '{name}'")
    return bool(found.fetchall()[0][0])


def _quoted(column: str) -> str:
    """A DuckDB identifier in double quotes, inner quotes doubled."""
    return '"' + column.replace('"', '""') + '"'


def _one_column(frame: nw.LazyFrame[Any]) -> list[Any]:
    values: list[Any] = frame.collect(backend="polars").to_native().to_series().to_list()
    return values


def _refuse_repeats(ranked: nw.LazyFrame[Any], bucket: list[str], keep: str, kind: Any, parts: int) -> None:
    """One number observed twice must not be added: the repeated buckets (usually none) are read out and judged
    by the polars path's rule (contiguous history windows are not repeats)."""
    # a large input is counted in parts (the last three digits of the tweet id pick the part: one bucket is never
    # split across parts), so the engine's aggregate holds one part's buckets at a time
    part = nw.col(C.TWEET_ID).str.slice(-3).cast(nw.Int64) % parts
    for k in range(parts):
        within = ranked.filter(part == k) if parts > 1 else ranked
        sizes = within.group_by(*bucket).agg(nw.len().alias("_n")).filter(nw.col("_n") > 1)
        if _one_row(sizes.select(repeated=nw.len()))["repeated"]:
            break
    else:
        return
    counted = ranked.with_columns(_n=nw.len().over(*bucket))  # null-safe, unlike a join on the bucket columns
    shared = counted.filter(nw.col("_n") > 1).drop("_n").collect(backend="polars").to_native()
    flags = shared.select(overlapping(shared)).to_series()
    if not flags.any():
        return
    if keep == "raise":
        raise repeats_error(shared.filter(flags))
    raise DataError(
        f"keep='latest' is not available on a {kind} frame that observes one number more than once; deduplicate it "
        "first (load_archive and a compacted archive's scan keep the latest), or collect it to polars"
    )
