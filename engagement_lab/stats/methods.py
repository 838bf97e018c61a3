"""Per-method numbers for compare(): the bootstrap, rank and exact tests, the naive z-test, CUPED, and the
exact fallback for 0/1 outcomes. Each replaces the delta-method test's numbers with its own, on the scale it tests."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

import narwhals as nw
import numpy as np
from scipy import stats as sps

from ..errors import StatsInputError
from ..metrics import Mean, Metric
from .classic import barnard_exact, fisher_exact, mann_whitney, proportions_ztest
from .effects import Alternative, Contrast
from .notes import UNTESTABLE, Note
from .options import CompareOptions
from .resampling import bootstrap_test, permutation_test
from .sufficient import GroupStats, tweet_arrays

__all__ = [
    "Tested",
    "binary_counts",
    "by_delta",
    "covariate_adjusted",
    "exact_fallback",
    "method_label",
    "on_scale",
    "run_method",
    "with_covariate",
]


def covariate_adjusted(arrays: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, GroupStats]:
    """CUPED on the linearised ratio (a mean when D ≡ 1): θ pooled over groups (Deng et al. 2013, §b3).

    Each group's estimate becomes R_g − θ(X̄_g − X̄); its per-tweet variance that of ℓ − θ(X − X̄_g), with
    ℓ = (M − R_g·D)/D̄_g. Returned as GroupStats whose ratio and variance carry the adjusted values.
    """
    pooled_x = np.concatenate([x for _, _, x in arrays.values()]).mean()
    lin = {}
    for name, (m, d, x) in arrays.items():
        r, mean_d = m.sum() / d.sum(), d.mean()
        lin[name] = ((m - r * d) / mean_d, x, r)
    cov = sum(np.cov(ell, x, ddof=1)[0, 1] * (len(x) - 1) for ell, x, _ in lin.values())
    var = sum(np.var(x, ddof=1) * (len(x) - 1) for _, x, _ in lin.values())
    theta = cov / var if var > 0 else 0.0
    out = {}
    for name, (ell, x, r) in lin.items():
        adjusted = ell - theta * (x - x.mean())
        estimate = r - theta * (x.mean() - pooled_x)
        # a GroupStats with D ≡ 1 whose mean is the adjusted estimate and whose variance is the adjusted one
        centred = adjusted - adjusted.mean() + estimate
        out[name] = GroupStats.from_arrays(centred)
    return out


def naive_z(
    control: GroupStats, treatment: GroupStats, alpha: float, alternative: Alternative
) -> tuple[float, tuple[float, float]]:
    z = proportions_ztest([treatment.sum_m, control.sum_m], [treatment.sum_d, control.sum_d], alternative=alternative)
    p_t, p_c = treatment.ratio, control.ratio
    se = math.sqrt(p_t * (1 - p_t) / treatment.sum_d + p_c * (1 - p_c) / control.sum_d)
    one_sided = alternative != "two-sided"
    half = sps.norm.ppf(1 - alpha / (1 if one_sided else 2)) * se
    low, high = p_t - p_c - half, p_t - p_c + half
    return z.p_value, (low if alternative != "less" else -math.inf, high if alternative != "greater" else math.inf)


@dataclass(frozen=True)
class Tested:
    """One contrast as the chosen method tests it, before the multiple-testing step: its intervals and p-values,
    the scale of the verdict's ``p_value``, the method's label, and what needs saying beside the numbers."""

    abs_ci: tuple[float, float]
    rel_ci: tuple[float, float]
    p_value_abs: float
    p_value_rel: float
    p_value: float
    p_scale: str
    method: str
    testable: bool
    notes: tuple[Note, ...]


CANNOT_TEST_LIFT = Note(
    "absolute_scale", "the verdict uses the absolute difference because the relative lift cannot be tested"
)
FISHER_FALLBACK = Note(
    "exact_fallback", "an arm has no variation, so the p-value is Fisher's exact test on tweets with/without"
)
ESTIMAND = Note("estimand", "per-tweet rates, unweighted: a different estimand from the ratio of sums")
NAIVE = Note("naive", "treats impressions as independent; overstates significance by about the design effect")


def _testable_notes(notes: tuple[Note, ...]) -> tuple[Note, ...]:
    """The notes without the reasons no test was possible (for a method that is valid here)."""
    return tuple(note for note in notes if note.code != UNTESTABLE)


def exact_fallback(tested: Tested, control: GroupStats, treatment: GroupStats, alternative: Alternative) -> Tested:
    """A 0/1 outcome with no variation in an arm (all or none of its tweets): Fisher's exact test is valid."""
    table = [[int(g.sum_m), g.n - int(g.sum_m)] for g in (treatment, control)]
    p = fisher_exact(table, alternative=alternative).p_value
    return replace(
        tested, p_value_abs=p, p_value=p, p_scale="exact", testable=True,
        method=tested.method + "; Fisher exact (an arm has no variation)",
        notes=(*_testable_notes(tested.notes), FISHER_FALLBACK),
    )  # fmt: skip


