"""Tweet-level sufficient statistics per group: n, ΣM, ΣM², ΣD, ΣD², ΣMD (summable across chunks), and the
sums that need the group's totals first: the centred residuals, their leverage-corrected (HC3) sum of squares
and the impression shares that set the degrees of freedom.

Computed with narwhals, so pandas, polars and lazy frames all work (the second kind of sum in the same query, over
window totals). ``M`` is the metric's numerator per tweet (engagements...), ``D`` its denominator (impressions),
or 1 for a per-tweet mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import narwhals as nw
import numpy as np
import polars as pl

from ..errors import StatsInputError, did_you_mean
from ..metrics import Metric, Ratio
from .inputs import collect

__all__ = ["GroupStats", "group_stats", "tweet_arrays"]


def _second_pass(m: np.ndarray, d: np.ndarray) -> tuple[float, float, float, float, float]:
    """The sums that need the group's totals (see :class:`GroupStats`), from per-tweet arrays."""
    total = d.sum()
    if len(m) < 2 or not total:
        return (*(math.nan,) * 4, float(d.max()) if len(d) else math.nan)
    e = m - (m.sum() / total) * d
    u = d / total
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = 1 - u
        return (
            float(e @ e),
            float(((e / keep) ** 2).sum()),
            float((u * u / keep).sum()),
            float((u * u * (1 - 2 * u) / (keep * keep)).sum()),
            float(d.max()),
        )


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
    ss_res: float = math.nan
    """Σ(M − R·D)², from each tweet's residual: exact where the sums above cancel (every rate equal)."""
    ss_hc3: float = math.nan
    """Σ((M − R·D)/(1 − u))², u = D/ΣD each tweet's share of the group's denominator (its leverage)."""
    lev_a: float = math.nan
    """Σu²/(1 − u): with ``lev_b``, how concentrated the shares are (the degrees of freedom)."""
    lev_b: float = math.nan
    """Σu²(1 − 2u)/(1 − u)²."""
    max_d: float = math.nan
    """The largest tweet's denominator."""

    def __add__(self, other: GroupStats) -> GroupStats:
        """The two groups' tweets pooled (the sums that need the totals first are not additive: NaN)."""
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
        sums = (float(m.sum()), float(m @ m), float(d.sum()), float(d @ d), float(m @ d))
        return cls(len(m), *sums, binary, *_second_pass(m, d))

    @property
    def leveraged(self) -> bool:
        """Whether the sums of the second pass are known (they are not for pooled groups)."""
        return not math.isnan(self.ss_hc3)

    @property
    def variance_hc3(self) -> float:
        """Variance of the ratio with each tweet's residual scaled up by its leverage, 1/(1 − u) (HC3, close to the
        jackknife): a few tweets that carry much of the denominator pull the ratio towards themselves, so their
        own residuals understate the spread, and the plain (HC0) delta-method variance is too small."""
        if self.n < 2 or not self.sum_d or not self.leveraged:
            return math.nan
        return self.ss_hc3 / (self.sum_d * self.sum_d)

    @property
    def df_leverage(self) -> float:
        """Degrees of freedom of the group's variance: n − 1 when every tweet has the same denominator, fewer as
        the denominator concentrates on few tweets (Bell–McCaffrey's, for the leverage-corrected variance under a
        Poisson working model: 1 / ((Σu²/(1−u))² + Σu²(1−2u)/(1−u)²))."""
        if self.n < 2 or not self.leveraged:
            return math.nan
        bound = self.lev_a * self.lev_a + self.lev_b
        return 1 / bound if bound > 0 else math.nan

    @property
    def kish_n(self) -> float:
        """Kish's effective number of tweets by their denominators: (ΣD)²/ΣD² (n when all are equal)."""
        return self.sum_d * self.sum_d / self.sum_dd if self.sum_dd > 0 else math.nan

    @property
    def largest_share(self) -> float:
        """The largest tweet's share of the group's denominator."""
        return self.max_d / self.sum_d if self.sum_d else math.nan

    @property
    def residual_variance(self) -> float:
        """Per-tweet variance of M − R·D from the centred residuals (n − 1), NaN when the pass was not made."""
        return self.ss_res / (self.n - 1) if self.n >= 2 and self.leveraged else math.nan

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


