"""Classical tests, each pinned to published reference values: two-proportion z (the naive impression-level
view), k-sample proportion chi-square, Fisher and Barnard exact tests, Welch t on raw values, Mann–Whitney,
Kruskal–Wallis and Welch's ANOVA. Thin, typed wrappers over scipy where it is correct, own code where not."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np
from scipy import stats as sps

from ..errors import StatsInputError
from ..metrics import HtmlDisplay
from .effects import Alternative, check_alternative

__all__ = [
    "TestResult",
    "barnard_exact",
    "fisher_exact",
    "hedges_g",
    "kruskal",
    "mann_whitney",
    "proportions_chisquare",
    "proportions_ztest",
    "welch_anova",
    "welch_ttest",
]


@dataclass(frozen=True)
class TestResult(HtmlDisplay):
    """A test's statistic and p-value, with its degrees of freedom, effect estimate and interval where defined."""

    __test__ = False  # a result, not a pytest test class

    method: str
    statistic: float
    p_value: float
    df: float = math.nan
    estimate: float = math.nan
    ci: tuple[float, float] = (math.nan, math.nan)

    def __str__(self) -> str:
        """One readable line, e.g. ``Welch's t-test: statistic 2.31, df 37.2, p = 0.026``."""
        return f"{self.method}: {', '.join(self._parts())}"

    def _repr_html_(self) -> str:
        """One readable line in a notebook: the test, its statistic and p-value, and only the parts it has."""
        return f"<div><strong>{escape(self.method)}</strong>: {escape(', '.join(self._parts()))}</div>"

    def _parts(self) -> list[str]:
        """The statistic and p-value, and the degrees of freedom, estimate and interval where the test has them."""
        parts = [f"statistic {self.statistic:.4g}"]
        if math.isfinite(self.df):
            parts.append(f"df {self.df:.4g}")
        parts.append("p < 0.001" if self.p_value < 0.001 else f"p = {self.p_value:.3f}")
        if math.isfinite(self.estimate):
            parts.append(f"estimate {self.estimate:.4g}")
        if all(math.isfinite(x) for x in self.ci):
            parts.append(f"interval [{self.ci[0]:.4g}, {self.ci[1]:.4g}]")
        return parts


def _alt(alternative: Alternative) -> str:
    """scipy's name for the alternative (the package uses scipy's names; statsmodels' are accepted)."""
    return check_alternative(alternative)


def _z_p(z: float, alternative: Alternative) -> float:
    alternative = check_alternative(alternative)
    if alternative == "greater":
        return float(sps.norm.sf(z))
    if alternative == "less":
        return float(sps.norm.cdf(z))
    return float(2 * sps.norm.sf(abs(z)))


def proportions_ztest(
    count: Sequence[float] | float,
    nobs: Sequence[float] | float,
    *,
    value: float | None = None,
    pooled: bool = True,
    alternative: Alternative = "two-sided",
) -> TestResult:
    """Two-proportion z-test (first minus second) or a one-sample test against ``value``.

    Applied to impressions this is the *naive* view: it treats every impression as independent, which tweet
    clustering violates. The one-sample variance uses the sample proportion, as statsmodels does.
    """
    counts, sizes = np.atleast_1d(np.asarray(count, float)), np.atleast_1d(np.asarray(nobs, float))
    if counts.shape != sizes.shape or counts.size not in (1, 2) or (sizes <= 0).any():
        raise StatsInputError("give one or two counts with positive sizes of the same length")
    props = counts / sizes
    if counts.size == 1:
        if value is None:
            raise StatsInputError("a one-sample test needs value=, the null proportion")
        diff, variance = props[0] - value, props[0] * (1 - props[0]) / sizes[0]
    else:
        diff = props[0] - props[1] - (value or 0.0)
        if pooled:
            p = counts.sum() / sizes.sum()
            variance = p * (1 - p) * (1 / sizes[0] + 1 / sizes[1])
        else:
            variance = float((props * (1 - props) / sizes).sum())
    z = diff / math.sqrt(variance) if variance > 0 else math.nan
    label = "one-proportion z" if counts.size == 1 else f"two-proportion z ({'pooled' if pooled else 'unpooled'})"
    return TestResult(label, float(z), _z_p(z, alternative), estimate=float(diff))


def proportions_chisquare(count: Sequence[float], nobs: Sequence[float], *, correction: bool = False) -> TestResult:
    """Pearson chi-square test that k proportions are equal (R ``prop.test``; Yates only for 2 groups if asked)."""
    counts, sizes = np.asarray(count, float), np.asarray(nobs, float)
    table = np.column_stack([counts, sizes - counts])
    statistic, p, df, _ = sps.chi2_contingency(table, correction=correction and len(counts) == 2)
    return TestResult("k-sample proportion chi-square", float(statistic), float(p), float(df))


