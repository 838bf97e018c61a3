"""compare() and summarize(): the entry points that pick the right test for clustered tweet data."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal

import narwhals as nw
import numpy as np
from scipy import stats as sps

from .. import columns as C
from ..errors import StatsInputError, check_choice, did_you_mean
from ..metrics import Mean, Metric, Ratio, resolve_metric
from .adjusted import AdjustModel
from .adjusted_rows import adjusted_note, adjusted_rows
from .classic import (
    TestResult,
    kruskal,
    proportions_chisquare,
    welch_anova,
)
from .degenerate import delta_contrast
from .effects import Alternative, Contrast, RelativeCI, Variance, contrast
from .inputs import checked_frame
from .methods import (
    Tested,
    binary_counts,
    by_delta,
    covariate_adjusted,
    exact_fallback,
    method_label,
    run_method,
    with_covariate,
)
from .multiple import Correction
from .notes import Note, render
from .options import (
    DELTA_METHODS,
    METHODS,
    CompareOptions,
    Family,
    Method,
    Pairs,
    Scale,
    adjust_options,
    check_covariate,
    check_options,
    correct,
)
from .results import Comparison, ContrastRow, Summary, SummaryRow
from .sufficient import GroupStats, group_stats, tweet_arrays

__all__ = ["METHODS", "Method", "Scale", "compare", "omnibus", "summarize"]

OBSERVATIONAL_NOTE = (
    "Comparisons of campaigns or content types that were not randomised show association, not cause; "
    "adjust_for=[...] holds measured confounders fixed."
)
"""The note of an unadjusted comparison of groups that were not randomised (``randomised=False``)."""

THIN = 10
CONCENTRATED = 10
"""Below this effective number of tweets (Kish, by the denominator), an arm's verdict rests on a few tweets."""


def _columns(frame: Any) -> list[str]:
    return list(nw.from_native(frame).columns)


def _not_tidy(columns: list[str], by: object, metrics: Sequence[str | Metric]) -> None:
    """Refuse the long (tidy) rows of ``load`` with the step they miss: one row per tweet and engagement type (a
    ``value`` beside an ``engagement_type``) holds no ``impressions`` column to compare, and ``by`` is usually in the
    metadata not yet joined. Checked only when the frame lacks what was asked, so a per-tweet frame that happens to
    carry such columns is compared as given."""
    if C.ENGAGEMENT_TYPE not in columns or C.VALUE not in columns:
        return
    needed = [by] if isinstance(by, str) else []
    for metric in metrics:
        needed += list(resolve_metric(metric).columns) if isinstance(metric, (str, Ratio, Mean)) else []
    missing = [c for c in dict.fromkeys(needed) if c not in columns]
    if missing:
        raise StatsInputError(
            f"this frame is tidy (long) rows, one per tweet and engagement type ({C.ENGAGEMENT_TYPE!r}, "
            f"{C.VALUE!r}), so it has no column {missing[0]!r}; compare needs one row per tweet: call "
            f"engagement_lab.per_tweet(frame, metadata=...) first (metadata: a CSV or frame with tweet_id and the "
            f"{by!r} column), then compare its result"
        )


def _check_by(by: object, columns: list[str]) -> None:
    if not isinstance(by, str) or by not in columns:
        raise StatsInputError(f"by={by!r} is not a column{did_you_mean(str(by), columns)}; columns: {columns[:15]}")


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


def _thin(result: Contrast, control: GroupStats, treatment: GroupStats) -> tuple[Note, ...]:
    if result.testable and min(control.n, treatment.n) < THIN:
        return (Note("thin", f"fewer than {THIN} tweets in a group: treat the result as a rough indication"),)
    return ()


def _concentrated(result: Contrast, arms: dict[str, GroupStats]) -> tuple[Note, ...]:
    """Say so where a few tweets carry most of an arm's denominator (Kish's effective number of tweets below
    ``CONCENTRATED``): the verdict stands on them, whatever the tweet count says."""
    if not result.testable:
        return ()
    notes = []
    for name, g in arms.items():
        if g.kish_n < CONCENTRATED and g.n >= THIN:
            notes.append(
                Note(
                    "concentrated",
                    f"{name}'s impressions sit on few tweets: its largest carries {g.largest_share:.0%} of them "
                    f"and its {g.n} tweets weigh as much as {g.kish_n:.1f} equally seen ones; treat this as a rough "
                    "indication",
                )
            )
    return tuple(notes)


