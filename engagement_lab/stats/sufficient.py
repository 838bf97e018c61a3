"""Tweet-level sufficient statistics per group: n, ΣM, ΣM², ΣD, ΣD², ΣMD (summable across chunks).

Computed with narwhals, so pandas, polars and lazy frames all work. ``M`` is the metric's numerator per tweet
(engagements...), ``D`` its denominator (impressions), or 1 for a per-tweet mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import narwhals as nw
import numpy as np

from ..errors import StatsInputError, did_you_mean
from ..metrics import Metric, Ratio
from .inputs import collect

__all__ = ["GroupStats", "group_stats", "tweet_arrays"]


@dataclass(frozen=True)
class GroupStats:
    """Sufficient statistics of one group of tweets for a ratio ΣM/ΣD (D ≡ 1 for a mean).

    Variances use n − 1 (sample variances). For a 0/1 per-tweet outcome (``binary``, D ≡ 1) the variance is
    the binomial p(1 − p), as gbstats' ProportionStatistic has it. Adding two GroupStats pools their tweets.
    """

    n: int
    sum_m: float
    sum_mm: float
    sum_d: float
    sum_dd: float
    sum_md: float
    binary: bool = False

    def __add__(self, other: GroupStats) -> GroupStats:
        return GroupStats(
            self.n + other.n,
            self.sum_m + other.sum_m,
            self.sum_mm + other.sum_mm,
            self.sum_d + other.sum_d,
            self.sum_dd + other.sum_dd,
            self.sum_md + other.sum_md,
            self.binary and other.binary,
        )

    @classmethod
    def from_arrays(cls, m: np.ndarray, d: np.ndarray | None = None, *, binary: bool = False) -> GroupStats:
        """From per-tweet arrays (``d`` omitted: a per-tweet mean; ``binary``: a 0/1 outcome)."""
        m = np.asarray(m, dtype=float)
        d = np.ones_like(m) if d is None else np.asarray(d, dtype=float)
        return cls(len(m), float(m.sum()), float(m @ m), float(d.sum()), float(d @ d), float(m @ d), binary)

    @property
    def mean_d(self) -> float:
        return self.sum_d / self.n if self.n else math.nan

    @property
    def ratio(self) -> float:
        """ΣM / ΣD: the group's rate (or mean, when D ≡ 1)."""
        return self.sum_m / self.sum_d if self.sum_d else math.nan

    def _cov(self, sxy: float, sx: float, sy: float) -> float:
        if self.n < 2:
            return math.nan
        return (sxy - sx * sy / self.n) / (self.n - 1)

    @property
    def var_m(self) -> float:
        return max(0.0, self._cov(self.sum_mm, self.sum_m, self.sum_m))

    @property
    def var_d(self) -> float:
        return max(0.0, self._cov(self.sum_dd, self.sum_d, self.sum_d))

    @property
    def cov_md(self) -> float:
        return self._cov(self.sum_md, self.sum_m, self.sum_d)

    @property
    def unit_variance(self) -> float:
        """Per-tweet variance of the ratio by the delta method: Var_s(M − R·D) / D̄²."""
        r, mean_d = self.ratio, self.mean_d
        if self.n < 2 or not mean_d:
            return math.nan
        if self.binary:
            return r * (1 - r)
        return max(0.0, (self.var_m - 2 * r * self.cov_md + r * r * self.var_d) / (mean_d * mean_d))

    @property
    def variance(self) -> float:
        """Variance of the group's ratio estimate: unit_variance / n."""
        return self.unit_variance / self.n if self.n else math.nan


def _columns_of(frame: Any) -> list[str]:
    return list(nw.from_native(frame).columns)


def _check(frame: Any, metric: Metric, by: str | None) -> None:
    columns = _columns_of(frame)
    needed = [*metric.columns, *([by] if by else [])]
    for column in needed:
        if column not in columns:
            raise StatsInputError(
                f"column {column!r} is not in the frame{did_you_mean(column, columns)}; columns: {columns[:15]}"
            )


def _clash(by: str | None, name: str) -> StatsInputError:
    """Two different values of ``by`` that print the same (1 and "1" in a pandas object column) would be
    merged, or one silently dropped, once groups are named by text."""
    return StatsInputError(
        f"column {by!r} holds different values that all read {name!r} (e.g. the number 1 and the text '1'); "
        f"make the column one type first, e.g. df[{by!r}] = df[{by!r}].astype(str) to merge them"
    )


