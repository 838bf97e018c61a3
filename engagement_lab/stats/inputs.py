"""Input checks before any arithmetic: counts that cannot be right are refused with the rows named.

One pass of aggregates (collected once, so a lazy frame stays lazy until then) counts every kind of bad
value; only when something is wrong are a few offending rows fetched to show. NaN is made null on float
columns so pandas and polars frames give the same answer, and tweets with a null group label are dropped
(counted in a note), never made into a group called "None".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa

from ..errors import StatsInputError
from ..metrics import Metric, Ratio

__all__ = ["checked_frame", "collect"]

_SHOWN = 5
_READ_ONCE = frozenset({nw.Implementation.POLARS, nw.Implementation.DUCKDB})
"""Lazy engines whose input a comparison reads once into memory; Dask and Spark keep the work in their engines
(their data may not fit one machine)."""


def collect(frame: Any) -> Any:
    """A narwhals frame (or a polars LazyFrame, as the polars-native queries build), collected if lazy. polars runs
    the query on its streaming engine, so a plan over a large scan (e.g. per_tweet of a Parquet dataset) is read in
    batches instead of whole into memory."""
    if isinstance(frame, pl.LazyFrame):
        return frame.collect(engine="streaming")
    if not isinstance(frame, nw.LazyFrame):
        return frame
    if frame.implementation.is_polars():
        return frame.collect(engine="streaming")
    return frame.collect()


def _to_polars(series: pd.Series) -> pl.Series:
    """A pandas column as polars. Arrow-backed strings (pandas 3's ``str``) are cast to Arrow's string view,
    polars' own layout, which it then takes without a copy. NumPy numbers are read in place, not copied (2.6 ms a
    million floats through ``pl.from_pandas``): their NaN stay NaN, which the checks make null where they occur, and
    the frame lives only as long as the comparison reading it."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iuf" and dtype.isnative:
        return pl.Series(str(series.name), series.to_numpy())
    if getattr(dtype, "storage", None) == "pyarrow" or isinstance(dtype, pd.ArrowDtype):
        values = pa.chunked_array(pa.array(series))
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            return pl.Series(str(series.name), pl.from_arrow(values.cast(pa.string_view())))
    return pl.from_pandas(series)


def _on_polars(data: Any, needed: Sequence[str]) -> Any:
    """An eager frame narrowed to ``needed`` and made a polars lazy plan, so the checks and every group's sums
    run as a few fused, multi-threaded queries instead of one pandas pass per step. Lazy frames stay on their
    own engine; a pandas column polars cannot hold (an object column mixing types) keeps the frame on pandas."""
    if not isinstance(data, nw.DataFrame):
        return data
    if data.implementation.is_polars():
        return data.select(*needed).lazy()
    if not data.implementation.is_pandas():
        return data.select(*needed)
    native = data.to_native()
    try:
        # column by column from the user's frame (a pandas selection would copy every column first), so numeric
        # columns are not copied and Arrow strings become string views
        converted = pl.DataFrame([_to_polars(native[c]).alias(c) for c in needed])
    except (TypeError, ValueError, ArithmeticError, pl.exceptions.PolarsError, pa.ArrowException):
        return data.select(*needed)
    return nw.from_native(converted).lazy()


def _numeric(frame: Any, columns: Sequence[str]) -> list[str]:
    """Refuse non-numeric metric columns; return the float ones (whose NaN become null)."""
    schema = frame.collect_schema()
    floats = []
    for column in columns:
        dtype = schema[column]
        if dtype == nw.Boolean:
            continue
        if not dtype.is_numeric():
            raise StatsInputError(
                f"column {column!r} holds {dtype}, not numbers; convert it first, e.g. "
                f"df[{column!r}] = pd.to_numeric(df[{column!r}]) or pl.col({column!r}).cast(pl.Int64)"
            )
        if dtype.is_float():
            floats.append(column)
    return floats