def _row(
    metric: Metric,
    by: str,
    pair: tuple[str, str],
    stats: dict[str, GroupStats],
    result: Contrast,
    tested: Tested,
    options: CompareOptions,
) -> ContrastRow:
    """One comparison row, its ``p_adjusted`` still to come from the multiple-testing step (:func:`correct`)."""
    c, t = pair
    return ContrastRow(
        metric=metric.label, by=by, control=c, treatment=t, n_control=stats[c].n, n_treatment=stats[t].n,
        control_value=result.control_value, treatment_value=result.treatment_value, abs_diff=result.abs_diff,
        abs_ci_low=tested.abs_ci[0], abs_ci_high=tested.abs_ci[1], rel_lift=result.rel_lift,
        rel_ci_low=tested.rel_ci[0], rel_ci_high=tested.rel_ci[1], p_value_abs=tested.p_value_abs,
        p_value_rel=tested.p_value_rel, p_value=tested.p_value, p_adjusted=math.nan, p_scale=tested.p_scale,
        method=tested.method, alpha=options.alpha, deff=result.deff, warnings=render(tested.notes), se=result.se,
        rel_se=result.rel_se, alternative=options.alternative, testable=tested.testable, notes=tested.notes,
        rel_scale=result.rel_scale,
    )  # fmt: skip


def judge_pair(
    control: GroupStats,
    treatment: GroupStats,
    method: str,
    *,
    is_ratio: bool,
    binary: bool,
    options: CompareOptions,
    label: str = "",
    arrays: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    notes: Callable[[Contrast], tuple[Note, ...]] | None = None,
) -> tuple[Contrast, Tested]:
    """One contrast tested by ``method`` (already resolved from ``"auto"``), exactly as :func:`compare` tests it:
    the delta-method contrast (with the exact bound of a flat arm for a rate), then the method's own test, then the
    exact test of a 0/1 outcome that cannot be tested otherwise. ``arrays`` holds the arms' per-tweet values under
    ``"control"`` and ``"treatment"`` for the methods that resample or rank them; ``notes`` adds notes from the
    contrast. The A/A check and the planner call this, so their verdicts are compare's."""
    variance: Variance = "hc3" if method == "delta-hc3" and is_ratio and not options.covariate else "hc0"
    if is_ratio and method in DELTA_METHODS and not options.covariate:  # an arm with no variation: its exact bound
        result = delta_contrast(
            control, treatment, variance=variance, alpha=options.alpha, alternative=options.alternative,
            relative_ci=options.relative_ci,
        )  # fmt: skip
    else:
        result = contrast(
            control, treatment, alpha=options.alpha, alternative=options.alternative,
            relative_ci=options.relative_ci, ratio=is_ratio and not options.covariate, variance=variance,
        )  # fmt: skip
    extra = notes(result) if notes else ()
    tested = by_delta(result, label, (*result.notes, *extra), options.scale)
    pair_stats = {"control": control, "treatment": treatment}
    tested = run_method(tested, method, result.rel_lift, arrays or {}, pair_stats, ("control", "treatment"), options)
    if not tested.testable and binary and method in ("delta", "delta-hc3", "welch"):
        tested = exact_fallback(tested, control, treatment, options.alternative)
    return result, tested


