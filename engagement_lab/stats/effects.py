"""Treatment vs control from sufficient statistics: the delta method with a Welch reference, relative-lift
intervals (delta, log-ratio, Fieller), the design effect against the naive impression-level test, and the
Bayesian and always-valid (sequential) views of the same effect.

Formulas: ``shared/spec/stats-methods.md`` §b1, b2, b5, b6. Degenerate inputs give NaN and a warning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from scipy import stats as sps

from .sufficient import GroupStats

__all__ = [
    "Alternative",
    "Contrast",
    "RelativeCI",
    "bayesian_lift",
    "confidence_sequence",
    "contrast",
    "design_effect",
]

Alternative = Literal["two-sided", "larger", "smaller"]
RelativeCI = Literal["delta", "log", "fieller"]
NAN = math.nan


@dataclass(frozen=True)
class Contrast:
    """One treatment-vs-control comparison (absolute difference and relative lift)."""

    control_value: float
    treatment_value: float
    abs_diff: float
    se: float
    df: float
    statistic: float
    p_value: float
    abs_ci: tuple[float, float]
    rel_lift: float
    rel_se: float
    rel_ci: tuple[float, float]
    deff: float
    warnings: tuple[str, ...] = field(default=())


def _welch_df(v_t: float, v_c: float, n_t: int, n_c: int) -> float:
    denominator = (v_t * v_t / (n_t - 1) if n_t > 1 else math.inf) + (v_c * v_c / (n_c - 1) if n_c > 1 else math.inf)
    return (v_t + v_c) ** 2 / denominator if denominator > 0 else NAN


def p_from_t(t: float, df: float, alternative: Alternative) -> float:
    """p-value of a t (or, with df = inf, z) statistic."""
    if math.isnan(t) or math.isnan(df):
        return NAN

    def sf(x: float) -> float:  # the plain functions are far cheaper than frozen distributions
        return float(sps.t.sf(x, df) if math.isfinite(df) else sps.norm.sf(x))

    if alternative == "larger":
        return sf(t)
    if alternative == "smaller":
        return sf(-t)
    return min(1.0, 2 * sf(abs(t)))


def _quantile(alpha: float, df: float, alternative: Alternative) -> float:
    level = 1 - alpha if alternative != "two-sided" else 1 - alpha / 2
    if math.isnan(df):
        return NAN
    return float(sps.t.ppf(level, df) if math.isfinite(df) else sps.norm.ppf(level))


def _interval(center: float, half: float, alternative: Alternative) -> tuple[float, float]:
    if alternative == "larger":
        return center - half, math.inf
    if alternative == "smaller":
        return -math.inf, center + half
    return center - half, center + half


def _fieller(a: float, b: float, v_a: float, v_b: float, q: float) -> tuple[float, float] | None:
    """Fieller interval for a/b − 1 (independent arms), or None when unbounded (control not ≠ 0)."""
    denominator = b * b - q * v_b
    if denominator <= 0:
        return None
    disc = (a * b) ** 2 - denominator * (a * a - q * v_a)
    if disc < 0:
        return None
    root = math.sqrt(disc)
    return (a * b - root) / denominator - 1, (a * b + root) / denominator - 1


def design_effect(control: GroupStats, treatment: GroupStats, variance: float) -> float:
    """Var(delta-method difference) / Var(naive pooled-impression binomial difference).

    Meaningful for rates of counts per impression (0 ≤ M ≤ D); NaN for means or out-of-range rates.
    """
    naive = 0.0
    for g in (control, treatment):
        p = g.ratio
        if not (0 <= p <= 1) or g.sum_d <= 0 or g.sum_d == g.n:
            return NAN
        naive += p * (1 - p) / g.sum_d
    return variance / naive if naive > 0 else NAN


def contrast(
    control: GroupStats,
    treatment: GroupStats,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    relative_ci: RelativeCI = "delta",
    ratio: bool = True,
) -> Contrast:
    """Compare two groups' ratios (or means) by the delta method with a Welch–Satterthwaite t reference.

    The p-value is computed on the same scale as the relative interval, so the verdict never contradicts the
    interval: on the relative lift by the delta method (GrowthBook's default), on the log ratio for
    ``"log"``, and on the absolute difference for ``"fieller"`` (Fieller's interval excludes 0 exactly when
    the absolute Welch test rejects).
    """
    warnings: list[str] = []
    for name, g in (("control", control), ("treatment", treatment)):
        if g.n < 2:
            warnings.append(f"{name} has {g.n} tweet(s): no variance, no test")
        elif g.unit_variance == 0:
            warnings.append(f"{name} has zero variance across tweets")
    r_c, r_t = control.ratio, treatment.ratio
    v_c, v_t = control.variance, treatment.variance
    diff, variance = r_t - r_c, v_t + v_c
    se = math.sqrt(variance) if variance > 0 else NAN
    df = _welch_df(v_t, v_c, treatment.n, control.n) if variance > 0 else NAN
    t = diff / se if se > 0 else NAN
    quantile = _quantile(alpha, df, alternative)
    abs_ci = _interval(diff, quantile * se, alternative) if se > 0 else (NAN, NAN)
    lift = r_t / r_c - 1 if r_c else NAN
    rel_se = math.sqrt(v_t / r_c**2 + r_t**2 * v_c / r_c**4) if r_c and variance > 0 else NAN
    rel_ci = _relative_interval(r_t, r_c, v_t, v_c, lift, rel_se, quantile, alternative, relative_ci, warnings)
    deff = design_effect(control, treatment, variance) if ratio else NAN
    statistic = _scaled_statistic(relative_ci, t, lift, rel_se, r_t, r_c, v_t, v_c)
    p = p_from_t(statistic, df, alternative)
    return Contrast(r_c, r_t, diff, se, df, statistic, p, abs_ci, lift, rel_se, rel_ci, deff, tuple(warnings))


def _scaled_statistic(
    method: RelativeCI, t_abs: float, lift: float, rel_se: float, r_t: float, r_c: float, v_t: float, v_c: float
) -> float:
    if method == "fieller":
        return t_abs
    if method == "log":
        if r_t <= 0 or r_c <= 0 or not (v_t + v_c > 0):
            return NAN
        return math.log(r_t / r_c) / math.sqrt(v_t / r_t**2 + v_c / r_c**2)
    return lift / rel_se if rel_se > 0 else NAN


def _relative_interval(
    r_t: float,
    r_c: float,
    v_t: float,
    v_c: float,
    lift: float,
    rel_se: float,
    quantile: float,
    alternative: Alternative,
    method: RelativeCI,
    warnings: list[str],
) -> tuple[float, float]:
    if math.isnan(rel_se) or math.isnan(quantile):
        return NAN, NAN
    if method == "delta":
        return _interval(lift, quantile * rel_se, alternative)
    if method == "log":
        if r_t <= 0 or r_c <= 0:
            warnings.append("log-ratio interval needs positive rates in both groups")
            return NAN, NAN
        log_se = math.sqrt(v_t / r_t**2 + v_c / r_c**2)
        low, high = _interval(math.log(r_t / r_c), quantile * log_se, alternative)
        return math.exp(low) - 1, math.exp(high) - 1
    bounds = _fieller(r_t, r_c, v_t, v_c, quantile * quantile)
    if bounds is None:
        warnings.append("Fieller interval is unbounded: the control rate is not clearly different from zero")
        return -math.inf, math.inf
    if alternative == "larger":
        return bounds[0], math.inf
    if alternative == "smaller":
        return -math.inf, bounds[1]
    return bounds


# --- Bayesian view (b6) --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BayesianLift:
    """Gaussian posterior of an effect: probability the treatment beats control, expected losses, interval."""

    mean: float
    sd: float
    chance_to_win: float
    risk_treatment: float
    risk_control: float
    credible_interval: tuple[float, float]


def bayesian_lift(
    estimate: float, se: float, *, prior_mean: float = 0.0, prior_sd: float | None = None, alpha: float = 0.05
) -> BayesianLift:
    """Posterior N(μ, σ²) of an effect estimated as ``estimate`` ± ``se`` under a flat (``prior_sd=None``) or
    normal prior. Risks are expected losses: of shipping treatment E[max(−Δ, 0)], of keeping control E[max(Δ, 0)]."""
    if not (se > 0) or math.isnan(estimate):
        return BayesianLift(NAN, NAN, NAN, NAN, NAN, (NAN, NAN))
    precision = 1 / se**2 + (1 / prior_sd**2 if prior_sd else 0.0)
    mean = (estimate / se**2 + (prior_mean / prior_sd**2 if prior_sd else 0.0)) / precision
    sd = math.sqrt(1 / precision)
    z = mean / sd
    if abs(z) > 37:
        risk_t, risk_c = max(-mean, 0.0), max(mean, 0.0)
    else:
        risk_t = sd * sps.norm.pdf(z) - mean * sps.norm.cdf(-z)
        risk_c = mean * sps.norm.cdf(z) + sd * sps.norm.pdf(z)
    half = sps.norm.ppf(1 - alpha / 2) * sd
    return BayesianLift(mean, sd, float(sps.norm.cdf(z)), float(risk_t), float(risk_c), (mean - half, mean + half))


# --- always-valid view (b5) -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfidenceSequence:
    """An always-valid interval and p-value at the current look (valid however often one peeks)."""

    estimate: float
    interval: tuple[float, float]
    p_value: float
    n: int
    tuning: float


def confidence_sequence(
    estimate: float,
    se: float,
    n: int,
    *,
    alpha: float = 0.05,
    tuning: float = 5000,
    null: float = 0.0,
    alternative: Alternative = "two-sided",
) -> ConfidenceSequence:
    """Normal-mixture confidence sequence (Waudby-Smith et al. 2021; GrowthBook's sequential test).

    ``n`` is the number of tweets in both arms at this look; ``tuning`` (N*) is the sample size at which the
    sequence is tightest (GrowthBook's default 5000).
    """
    if not (se > 0) or n < 2:
        return ConfidenceSequence(estimate, (NAN, NAN), NAN, n, tuning)
    a = alpha if alternative == "two-sided" else 2 * alpha
    rho2 = (-2 * math.log(a) + math.log(-2 * math.log(a) + 1)) / tuning
    s2 = se * se * n
    spread = 2 * (n * rho2 + 1) / (n * n * rho2)
    if alternative == "two-sided":
        half = math.sqrt(s2 * spread * math.log(math.sqrt(n * rho2 + 1) / alpha))
    else:
        half = math.sqrt(s2 * spread * math.log(1 + math.sqrt(n * rho2 + 1) / (2 * alpha)))
    s_stat = (estimate - null) ** 2 * n / (se * se)
    exponent = rho2 * s_stat / (2 * (n * rho2 + 1))
    e_value = math.exp(min(exponent, 700)) / math.sqrt(n * rho2 + 1)
    return ConfidenceSequence(estimate, _interval(estimate, half, alternative), min(1.0, 1 / e_value), n, tuning)