def fisher_exact(
    table: Sequence[Sequence[int]], *, alternative: Alternative = "two-sided", alpha: float = 0.05
) -> TestResult:
    """Fisher's exact test on a 2x2 table of tweet counts; the estimate is R's conditional-MLE odds ratio."""
    array = np.asarray(table, dtype=np.int64)
    if array.shape != (2, 2) or (array < 0).any():
        raise StatsInputError(f"Fisher's test needs a 2x2 table of non-negative counts, got {array.tolist()}")
    p = sps.fisher_exact(array, alternative=_alt(alternative)).pvalue
    odds = sps.contingency.odds_ratio(array, kind="conditional")
    ci = odds.confidence_interval(confidence_level=1 - alpha, alternative=_alt(alternative))
    return TestResult(
        "Fisher exact",
        float(odds.statistic),
        float(p),
        estimate=float(odds.statistic),
        ci=(float(ci.low), float(ci.high)),
    )


def barnard_exact(
    table: Sequence[Sequence[int]], *, alternative: Alternative = "two-sided", pooled: bool = True
) -> TestResult:
    """Barnard's unconditional exact test on a 2x2 table (more powerful than Fisher for small samples)."""
    result = sps.barnard_exact(np.asarray(table, dtype=np.int64), alternative=_alt(alternative), pooled=pooled)
    return TestResult("Barnard exact", float(result.statistic), float(result.pvalue))


def welch_ttest(
    x: Sequence[float], y: Sequence[float], *, alternative: Alternative = "two-sided", alpha: float = 0.05
) -> TestResult:
    """Welch's t-test of mean(x) − mean(y) on raw per-tweet values, with its interval (R ``t.test`` default)."""
    result = sps.ttest_ind(np.asarray(x, float), np.asarray(y, float), equal_var=False, alternative=_alt(alternative))
    ci = result.confidence_interval(confidence_level=1 - alpha)
    estimate = float(np.mean(x) - np.mean(y))
    return TestResult(
        "Welch t",
        float(result.statistic),
        float(result.pvalue),
        float(result.df),
        estimate,
        (float(ci.low), float(ci.high)),
    )


def mann_whitney(
    x: Sequence[float], y: Sequence[float], *, alternative: Alternative = "two-sided", method: str = "auto"
) -> TestResult:
    """Mann–Whitney U (x vs y); the estimate is the common-language effect P(X > Y) + ½P(X = Y)."""
    xs, ys = np.asarray(x, float), np.asarray(y, float)
    result = sps.mannwhitneyu(xs, ys, alternative=_alt(alternative), method=method)
    cles = float(result.statistic) / (len(xs) * len(ys))
    return TestResult("Mann-Whitney U", float(result.statistic), float(result.pvalue), estimate=cles)


def kruskal(*groups: Sequence[float]) -> TestResult:
    """Kruskal–Wallis H across k groups of per-tweet values."""
    result = sps.kruskal(*[np.asarray(g, float) for g in groups])
    return TestResult("Kruskal-Wallis", float(result.statistic), float(result.pvalue), float(len(groups) - 1))


def welch_anova(*groups: Sequence[float]) -> TestResult:
    """Welch's heteroscedastic one-way ANOVA (Welch 1951), for k groups with unequal variances."""
    arrays = [np.asarray(g, float) for g in groups]
    k = len(arrays)
    n = np.array([len(a) for a in arrays], float)
    if k < 2 or (n < 2).any():
        raise StatsInputError("Welch's ANOVA needs at least 2 groups of at least 2 values")
    means = np.array([a.mean() for a in arrays])
    variances = np.array([a.var(ddof=1) for a in arrays])
    if (variances == 0).any():
        return TestResult("Welch ANOVA", math.nan, math.nan)
    w = n / variances
    grand = (w * means).sum() / w.sum()
    tmp = ((1 - w / w.sum()) ** 2 / (n - 1)).sum()
    numerator = (w * (means - grand) ** 2).sum() / (k - 1)
    f = numerator / (1 + 2 * (k - 2) / (k * k - 1) * tmp)
    df2 = (k * k - 1) / (3 * tmp)
    return TestResult("Welch ANOVA", float(f), float(sps.f.sf(f, k - 1, df2)), float(df2))


def hedges_g(x: Sequence[float], y: Sequence[float]) -> float:
    """Standardised mean difference (x − y) with Hedges' small-sample correction (pooled SD)."""
    xs, ys = np.asarray(x, float), np.asarray(y, float)
    nx, ny = len(xs), len(ys)
    if nx < 2 or ny < 2:
        return math.nan
    pooled = math.sqrt(((nx - 1) * xs.var(ddof=1) + (ny - 1) * ys.var(ddof=1)) / (nx + ny - 2))
    if pooled == 0:
        return math.nan
    correction = 1 - 3 / (4 * (nx + ny) - 9)
    return float((xs.mean() - ys.mean()) / pooled * correction)
