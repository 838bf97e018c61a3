"""Adjusted contrasts as comparison rows (the same columns and verdicts as every other method)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..errors import StatsInputError
from ..metrics import Metric, Ratio
from .adjusted import AdjustedFit, AdjustModel, fit_adjusted, wald
from .notes import Note, render
from .options import CompareOptions
from .results import ContrastRow, percent

__all__ = ["adjusted_note", "adjusted_rows"]


MH_MIN_SHARE = 0.5
"""The Mantel–Haenszel cross-check is shown when at least this share of the pair's tweets is in strata that hold
both groups (with many fine strata most tweets are alone in theirs, and the estimate says little)."""


def adjusted_rows(
    data: Any,
    metric: Metric,
    by: str,
    unadjusted: list[ContrastRow],
    covariates: Sequence[str],
    options: CompareOptions,
    *,
    model: AdjustModel,
    cluster: str | None,
) -> list[ContrastRow]:
    """One adjusted row per unadjusted one (same pairs): rate ratio holding ``covariates`` fixed.

    Group sizes and raw rates are kept from the unadjusted rows; the absolute columns are NaN (the model
    estimates ratios), the relative ones are the adjusted rate ratio minus one with its Wald interval.
    """
    alpha, alternative = options.alpha, options.alternative
    reference = unadjusted[0].control
    counted = {g: n for r in unadjusted for g, n in ((r.control, r.n_control), (r.treatment, r.n_treatment))}
    fit = fit_adjusted(
        data, metric, by, covariates, reference=reference, model=model, cluster=cluster, tweets=sum(counted.values())
    )
    gone = [g for g in counted if g not in fit.groups]
    if gone:  # every tweet of a group left out before the fit (a covariate or the denominator missing)
        why = ", ".join(f"{n:,} {reason}" for reason, n in fit.dropped) or "no complete rows"
        raise StatsInputError(
            f"group(s) {gone} of {by!r} have no tweet with every column the adjusted model needs "
            f"({', '.join([*covariates, *([cluster] if cluster else [])])}; tweets left out: {why}); fill those "
            "values, or leave these groups out"
        )
    errors = (
        f"errors clustered on {cluster}" if cluster else f"robust ({'HC3' if model == 'poisson' else 'HC1'}) errors"
    )
    label = f"{fit.model}, {'log-' + metric.denominator + ' offset, ' if isinstance(metric, Ratio) else ''}{errors}"
    label += f"; adjusted for {', '.join(covariates)}"
    rows = []
    for raw in unadjusted:
        log_ratio, se = fit.contrast(raw.control, raw.treatment)
        p, (low, high) = wald(log_ratio, se, alpha, alternative)
        notes = (
            Note("unadjusted", f"unadjusted: {percent(raw.rel_lift)}"),
            *_model_notes(fit),
            *_cross_check(fit, metric, by, raw),
        )
        rows.append(
            replace(
                raw, abs_diff=math.nan, abs_ci_low=math.nan, abs_ci_high=math.nan, rel_lift=math.expm1(log_ratio),
                rel_ci_low=low, rel_ci_high=high, p_value_abs=math.nan, p_value_rel=p, p_value=p,
                p_scale="relative", method=label, deff=math.nan, warnings=render(notes), notes=notes, se=math.nan,
                rel_se=se, rel_scale="log", testable=not math.isnan(p),
            )
        )  # fmt: skip
    return rows


def _cross_check(fit: AdjustedFit, metric: Metric, by: str, raw: ContrastRow) -> tuple[Note, ...]:
    """The Mantel-Haenszel estimate of a rate ratio beside the model's, when enough tweets share strata."""
    if not isinstance(metric, Ratio):
        return ()
    mh, used, share = fit.mantel_haenszel(raw.control, raw.treatment)
    if share >= MH_MIN_SHARE:
        if used == 1:
            return (Note("cross_check", f"Mantel-Haenszel cross-check over one stratum, i.e. the crude rate ratio: "
                                        f"{percent(mh - 1)}"),)  # fmt: skip
        return (Note("cross_check", f"Mantel-Haenszel cross-check: {percent(mh - 1)} over {used} strata"),)
    strata = ", ".join(fit.strata) or "covariates"
    return (
        Note(
            "cross_check",
            f"no Mantel-Haenszel cross-check: only {share:.0%} of these tweets share a stratum of {strata} with the "
            "other group",
        ),
    )


def _model_notes(fit: AdjustedFit) -> tuple[Note, ...]:
    """What the model left out and how covariates entered, where it matters to reading the estimate."""
    notes = []
    if fit.dropped:
        total = sum(count for _, count in fit.dropped)
        reasons = "; ".join(f"{count} with {why}" for why, count in fit.dropped)
        notes.append(
            Note("dropped", f"{total} of {total + fit.n} tweets were left out of the adjusted model ({reasons})")
        )
    if fit.numeric:
        notes.append(
            Note(
                "entered_as_numbers",
                f"{', '.join(fit.numeric)} entered as numbers (one linear trend); cast to text to treat them as "
                "categories",
            )
        )
    if fit.clusters and fit.clusters[1] < FEW_CLUSTERS:
        column, count = fit.clusters
        notes.append(
            Note(
                "few_clusters",
                f"errors clustered on {column!r} rest on {count} clusters; with fewer than {FEW_CLUSTERS} they are "
                "too narrow (false alarms above alpha): read the intervals as optimistic, or leave cluster= out "
                f"for robust ({'HC1' if 'negative binomial' in fit.model else 'HC3'}) errors",
            )
        )
    return tuple(notes)


FEW_CLUSTERS = 30
"""Below this many clusters, cluster-robust errors are biased down (Cameron & Miller, 2015: 'few clusters')."""


def adjusted_note(covariates: Sequence[str], model: str, cluster: str | None) -> str:
    """What an adjusted comparison claims, and what it cannot."""
    return (
        f"Adjusted for {', '.join(covariates)} ({model} model of counts with an exposure offset"
        f"{', errors clustered on ' + cluster if cluster else ''}): each lift holds those fixed. It is still an "
        "association: confounders that were not measured are not adjusted for."
    )
