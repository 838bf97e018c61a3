"""compare() and summarize(): the entry points that pick the right test for clustered tweet data."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any, Literal

import narwhals as nw
import numpy as np
from scipy import stats as sps

from ..errors import StatsInputError
from ..metrics import Mean, Metric, Ratio, resolve_metric
from .classic import (
    TestResult,
    barnard_exact,
    fisher_exact,
    kruskal,
    mann_whitney,
    proportions_chisquare,
    proportions_ztest,
    welch_anova,
)
from .effects import Alternative, Contrast, RelativeCI, contrast
from .multiple import Correction, adjust_pvalues
from .resampling import cluster_bootstrap, permutation_test
from .results import Comparison, ContrastRow, Summary, SummaryRow
from .sufficient import GroupStats, group_stats, tweet_arrays

__all__ = ["METHODS", "Method", "compare", "omnibus", "summarize"]

Method = Literal["auto", "delta", "welch", "bootstrap", "mann-whitney", "fisher", "barnard", "naive-z"]
METHODS: tuple[Method, ...] = ("auto", "delta", "welch", "bootstrap", "mann-whitney", "fisher", "barnard", "naive-z")
Pairs = Literal["control", "all"]
THIN = 10


def _columns(frame: Any) -> list[str]:
    return list(nw.from_native(frame).columns)


def _metrics(metric: str | Metric | Sequence[str | Metric], columns: list[str]) -> list[Metric]:
    items = [metric] if isinstance(metric, (str, Ratio, Mean)) else list(metric)
    if not items:
        raise StatsInputError("give at least one metric, e.g. metric='engagement_rate'")
    return [resolve_metric(m, columns) for m in items]


def _contrasts(groups: list[str], control: str | None, pairs: Pairs, by: str) -> list[tuple[str, str]]:
    if len(groups) < 2:
        raise StatsInputError(f"column {by!r} has {len(groups)} group(s) with data ({groups}); a comparison needs two")
    if pairs == "all":
        return list(itertools.combinations(groups, 2))
    reference = control if control is not None else groups[0]
    if reference not in groups:
        raise StatsInputError(f"control {reference!r} is not a value of {by!r}; values: {groups}")
    return [(reference, g) for g in groups if g != reference]


def _covariate_adjusted(arrays: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, GroupStats]:
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


def _naive(
    control: GroupStats, treatment: GroupStats, alpha: float, alternative: Alternative
) -> tuple[float, tuple[float, float]]:
    z = proportions_ztest([treatment.sum_m, control.sum_m], [treatment.sum_d, control.sum_d], alternative=alternative)
    p_t, p_c = treatment.ratio, control.ratio
    se = math.sqrt(p_t * (1 - p_t) / treatment.sum_d + p_c * (1 - p_c) / control.sum_d)
    half = sps.norm.ppf(1 - alpha / 2) * se
    return z.p_value, (p_t - p_c - half, p_t - p_c + half)


def _row(
    metric: Metric,
    by: str,
    pair: tuple[str, str],
    stats: dict[str, GroupStats],
    result: Contrast,
    method: str,
    alpha: float,
) -> dict[str, Any]:
    c, t = pair
    notes = list(result.warnings)
    if min(stats[c].n, stats[t].n) < THIN:
        notes.append(f"fewer than {THIN} tweets in a group: treat the result as a rough indication")
    return {
        "metric": metric.label,
        "by": by,
        "control": c,
        "treatment": t,
        "n_control": stats[c].n,
        "n_treatment": stats[t].n,
        "control_value": result.control_value,
        "treatment_value": result.treatment_value,
        "abs_diff": result.abs_diff,
        "abs_ci_low": result.abs_ci[0],
        "abs_ci_high": result.abs_ci[1],
        "rel_lift": result.rel_lift,
        "rel_ci_low": result.rel_ci[0],
        "rel_ci_high": result.rel_ci[1],
        "p_value": result.p_value,
        "method": method,
        "alpha": alpha,
        "deff": result.deff,
        "warnings": "; ".join(notes),
        "se": result.se,
        "rel_se": result.rel_se,
    }


def _one_metric(
    frame: Any,
    metric: Metric,
    by: str,
    pairs: list[tuple[str, str]] | None,
    control: str | None,
    pair_mode: Pairs,
    options: dict[str, Any],
) -> list[dict[str, Any]]:
    method, alpha, alternative = options["method"], options["alpha"], options["alternative"]
    stats = group_stats(frame, metric, by)
    pairs = pairs or _contrasts(list(stats), control, pair_mode, by)
    is_ratio = isinstance(metric, Ratio)
    if method == "auto":
        method = "delta" if is_ratio else "welch"
    arrays = tweet_arrays(frame, metric, by) if method in ("bootstrap", "mann-whitney", "fisher", "barnard") else {}
    if options["covariate"]:
        stats = _covariate_adjusted(_with_covariate(frame, metric, by, options["covariate"]))
    rows = []
    for c, t in pairs:
        result = contrast(
            stats[c],
            stats[t],
            alpha=alpha,
            alternative=alternative,
            relative_ci=options["relative_ci"],
            ratio=is_ratio and not options["covariate"],
        )
        row = _row(metric, by, (c, t), stats, result, _label(method, is_ratio, options), alpha)
        _apply_method(row, method, arrays, stats, (c, t), options)
        rows.append(row)
    return rows


def _label(method: str, is_ratio: bool, options: dict[str, Any]) -> str:
    base = {
        "delta": "delta method (Welch t)",
        "welch": "Welch t",
        "bootstrap": "cluster bootstrap (BCa) + permutation",
        "mann-whitney": "Mann-Whitney U on per-tweet values",
        "fisher": "Fisher exact on tweets with/without the outcome",
        "barnard": "Barnard exact on tweets with/without the outcome",
        "naive-z": "NAIVE pooled z on impressions",
    }[method]
    if method == "delta" and not is_ratio:
        base = "Welch t"
    if options["covariate"]:
        base += f" + CUPED on {options['covariate']}"
    if options["relative_ci"] != "delta":
        base += f"; {options['relative_ci']} lift interval"
    return base


def _apply_method(
    row: dict[str, Any],
    method: str,
    arrays: dict[str, tuple[np.ndarray, np.ndarray]],
    stats: dict[str, GroupStats],
    pair: tuple[str, str],
    options: dict[str, Any],
) -> None:
    c, t = pair
    if method == "bootstrap":
        kinds: tuple[tuple[Literal["diff", "lift"], str, str], ...] = (
            ("diff", "abs_ci_low", "abs_ci_high"),
            ("lift", "rel_ci_low", "rel_ci_high"),
        )
        for kind, low, high in kinds:
            boot = cluster_bootstrap(
                arrays[c],
                arrays[t],
                statistic=kind,
                n_resamples=options["n_resamples"],
                alpha=row["alpha"],
                seed=options["seed"],
            )
            row[low], row[high] = boot.ci
        row["p_value"] = permutation_test(
            arrays[c], arrays[t], n_resamples=options["n_resamples"], seed=options["seed"]
        )
    elif method == "mann-whitney":
        rate = {g: np.divide(m, d, out=np.full_like(m, np.nan), where=d > 0) for g, (m, d) in arrays.items()}
        x, y = rate[t][~np.isnan(rate[t])], rate[c][~np.isnan(rate[c])]
        row["p_value"] = mann_whitney(x, y, alternative=options["alternative"]).p_value
        row["warnings"] = "; ".join(
            filter(None, [row["warnings"], "per-tweet rates, unweighted: a different estimand from the ratio of sums"])
        )
    elif method in ("fisher", "barnard"):
        table = [_binary_counts(arrays[t][0]), _binary_counts(arrays[c][0])]
        exact = fisher_exact if method == "fisher" else barnard_exact
        row["p_value"] = exact(table, alternative=options["alternative"]).p_value
    elif method == "naive-z":
        row["p_value"], (row["abs_ci_low"], row["abs_ci_high"]) = _naive(
            stats[c], stats[t], row["alpha"], options["alternative"]
        )
        row["rel_ci_low"] = row["rel_ci_high"] = math.nan
        row["warnings"] = "; ".join(
            filter(
                None,
                [
                    row["warnings"],
                    "treats impressions as independent; overstates significance by about the design effect",
                ],
            )
        )


def _binary_counts(values: np.ndarray) -> list[int]:
    """[tweets with the outcome, tweets without] for a 0/1 per-tweet column."""
    if not np.isin(values, (0, 1)).all():
        raise StatsInputError("exact tests need a 0/1 (or boolean) per-tweet outcome, e.g. reached_100_likes")
    hits = int(values.sum())
    return [hits, len(values) - hits]


def _with_covariate(
    frame: Any, metric: Metric, by: str, covariate: str
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    columns = _columns(frame)
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


def compare(
    frame: Any,
    *,
    metric: str | Metric | Sequence[str | Metric],
    by: str,
    control: str | None = None,
    pairs: Pairs = "control",
    method: Method = "auto",
    alpha: float = 0.05,
    correction: Correction = "holm",
    family: Literal["all", "metric"] = "all",
    alternative: Alternative = "two-sided",
    relative_ci: RelativeCI = "delta",
    covariate: str | None = None,
    n_resamples: int = 10_000,
    seed: int | None = 0,
) -> Comparison:
    """Compare groups of tweets on one or more metrics, correctly for clustered data.

    Parameters
    ----------
    frame : DataFrame (pandas, polars or lazy)
        One row per tweet, e.g. from :func:`engagement_lab.per_tweet`.
    metric : str, Ratio, Mean or a list of them
        A named rate (``"engagement_rate"``, ``"ctr"``...), a column (its per-tweet mean), or a metric object.
    by : str
        The column whose values are the groups (variant, campaign, content type...).
    control : str, optional
        The reference group (default: the first value in sorted order).
    pairs : {"control", "all"}
        Every group against the control, or all pairs.
    method : {"auto", "delta", "welch", "bootstrap", "mann-whitney", "naive-z"}
        ``"auto"`` uses the delta method for ratios and Welch's t for means and says so in ``method``.
        ``"naive-z"`` is the common but wrong impression-level test, offered for contrast.
    alpha, alternative
        Significance level and ``"two-sided"``, ``"larger"`` or ``"smaller"`` (treatment vs control).
    correction : {"holm", "bonferroni", "fdr_bh", "fdr_by", "none"}
    family : {"all", "metric"}
        Adjust over every contrast of every metric, or within each metric.
    relative_ci : {"delta", "log", "fieller"}
        How the relative-lift interval is built.
    covariate : str, optional
        A pre-period column for CUPED regression adjustment (e.g. the account's previous engagement rate).
    n_resamples, seed
        For the bootstrap and permutation test.

    Examples
    --------
    >>> import pandas as pd
    >>> tweets = pd.DataFrame({"variant": ["A"] * 4 + ["B"] * 4,
    ...                        "engagements": [10, 12, 8, 30, 20, 25, 18, 41],
    ...                        "impressions": [500, 600, 400, 1500, 700, 800, 600, 1400]})
    >>> result = compare(tweets, metric="engagement_rate", by="variant")
    >>> result.to_frame()[["control", "treatment", "rel_lift"]].round(3).values.tolist()
    [['A', 'B', 0.486]]
    """
    if method not in METHODS:
        raise StatsInputError(f"method must be one of {METHODS}, got {method!r}")
    if not 0 < alpha < 1:
        raise StatsInputError(f"alpha must be between 0 and 1, got {alpha}")
    columns = _columns(frame)
    if by not in columns:
        from ..errors import did_you_mean

        raise StatsInputError(f"by={by!r} is not a column{did_you_mean(by, columns)}; columns: {columns[:15]}")
    options = {
        "method": method,
        "alpha": alpha,
        "alternative": alternative,
        "relative_ci": relative_ci,
        "covariate": covariate,
        "n_resamples": n_resamples,
        "seed": seed,
    }
    per_metric = [_one_metric(frame, m, by, None, control, pairs, options) for m in _metrics(metric, columns)]
    if family == "metric":
        for rows in per_metric:
            for row, p in zip(rows, adjust_pvalues([r["p_value"] for r in rows], correction), strict=True):
                row["p_adjusted"] = float(p)
    flat = [row for rows in per_metric for row in rows]
    if family == "all":
        for row, p in zip(flat, adjust_pvalues([r["p_value"] for r in flat], correction), strict=True):
            row["p_adjusted"] = float(p)
    notes = ("Comparisons of campaigns or content types that were not randomised show association, not cause.",)
    return Comparison(tuple(ContrastRow(**row) for row in flat), correction, alpha, notes)


def summarize(frame: Any, *, metric: str | Metric, by: str, alpha: float = 0.05) -> Summary:
    """Per-group estimate of a metric with delta-method (ratios) or t (means) confidence intervals."""
    resolved = resolve_metric(metric, _columns(frame))
    rows = []
    for group, g in group_stats(frame, resolved, by).items():
        se = math.sqrt(g.variance) if g.variance > 0 else math.nan
        half = sps.t.ppf(1 - alpha / 2, g.n - 1) * se if g.n > 1 else math.nan
        rows.append(
            SummaryRow(resolved.label, by, group, g.n, g.ratio, se, g.ratio - half, g.ratio + half, g.sum_m, g.sum_d)
        )
    return Summary(tuple(rows), alpha)


def omnibus(
    frame: Any,
    *,
    metric: str | Metric,
    by: str,
    method: Literal["wald", "welch-anova", "kruskal", "chisquare"] = "wald",
) -> TestResult:
    """Is there any difference among k groups? ``"wald"`` tests equal ratios with delta-method variances
    (right for clustered rates); ``"welch-anova"`` and ``"kruskal"`` use per-tweet values (rates per tweet
    for ratio metrics, unweighted); ``"chisquare"`` compares the share of tweets with a 0/1 outcome."""
    resolved = resolve_metric(metric, _columns(frame))
    if method == "chisquare":
        counts = [_binary_counts(m) for m, _ in tweet_arrays(frame, resolved, by).values()]
        return proportions_chisquare([c[0] for c in counts], [sum(c) for c in counts])
    if method == "wald":
        stats = [g for g in group_stats(frame, resolved, by).values() if g.n >= 2 and g.variance > 0]
        if len(stats) < 2:
            raise StatsInputError("the Wald omnibus needs at least 2 groups with 2+ tweets and some variance")
        r = np.array([g.ratio for g in stats])
        w = 1 / np.array([g.variance for g in stats])
        pooled = (w * r).sum() / w.sum()
        statistic = float((w * (r - pooled) ** 2).sum())
        return TestResult(
            "Wald chi-square (delta method)", statistic, float(sps.chi2.sf(statistic, len(stats) - 1)), len(stats) - 1.0
        )
    arrays = tweet_arrays(frame, resolved, by)
    values = [np.divide(m, d, out=np.full_like(m, np.nan), where=d > 0) for m, d in arrays.values()]
    values = [v[~np.isnan(v)] for v in values]
    return welch_anova(*values) if method == "welch-anova" else kruskal(*values)