def _problems(metrics: Sequence[Metric], schema: Any, ns: Any = nw) -> list[tuple[str, Any]]:
    """(description, expression true on a bad row) for every rule the metrics' columns must obey (rules that
    a column's type already guarantees, such as whole numbers in an integer column, are not evaluated). The
    expressions are narwhals' (``ns=nw``) or polars' own (``ns=pl``: the same API, see :func:`_flags`)."""
    rules: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for metric in metrics:
        if not isinstance(metric, Ratio):
            continue
        num, den = ns.col(metric.numerator), ns.col(metric.denominator)
        present = ~num.is_null() & ~den.is_null()  # pandas compares NaN as unequal: test present values only
        for name in metric.columns:
            if name not in seen and not schema[name].is_unsigned_integer():
                rules.append((f"negative {name!r}", present & (ns.col(name) < 0)))
                seen.add(name)
        if metric.is_bounded:
            for name in metric.columns:
                if schema[name].is_integer():
                    continue
                whole = ns.col(name) == ns.col(name).floor()
                rules.append((f"fractional {name!r} (counts are whole numbers)", present & ~whole))
            rules.append((f"{metric.numerator!r} larger than {metric.denominator!r}", present & (num > den)))
    return rules


def _examples(frame: Any, bad: Any, columns: list[str]) -> list[dict[str, Any]]:
    shown = [c for c in ("tweet_id", *columns) if c in frame.columns]
    rows: list[dict[str, Any]] = collect(frame.filter(bad).select(*dict.fromkeys(shown)).head(_SHOWN)).rows(named=True)
    return rows


def _counts(data: Any, checks: Sequence[Any], ns: Any = nw) -> list[int]:
    """How many rows each check is true on, in one query (booleans counted as integers: Spark refuses to sum a
    boolean). ``data`` is a narwhals frame, or a polars one with polars checks (``ns=pl``)."""
    exact = data.select(
        *[check.fill_null(False).cast(ns.Int64).sum().alias(f"_n{i}") for i, check in enumerate(checks)]
    )
    return [int(n or 0) for n in _collected(exact).row(0)]


def _collected(query: Any) -> Any:
    """:func:`collect` for the checks' own queries, kept apart from it so that each call of ``collect`` here is
    one read of the user's (possibly lazy) input, as the read-once tests count them."""
    return query.collect(engine="streaming") if isinstance(query, pl.LazyFrame) else collect(query)


def _label_null(ns: Any, by: str, is_float: bool) -> Any:
    """True on a row with no group label (null, or NaN in a float column)."""
    missing = ns.col(by).is_null()
    return missing | ns.col(by).is_nan() if is_float else missing


def _flags(data: Any, metrics: Sequence[Metric], by: str, floats: Sequence[str]) -> tuple[list[int], list[bool]]:
    """For a frame in memory: rows with a null label, rows breaking each rule, and whether each of ``floats``
    holds NaN.

    Asked first as ``any()`` in one query (a fifth of the cost of counting on 1M rows); only the kinds that
    occur are then counted exactly, which happens when something is wrong or some labels are missing. On polars
    (where every frame in memory is checked) the query is built by polars itself: narwhals' parsing of it costs
    more than polars running it over a million tweets."""
    schema = data.collect_schema()
    ns, frame = (pl, data.to_native()) if data.implementation.is_polars() else (nw, data)

    def any_of(expr: Any, name: str) -> Any:
        return expr.fill_null(False).any().alias(name)

    checks = [_label_null(ns, by, schema[by].is_float()), *[expr for _, expr in _problems(metrics, schema, ns)]]
    row = _collected(
        frame.select(
            *[any_of(expr, f"_check{i}") for i, expr in enumerate(checks)],
            *[any_of(ns.col(c).is_nan(), f"_nan{i}") for i, c in enumerate(floats)],
        )
    ).row(0)
    found = [i for i in range(len(checks)) if row[i]]
    counts = [0] * len(checks)
    for i, n in zip(found, _counts(frame, [checks[i] for i in found], ns) if found else [], strict=True):
        counts[i] = n
    return counts, [bool(flag) for flag in row[len(checks) :]]