def on_scale(tested: Tested, scale: str) -> Tested:
    """The verdict's p: the requested scale, or the absolute one (said so, once) when the lift cannot be tested."""
    p_abs, p_rel = tested.p_value_abs, tested.p_value_rel
    if scale == "relative" and math.isnan(p_rel) and not math.isnan(p_abs):
        notes = tested.notes if CANNOT_TEST_LIFT in tested.notes else (*tested.notes, CANNOT_TEST_LIFT)
        return replace(tested, p_scale="absolute", p_value=p_abs, notes=notes)
    return replace(tested, p_scale=scale, p_value=p_rel if scale == "relative" else p_abs)


def method_label(method: str, is_ratio: bool, binary: bool, options: CompareOptions) -> str:
    base = {
        "delta-hc3": "delta method, leverage-corrected (HC3) variances and degrees of freedom; log-ratio lift",
        "delta": "delta method (Welch t)",
        "welch": "Welch t",
        "bootstrap": "cluster bootstrap (BCa; p-value from the bootstrap distribution)",
        "permutation": "cluster bootstrap (BCa) + permutation test",
        "mann-whitney": "Mann-Whitney U on per-tweet values",
        "fisher": "Fisher exact on tweets with/without the outcome",
        "barnard": "Barnard exact on tweets with/without the outcome",
        "naive-z": "NAIVE pooled z on impressions",
    }[method]
    if method in ("delta", "delta-hc3") and not is_ratio:
        base = "Welch t"
    if binary and method in ("delta", "delta-hc3", "welch"):
        base += " on a proportion of tweets (binomial variance p(1-p))"
    if options.covariate:
        base += f" + CUPED on {options.covariate}"
    if options.relative_ci is not None and options.relative_ci != ("log" if method == "delta-hc3" else "delta"):
        base += f"; {options.relative_ci} lift interval"
    if options.alternative != "two-sided":
        base += f"; one-sided ({options.alternative})"
    return base


def by_delta(result: Contrast, label: str, notes: tuple[Note, ...], scale: str) -> Tested:
    """The delta-method (or Welch) test of a contrast, with the verdict's p on ``scale``."""
    tested = Tested(
        abs_ci=result.abs_ci, rel_ci=result.rel_ci, p_value_abs=result.p_value_abs, p_value_rel=result.p_value_rel,
        p_value=math.nan, p_scale=scale, method=label, testable=result.testable, notes=notes,
    )  # fmt: skip
    return on_scale(tested, scale)