def group_stats(frame: Any, metric: Metric, by: str | None = None) -> dict[str, GroupStats]:
    """Sufficient statistics of ``metric`` per value of ``by`` (one group ``"all"`` when ``by`` is None).

    Tweets whose metric columns are null (or NaN) are left out (they have no value to compare). A mean whose
    values are all 0 or 1 in every group is a proportion of tweets and gets the binomial variance.
    """
    _check(frame, metric, by)
    m = nw.col(metric.numerator if isinstance(metric, Ratio) else metric.column).cast(nw.Float64)
    d = nw.col(metric.denominator).cast(nw.Float64) if isinstance(metric, Ratio) else nw.lit(1.0)
    data = nw.from_native(frame)
    if isinstance(data, nw.DataFrame) and data.implementation.is_polars():
        data = data.lazy()  # one fused query rather than a materialised frame per step
    data = data.with_columns(_m=m, _d=d)

    def missing(column: str) -> Any:  # null, or NaN (pandas' null)
        return nw.col(column).is_null() | nw.col(column).is_nan()

    data = data.filter(~missing("_m") & ~missing("_d"))
    data = data.with_columns(
        _mm=nw.col("_m") * nw.col("_m"),
        _dd=nw.col("_d") * nw.col("_d"),
        _md=nw.col("_m") * nw.col("_d"),
    )
    keys = [by] if by else []
    aggregations = [
        nw.col("_m").count().alias("n"),
        nw.col("_m").sum().alias("sum_m"),
        nw.col("_mm").sum().alias("sum_mm"),
        nw.col("_d").sum().alias("sum_d"),
        nw.col("_dd").sum().alias("sum_dd"),
        nw.col("_md").sum().alias("sum_md"),
    ]
    if not isinstance(metric, Ratio):  # a 0/1 mean is a proportion; a ratio's binomial variance is never used
        aggregations.append(((nw.col("_m") == 0) | (nw.col("_m") == 1)).all().alias("binary"))
    table = data.group_by(keys).agg(*aggregations) if keys else data.select(*aggregations)
    table = collect(table)
    rows = table.rows(named=True)
    binary = not isinstance(metric, Ratio) and bool(rows) and all(row["binary"] for row in rows)
    out = {}
    for row in rows:
        name = "all" if not by else str(row[by])
        if name in out:
            raise _clash(by, name)
        sm, smm, sd, sdd, smd = (float(row[k]) for k in ("sum_m", "sum_mm", "sum_d", "sum_dd", "sum_md"))
        out[name] = GroupStats(int(row["n"]), sm, smm, sd, sdd, smd, binary)
    return dict(sorted(out.items()))


def tweet_arrays(frame: Any, metric: Metric, by: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per group, the per-tweet (M, D) arrays (D ≡ 1 for a mean): for bootstrap, rank and exact tests.

    Only the group and metric columns are selected, and nulls dropped, before a lazy frame is collected, so a
    wide or lazy table costs only what these methods use."""
    _check(frame, metric, by)
    numerator = metric.numerator if isinstance(metric, Ratio) else metric.column
    columns = [by, numerator] + ([metric.denominator] if isinstance(metric, Ratio) else [])
    data = nw.from_native(frame).select(*columns)
    floats = [c for c, t in data.collect_schema().items() if t.is_float()]
    data = data.with_columns(*[nw.col(c).fill_nan(None) for c in floats]).drop_nulls() if floats else data.drop_nulls()
    data = collect(data)
    names, which = np.unique(data[by].to_numpy().astype(str), return_inverse=True)
    if len(names) != data[by].n_unique():
        shown = [str(v) for v in data[by].unique().to_list()]
        raise _clash(by, next(v for v in shown if shown.count(v) > 1))
    order = np.argsort(which, kind="stable")
    bounds = np.searchsorted(which[order], np.arange(len(names) + 1))
    m_all = data[numerator].to_numpy().astype(float)[order]
    d_all = data[metric.denominator].to_numpy().astype(float)[order] if isinstance(metric, Ratio) else None
    out = {}
    for k, name in enumerate(names.tolist()):
        lo, hi = bounds[k], bounds[k + 1]
        out[name] = (m_all[lo:hi], d_all[lo:hi] if d_all is not None else np.ones(hi - lo))
    return out