SERIES_SHARE = 1e-3
"""When no tweet holds more than this share of its group's denominator, the leverage sums are read off the first
pass's power sums to first order in the shares u, sparing a second pass over large data; otherwise the second pass
computes them exactly. As 1/(1 − u)² = 1 + 2u + (3u² − 2u³)/(1 − u)², below this share the leverage-corrected
variance is short by at most 3e-6 of itself, its standard error by 1.5e-6, and the degrees of freedom are off by at
most 2.1e-6. The second-order terms would take three more sums over every tweet for less than a millionth."""


def group_stats(frame: Any, metric: Metric, by: str | None = None) -> dict[str, GroupStats]:
    """Sufficient statistics of ``metric`` per value of ``by`` (one group ``"all"`` when ``by`` is None), with the
    leverage sums (see :class:`GroupStats`).

    Tweets whose metric columns are null (or NaN) are left out (they have no value to compare). A mean is a
    proportion of tweets, with the binomial variance, only when declared so (a boolean column, or
    ``Mean(column, proportion=True)``): counts that happen to be 0 or 1 in a small sample are counts.
    """
    _check(frame, metric, by)
    data = nw.from_native(frame)
    ns: Any = nw
    if data.implementation.is_polars():
        # On polars (where checked_frame puts every frame in memory) the expressions are built by polars itself:
        # narwhals' parsing of these ten aggregations costs about as much as polars running them over a
        # million tweets. One formula serves both, written against the expression API the two share.
        ns, data = pl, data.to_native().lazy()  # lazy: one fused query rather than a frame per step
    m = ns.col(metric.numerator if isinstance(metric, Ratio) else metric.column).cast(ns.Float64)
    d = ns.col(metric.denominator).cast(ns.Float64) if isinstance(metric, Ratio) else ns.lit(1.0)
    declared = _declared_proportion(data, metric, ns)
    data = data.with_columns(_m=m, _d=d)

    def missing(column: str) -> Any:  # null, or NaN (pandas' null)
        return ns.col(column).is_null() | ns.col(column).is_nan()

    data = data.filter(~missing("_m") & ~missing("_d"))
    keys = [by] if by else []
    rows = _first_pass(data, keys, ns)
    if any(row["n"] >= 2 and row["max_d"] > SERIES_SHARE * row["sum_d"] for row in rows.values()):
        exact = _second_pass_query(data, keys, ns)
        for key, row in rows.items():
            row.update(exact[key])
    else:
        for row in rows.values():
            row.update(_from_power_sums(row))
    out = {}
    for key, row in rows.items():
        name = "all" if not by else str(key)
        if name in out:
            raise _clash(by, name)
        sums = {k: float(row[k]) for k in ("sum_m", "sum_mm", "sum_d", "sum_dd", "sum_md")}
        second = {k: _number(row[k]) if row["n"] >= 2 else math.nan for k in _SECOND}  # none of one tweet
        second["max_d"] = _number(row["max_d"])
        out[name] = GroupStats(n=int(row["n"]), **sums, binary=declared, **second)
    if declared:
        _check_proportion(metric, out)
    return dict(sorted(out.items()))


def _aggregate(
    data: Any, keys: list[str], sums: dict[str, Any], extra: list[Any], ns: Any
) -> dict[Any, dict[str, Any]]:
    """One group-by query of simple sums and ``extra``. On polars each sum is one expression (nothing
    materialised); elsewhere each term is a column first, as pandas' group-by wants simple aggregations."""
    if ns is pl:
        aggregations = [*[term.sum().alias(name) for name, term in sums.items()], *extra]
    else:
        data = data.with_columns(**{f"_{name}": term for name, term in sums.items()})
        aggregations = [*[nw.col(f"_{name}").sum().alias(name) for name in sums], *extra]
    table = collect(data.group_by(keys).agg(*aggregations) if keys else data.select(*aggregations))
    return {(row[keys[0]] if keys else None): row for row in table.rows(named=True)}