def _one_population(data: Any) -> None:
    """Refuse rows that count different populations (``per_tweet``'s ``population`` column: v2 organic likes
    beside public likes, an export beside the Engagement API): their numbers measure different things."""
    if "population" not in data.columns:
        return
    counts = collect(data.group_by("population").agg(nw.len().alias("n"))).rows()
    if len(counts) > 1:
        shown = ", ".join(f"{name}: {n}" for name, n in sorted(counts, key=lambda r: -r[1]))
        raise StatsInputError(
            f"the tweets count different populations ({shown} tweets), whose numbers measure different things "
            "(e.g. v2 organic likes and public likes); compare one: per_tweet(tidy, population=...) with one of "
            f"{[name for name, _ in counts]}, or filter the frame to one population"
        )


def checked_frame(
    frame: Any, metrics: Sequence[Metric], by: str, extra: Sequence[str] = (), labels: Sequence[str] = ()
) -> tuple[Any, list[str]]:
    """The frame (as narwhals) with NaN made null and null labels dropped, plus notes for the user.

    ``extra`` are further numeric columns (a CUPED covariate); ``labels`` are columns of any type (adjustment
    covariates) whose float NaN also become null.

    Raises
    ------
    StatsInputError
        For non-numeric metric columns, negative counts, and for bounded ratios (per impression)
        fractional counts or a numerator larger than its denominator; the message names the rows and the fix.
    """
    columns = list(dict.fromkeys([c for m in metrics for c in m.columns] + list(extra)))
    data = nw.from_native(frame)
    shown = ["tweet_id"] if "tweet_id" in data.columns else []
    needed = list(dict.fromkeys([*shown, by, *columns, *labels]))
    if isinstance(data, nw.LazyFrame) and data.implementation in _READ_ONCE:
        # Each question to a lazy plan runs all of it again (per_tweet of a Parquet scan: every file read and
        # pivoted), and a comparison asks several (checks, sums, leverages). So the columns it needs, one row
        # per tweet (about 40 MB a million tweets), are read once into polars and every question asked there.
        population = ["population"] if "population" in data.columns else []
        data = nw.from_native(collect(data.select(*dict.fromkeys([*needed, *population]))).to_polars())
    _one_population(data)
    in_memory = isinstance(data, nw.DataFrame)
    data = _on_polars(data, needed)
    floats = _numeric(data, columns)
    schema = data.collect_schema()
    floats += [c for c in labels if c not in floats and schema[c].is_float()]
    label_null = _label_null(nw, by, schema[by].is_float())
    if not in_memory:
        # a lazy input (a scan, a DuckDB or Spark plan) is read once: NaN made null in every float column and all
        # counts in one query, since each further question would run the whole plan again
        data = data.with_columns(*[nw.col(c).fill_nan(None) for c in floats]) if floats else data
        counts = _counts(data, [label_null, *[expr for _, expr in _problems(metrics, data.collect_schema())]])
    else:
        counts, nans = _flags(data, metrics, by, floats)
        if any(nans):
            # NaN is made null (as pandas has it) only in the columns that hold one, and the rules counted again:
            # a rewrite of every float column would cost every comparison a pass most frames never need
            data = data.with_columns(*[nw.col(c).fill_nan(None) for c, n in zip(floats, nans, strict=True) if n])
            counts, _ = _flags(data, metrics, by, [])
    rules = _problems(metrics, data.collect_schema())
    for i, (what, expr) in enumerate(rules):
        if counts[i + 1]:
            rows = _examples(data, expr.fill_null(False), [by, *columns])
            fix = (
                "fix or drop those rows"
                if what.startswith("negative")
                else "fix the counts, or pass a Ratio(..., bounded=False) if this metric may exceed 1 per unit"
            )
            raise StatsInputError(f"{counts[i + 1]} row(s) have {what}, e.g. {rows}; {fix}")
    notes = []
    if counts[0]:
        data = data.filter(~label_null)
        notes.append(f"{counts[0]} tweet(s) with no {by!r} value were left out")
    return data, notes