def run_method(
    tested: Tested,
    method: str,
    rel_lift: float,
    arrays: dict[str, tuple[np.ndarray, np.ndarray]],
    stats: dict[str, GroupStats],
    pair: tuple[str, str],
    options: CompareOptions,
) -> Tested:
    """The delta-method test replaced by the chosen method's (p-values on the scale that method tests)."""
    c, t = pair
    if method in ("delta", "delta-hc3", "welch") or (
        not tested.testable and method in ("bootstrap", "permutation", "naive-z")
    ):
        return tested
    if method in ("bootstrap", "permutation"):
        return _resampled(tested, method, rel_lift, arrays[c], arrays[t], options)
    if method == "mann-whitney":
        return _ranked(tested, arrays[c], arrays[t], options.alternative)
    if method in ("fisher", "barnard"):
        table = [binary_counts(arrays[t][0]), binary_counts(arrays[c][0])]
        exact = fisher_exact if method == "fisher" else barnard_exact
        p = exact(table, alternative=options.alternative).p_value
        return replace(
            tested, p_value_abs=p, p_value_rel=p, p_value=p, p_scale="exact", testable=True,
            notes=_testable_notes(tested.notes),
        )  # fmt: skip
    p, abs_ci = naive_z(stats[c], stats[t], options.alpha, options.alternative)
    return replace(
        tested, abs_ci=abs_ci, rel_ci=(math.nan, math.nan), p_value_abs=p, p_value_rel=math.nan, p_value=p,
        p_scale="absolute", notes=(*tested.notes, NAIVE),
    )  # fmt: skip


def _resampled(
    tested: Tested,
    method: str,
    rel_lift: float,
    control: tuple[np.ndarray, np.ndarray],
    treatment: tuple[np.ndarray, np.ndarray],
    options: CompareOptions,
) -> Tested:
    """BCa intervals of the difference and the lift, with the bootstrap's p-values or the permutation test's."""
    statistics: tuple[Literal["diff", "lift"], ...] = ("diff",) if math.isnan(rel_lift) else ("diff", "lift")
    found = bootstrap_test(
        control, treatment, statistics=statistics, n_resamples=options.n_resamples, alpha=options.alpha,
        alternative=options.alternative, seed=options.seed,
    )  # fmt: skip
    lift = found.get("lift")
    intervals = replace(tested, abs_ci=found["diff"].ci, rel_ci=lift.ci if lift is not None else (math.nan, math.nan))
    if method == "permutation":
        p = permutation_test(
            control, treatment, n_resamples=options.n_resamples, alternative=options.alternative, seed=options.seed
        )
        return replace(intervals, p_value_abs=p, p_value_rel=p, p_value=p, p_scale="permutation")
    p_rel = lift.p_value if lift is not None else math.nan
    return on_scale(replace(intervals, p_value_abs=found["diff"].p_value, p_value_rel=p_rel), options.scale)


def _ranked(
    tested: Tested,
    control: tuple[np.ndarray, np.ndarray],
    treatment: tuple[np.ndarray, np.ndarray],
    alternative: Alternative,
) -> Tested:
    """Mann-Whitney U on per-tweet rates (NaN where a tweet has no denominator, left out)."""
    x, y = (np.divide(m, d, out=np.full_like(m, np.nan), where=d > 0) for m, d in (treatment, control))
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    p = mann_whitney(x, y, alternative=alternative).p_value if min(len(x), len(y)) else math.nan
    return replace(
        tested, p_value_abs=p, p_value_rel=p, p_value=p, p_scale="rank", testable=not math.isnan(p),
        notes=(*tested.notes, ESTIMAND),
    )  # fmt: skip


def binary_counts(values: np.ndarray) -> list[int]:
    """[tweets with the outcome, tweets without] for a 0/1 per-tweet column."""
    if not np.isin(values, (0, 1)).all():
        raise StatsInputError("exact tests need a 0/1 (or boolean) per-tweet outcome, e.g. reached_100_likes")
    hits = int(values.sum())
    return [hits, len(values) - hits]


def with_covariate(
    frame: Any, metric: Metric, by: str, covariate: str
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    columns = list(nw.from_native(frame).columns)
    if covariate not in columns:
        raise StatsInputError(f"covariate {covariate!r} is not a column; columns: {columns[:15]}")
    base = tweet_arrays(frame, Mean(covariate), by)
    values = tweet_arrays(frame, metric, by)
    out = {}
    for g, (m, d) in values.items():
        x = base[g][0]
        if len(x) != len(m):
            raise StatsInputError(
                f"covariate {covariate!r} has nulls where {metric.label!r} does not; fill or drop them first"
            )
        out[g] = (m, d, x)
    return out
