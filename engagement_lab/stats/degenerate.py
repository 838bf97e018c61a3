"""A rate contrast with an arm that has no variation between tweets (every tweet at 0 engagements, typically): no
variance can be estimated for that arm, but its pooled count still bounds its rate exactly, so overwhelming
evidence gets its verdict and only an arm that truly cannot be judged says "cannot tell".

The flat arm's rate lies in its exact Poisson (Garwood) interval at level 1 − γ; the other arm is tested against
the least favourable rate in that interval by its own t statistic, and γ is added to the p-value (Berger & Boos
1994: valid whatever the flat arm's true rate). An arm of one tweet, one whose counts are not whole, or one whose
exact interval is wider than the other arm's rate (a handful of impressions) cannot be judged.
"""

from __future__ import annotations

import math

from scipy import special

from .effects import (
    NAN,
    Alternative,
    Contrast,
    RelativeCI,
    Variance,
    _arm_variance,
    _quantile,
    contrast,
    design_effect,
    flat_reason,
    p_from_t,
)
from .notes import Note
from .sufficient import GroupStats

__all__ = ["GAMMA", "delta_contrast", "flat_arm_contrast", "poisson_interval"]

GAMMA = 1e-3
"""The share of the test's level spent on bounding the flat arm's rate."""


def poisson_interval(count: float, exposure: float, level: float) -> tuple[float, float]:
    """Garwood's exact interval of a Poisson rate: ``count`` events in ``exposure``, two-sided at ``level``."""
    tail = (1 - level) / 2
    low = float(special.gammaincinv(count, tail)) / exposure if count > 0 else 0.0
    return low, float(special.gammaincinv(count + 1, 1 - tail)) / exposure


def flat_arm_contrast(
    control: GroupStats, treatment: GroupStats, *, variance: Variance, alpha: float, alternative: Alternative
) -> Contrast | None:
    """The contrast when exactly one arm is flat and the other can be tested, or an untestable contrast that says
    why the flat arm cannot be judged; ``None`` when neither or both arms are flat."""
    reasons = {"control": flat_reason("control", control), "treatment": flat_reason("treatment", treatment)}
    if (reasons["control"] is None) == (reasons["treatment"] is None):
        return None
    flat_is_control = reasons["control"] is not None
    flat, other = (control, treatment) if flat_is_control else (treatment, control)
    name = "control" if flat_is_control else "treatment"
    v, df = _arm_variance(other, variance)
    if flat.n < 2 or not flat.sum_d or not float(flat.sum_m).is_integer() or not (v > 0 and math.isfinite(v)):
        return None
    low, high = poisson_interval(flat.sum_m, flat.sum_d, 1 - GAMMA)
    r_c, r_t = control.ratio, treatment.ratio
    if high - low >= other.ratio:
        why = (
            f"{name} has no variation between tweets and only {flat.sum_d:,.0f} in its denominator: too few to bound "
            f"its rate (exactly, {low:.3g} to {high:.3g}, wider than the other arm's {other.ratio:.3g})"
        )
        return Contrast.untestable(r_c, r_t, [why])
    se = math.sqrt(v)

    def diff(rate: float) -> float:  # treatment − control with the flat arm at ``rate``
        return other.ratio - rate if flat_is_control else rate - other.ratio

    # the flat arm's rate least favourable to the alternative: the difference's bound nearest to no effect
    least = {"greater": high if flat_is_control else low, "less": low if flat_is_control else high}
    rate = least.get(alternative, min(max(other.ratio, low), high))
    p = min(1.0, p_from_t(diff(rate) / se, df, alternative) + GAMMA)
    half = _quantile(alpha - GAMMA, df, alternative) * se
    lowest, highest = sorted((diff(high), diff(low)))
    abs_ci = (
        lowest - half if alternative != "less" else -math.inf,
        highest + half if alternative != "greater" else math.inf,
    )
    note = Note(
        "exact_bound",
        f"the {name} has no variation between tweets: its rate is bounded exactly by its pooled count "
        f"({flat.sum_m:,.0f} in {flat.sum_d:,.0f}: {low:.3g} to {high:.3g}) and the other arm is tested against the "
        "least favourable rate in that bound",
    )
    return Contrast(
        control_value=r_c, treatment_value=r_t, abs_diff=r_t - r_c, se=se, df=df, statistic=diff(rate) / se,
        p_value_abs=p, abs_ci=abs_ci, rel_lift=r_t / r_c - 1 if r_c else NAN, rel_se=NAN, rel_ci=(NAN, NAN),
        p_value_rel=NAN, deff=design_effect(control, treatment, v), notes=(note,),
    )  # fmt: skip


def delta_contrast(
    control: GroupStats, treatment: GroupStats, *, variance: Variance, alpha: float = 0.05,
    alternative: Alternative = "two-sided", relative_ci: RelativeCI | None = None, ratio: bool = True,
) -> Contrast:  # fmt: skip
    """A delta-method contrast as ``compare`` makes it: :func:`~.effects.contrast`, and for a rate with one flat arm
    the exact bound of that arm's pooled count (the planner and the calibration harness call this too, so their
    verdicts are compare's)."""
    result = contrast(control, treatment, alpha=alpha, alternative=alternative, relative_ci=relative_ci,
                      ratio=ratio, variance=variance)  # fmt: skip
    if result.testable or not ratio:
        return result
    return flat_arm_contrast(control, treatment, variance=variance, alpha=alpha, alternative=alternative) or result