def _first_pass(data: Any, keys: list[str], ns: Any) -> dict[Any, dict[str, Any]]:
    m, d = ns.col("_m"), ns.col("_d")
    if ns is pl:
        mm, dd, md = m * m, d * d, m * d  # polars shares the repeated products within one query
    else:
        data = data.with_columns(_sum_mm=m * m, _sum_dd=d * d, _sum_md=m * d)
        mm, dd, md = nw.col("_sum_mm"), nw.col("_sum_dd"), nw.col("_sum_md")  # each product built from the last
    sums = {"sum_m": m, "sum_mm": mm, "sum_d": d, "sum_dd": dd, "sum_md": md, "sum_mmd": mm * d, "sum_mdd": md * d,
            "sum_ddd": dd * d}  # fmt: skip
    return _aggregate(data, keys, sums, [m.count().alias("n"), d.max().alias("max_d")], ns)


def _second_pass_query(data: Any, keys: list[str], ns: Any) -> dict[Any, dict[str, Any]]:
    """The leverage sums, exactly: each tweet's residual and share against its group's totals (joined from a
    group-by of the same frame, which every engine narwhals drives can do, Dask included)."""
    on = keys or ["_all"]
    if not keys:
        data = data.with_columns(_all=ns.lit(0))
    totals = data.group_by(on).agg(ns.col("_m").sum().alias("_tm"), ns.col("_d").sum().alias("_td"))
    data = data.join(totals, on=on)
    data = data.with_columns(_e=ns.col("_m") - ns.col("_tm") / ns.col("_td") * ns.col("_d"),
                             _u=ns.col("_d") / ns.col("_td"))  # fmt: skip
    e, u = ns.col("_e"), ns.col("_u")
    keep = 1 - u
    sums = {"ss_res": e * e, "ss_hc3": (e / keep) ** 2, "lev_a": u * u / keep,
            "lev_b": u * u * (1 - 2 * u) / (keep * keep)}  # fmt: skip
    return _aggregate(data, keys, sums, [], ns)


_SECOND = ("ss_res", "ss_hc3", "lev_a", "lev_b")
"""The sums that need a group's totals first: NaN for a group of fewer than two tweets, on every path."""


def _from_power_sums(row: dict[str, Any]) -> dict[str, float]:
    """The leverage sums of a group whose tweets all hold a small share u of its denominator (see
    :data:`SERIES_SHARE` for the bounds): Σe²/(1−u)² ≈ Σe²(1 + 2u), with Σe²D expanded into the power sums ΣM²D,
    ΣMD², ΣD³; Σu²(1−2u)/(1−u)² ≈ Σu² (its next term is −Σu⁴); and Σu²/(1−u) ≈ Σu², since it enters the degrees
    of freedom squared, beside a sum as large as itself: its next term, Σu³, moves them by at most 2u²."""
    total = row["sum_d"]
    if not total:
        return dict.fromkeys(_SECOND, math.nan)
    r = row["sum_m"] / total

    def residual_squares(mm: str, md: str, dd: str) -> float:  # Σ(M − R·D)²·Dᵏ from ΣM²Dᵏ, ΣMDᵏ⁺¹, ΣDᵏ⁺²
        return max(0.0, float(row[mm] - 2 * r * row[md] + r * r * row[dd]))

    ss_res = residual_squares("sum_mm", "sum_md", "sum_dd")
    once = residual_squares("sum_mmd", "sum_mdd", "sum_ddd") / total
    shares = row["sum_dd"] / total**2
    return {"ss_res": ss_res, "ss_hc3": ss_res + 2 * once, "lev_a": shares, "lev_b": shares}


def _number(value: Any) -> float:
    """A second-pass sum as a float (an engine's null, e.g. a division by a zero share, as NaN)."""
    return math.nan if value is None else float(value)


def _declared_proportion(data: Any, metric: Metric, ns: Any) -> bool:
    """Whether a mean is declared a proportion of tweets: ``Mean(..., proportion=True)``, or a boolean column."""
    if isinstance(metric, Ratio):
        return False
    if metric.proportion is not None:
        return metric.proportion
    return bool(data.collect_schema()[metric.column] == ns.Boolean)


def _check_proportion(metric: Metric, stats: dict[str, GroupStats]) -> None:
    """A declared proportion holds only 0 and 1 (then ΣM² = ΣM)."""
    bad = [g for g, s in stats.items() if not math.isclose(s.sum_mm, s.sum_m, abs_tol=1e-9) or s.sum_m < 0]
    if bad:
        raise StatsInputError(
            f"{metric.label!r} is declared a proportion of tweets but group {bad[0]!r} has values other than 0 and 1; "
            "drop proportion=True to compare it as a count"
        )


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