def _one_metric(frame: Any, metric: Metric, by: str, control: str | None, options: CompareOptions) -> list[ContrastRow]:
    method = options.method
    stats = group_stats(frame, metric, by)
    pairs = _contrasts(list(stats), control, options.pairs, by)
    is_ratio = isinstance(metric, Ratio)
    if method == "auto":
        method = "delta-hc3" if is_ratio else "welch"
    per_tweet_methods = ("bootstrap", "permutation", "mann-whitney", "fisher", "barnard")
    arrays = tweet_arrays(frame, metric, by) if method in per_tweet_methods else {}
    if options.covariate:
        stats = covariate_adjusted(with_covariate(frame, metric, by, options.covariate))
    binary = any(g.binary for g in stats.values())
    label = method_label(method, is_ratio, binary, options)
    rows = []
    for c, t in pairs:

        def notes(result: Contrast, c: str = c, t: str = t) -> tuple[Note, ...]:
            return (
                *_thin(result, stats[c], stats[t]),
                *(_concentrated(result, {c: stats[c], t: stats[t]}) if is_ratio else ()),
            )

        result, tested = judge_pair(
            stats[c], stats[t], method, is_ratio=is_ratio, binary=binary, options=options, label=label,
            arrays={"control": arrays[c], "treatment": arrays[t]} if arrays else None, notes=notes,
        )  # fmt: skip
        rows.append(_row(metric, by, (c, t), stats, result, tested, options))
    return rows


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
    family: Family = "all",
    alternative: Alternative = "two-sided",
    relative_ci: RelativeCI | None = None,
    scale: Scale = "relative",
    covariate: str | None = None,
    adjust_for: Sequence[str] | None = None,
    adjust_model: AdjustModel = "poisson",
    cluster: str | None = None,
    n_resamples: int = 10_000,
    seed: int | None = 0,
    randomised: bool = True,
) -> Comparison:
    """Compare groups of tweets on one or more metrics, correctly for clustered data.

    Parameters
    ----------
    frame : DataFrame (pandas, polars or lazy)
        One row per tweet, e.g. from :func:`engagement_lab.per_tweet`. Counts are checked first: negative
        counts, and for rates per impression fractional counts or more engagements than impressions, are
        refused with the rows named. Tweets with no group label are left out (counted in ``notes``).
    metric : str, Ratio, Mean or a list of them
        A named rate (``"engagement_rate"``, ``"ctr"``...), a column (its per-tweet mean; a 0/1 column is a
        proportion of tweets with the binomial variance), or a metric object.
    by : str
        The column whose values are the groups (variant, campaign, content type...).
    control : str, optional
        The reference group (default: the first value in sorted order).
    pairs : {"control", "all"}
        Every group against the control, or all pairs.
    method : str
        One of ``"auto"``, ``"delta-hc3"``, ``"delta"``, ``"welch"``, ``"bootstrap"``, ``"permutation"``,
        ``"mann-whitney"``, ``"fisher"``, ``"barnard"``, ``"naive-z"``.
        ``"auto"`` (default) is ``"delta-hc3"`` for rates and Welch's t for means, and says so in ``method``.
        ``"delta-hc3"``: the delta method with each tweet's residual scaled by its leverage (its share of the
        arm's impressions) and degrees of freedom that fall as impressions concentrate on few tweets, the lift
        tested and bounded on the log scale. It keeps false alarms at 5% and coverage at 95% where a few tweets
        carry most of the impressions, as in real accounts (``benchmarks/calibration.py``); an arm with no
        variation but enough impressions is judged against the exact Poisson bound of its pooled count.
        ``"delta"`` is the peers' delta method (GrowthBook, tea-tasting, to 1e-12): it cries wolf two to three
        times too often on such accounts at 40-120 tweets.
        ``"bootstrap"`` resamples tweets within each group: BCa intervals of the difference and the lift, each
        with the p-value read off the same bootstrap distribution (so interval and p-value agree).
        ``"permutation"`` gives the same intervals with a permutation test of the arm labels (the sharp null of
        no effect on any tweet); it costs about as much again, so it runs only when asked.
        ``"naive-z"`` is the common but wrong impression-level test, offered for contrast.
    alpha : float
        Significance level; intervals have coverage 1 − alpha.
    alternative : {"two-sided", "greater", "less"}
        Treatment vs control (scipy's names; statsmodels' ``"larger"``/``"smaller"`` mean the same).
        One-sided intervals have one infinite end.
    scale : {"relative", "absolute"}
        Which test the verdict and ``p_value``/``p_adjusted`` use: the relative lift (default) or the absolute
        difference. Both are always reported (``p_value_rel``, ``p_value_abs``), each matching its own
        interval. They can disagree near alpha: the relative scale divides by the control's estimate and so
        carries its uncertainty too, while peers such as tea-tasting test the absolute difference. When the
        lift cannot be tested (control value 0, unbounded Fieller interval) the verdict uses the absolute
        scale and says so; ``p_scale`` names the scale of each row's ``p_value``.
    correction : {"holm", "bonferroni", "fdr_bh", "fdr_by", "none"}
    family : {"all", "metric"}
        Adjust over every contrast of every metric, or within each metric.
    relative_ci : {"delta", "log", "fieller"}, optional
        How the relative-lift interval (and its test) is built; by default the method's own (the log ratio for
        ``"delta-hc3"``, the delta method's for ``"delta"``).
    covariate : str, optional
        A pre-period column for CUPED regression adjustment (e.g. the account's previous engagement rate): it
        narrows the intervals of a randomised test and leaves the estimand alone. A different idea from
        ``adjust_for`` (confounders held fixed when groups were not randomised), hence a different word.
    adjust_for : list of str, optional
        Confounders to hold fixed when groups were not randomised (``["account", "hour_of_day", "weekday"]``):
        rate ratios from a Poisson GLM of the numerator counts with a log-denominator offset and robust
        standard errors (see :mod:`engagement_lab.stats.adjusted`), a Mantel–Haenszel cross-check in each
        row's warnings, and the unadjusted comparison kept in ``result.unadjusted`` (``result.side_by_side()``).
        A covariate that cannot be separated from the groups is refused.
    adjust_model : {"poisson", "negbin"}
        The adjusted model: Poisson quasi-likelihood (default) or negative binomial.
    cluster : str, optional
        With ``adjust_for``: a column to cluster the standard errors on (e.g. ``"account"``, when tweets of one
        account share unmeasured influences). Needs enough clusters to be trustworthy (30 or more).
    n_resamples, seed
        For the bootstrap and permutation test.
    randomised : bool
        Whether tweets were assigned to the groups at random (an A/B test). ``False`` (content types, campaigns,
        posting times...) adds the caveat that the comparison shows association, not cause.

    Degenerate arms cannot be tested when they truly cannot be judged (fewer than 2 tweets, too few impressions
    to bound a rate, both arms without variation): their p-values and intervals are NaN and the verdict says
    "cannot tell" with the reason. An arm of rates with no variation but enough impressions is judged by the
    exact bound of its pooled count; a declared 0/1 outcome falls back to Fisher's exact test. Where a few tweets
    carry most of an arm's impressions, the warnings say so.

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
    options = check_options(
        method, pairs, alpha, correction, family, alternative, relative_ci, scale, n_resamples, seed
    )
    if not isinstance(randomised, bool):
        raise StatsInputError(f"randomised must be True or False, got {randomised!r}")
    columns = _columns(frame)
    _not_tidy(columns, by, [metric] if isinstance(metric, (str, Ratio, Mean)) else list(metric))
    _check_by(by, columns)
    options = check_covariate(options, covariate, columns)
    adjusting = adjust_options(adjust_for, adjust_model, cluster, columns, by, options)
    metrics = _metrics(metric, columns)
    extra = [covariate] if covariate else []
    data, notes = checked_frame(frame, metrics, by, extra, [*adjusting, *([cluster] if cluster else [])])
    per_metric = [_one_metric(data, m, by, control, options) for m in metrics]
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    if adjusting:
        return _adjusted(data, metrics, by, per_metric, adjusting, options, notes, model=adjust_model, cluster=cluster)
    return Comparison(
        correct(per_metric, options), options.correction, options.alpha,
        (*notes, *(() if randomised else (OBSERVATIONAL_NOTE,))),
        alternative=options.alternative, scale=options.scale,
    )  # fmt: skip


def _adjusted(
    data: Any,
    metrics: list[Metric],
    by: str,
    raw: list[list[ContrastRow]],
    adjusting: list[str],
    options: CompareOptions,
    notes: list[str],
    *,
    model: AdjustModel,
    cluster: str | None,
) -> Comparison:
    """The comparison holding ``adjusting`` fixed, with the unadjusted one (``raw``) kept beside it."""
    per_metric = [
        adjusted_rows(data, m, by, rows, adjusting, options, model=model, cluster=cluster)
        for m, rows in zip(metrics, raw, strict=True)
    ]
    unadjusted = Comparison(correct(raw, options), options.correction, options.alpha)
    return Comparison(
        correct(per_metric, options), options.correction, options.alpha,
        (*notes, adjusted_note(adjusting, model, cluster)), alternative=options.alternative, scale=options.scale,
        adjusted_for=tuple(adjusting), unadjusted=unadjusted,
    )  # fmt: skip


def summarize(frame: Any, *, metric: str | Metric, by: str, alpha: float = 0.05) -> Summary:
    """Per-group estimate of a metric with delta-method (ratios) or t (means) confidence intervals.

    The same input checks as :func:`compare` apply (counts refused with the rows named, null labels left out).
    """
    check_options("auto", "control", alpha, "holm", "all", "two-sided", "delta", "relative", 10_000, 0)
    columns = _columns(frame)
    _not_tidy(columns, by, [metric])
    _check_by(by, columns)
    resolved = resolve_metric(metric, columns)
    data, _ = checked_frame(frame, [resolved], by)
    rows = []
    for group, g in group_stats(data, resolved, by).items():
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
    check_choice("method", method, ("wald", "welch-anova", "kruskal", "chisquare"))
    columns = _columns(frame)
    _not_tidy(columns, by, [metric])
    _check_by(by, columns)
    resolved = resolve_metric(metric, columns)
    frame, _ = checked_frame(frame, [resolved], by)
    if method == "chisquare":
        counts = [binary_counts(m) for m, _ in tweet_arrays(frame, resolved, by).values()]
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
