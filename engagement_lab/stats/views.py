"""The Bayesian and always-valid (sequential) views of one effect, from its estimate and standard error.

Formulas: ``shared/spec/stats-methods.md`` §b5, b6.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as sps

from ..errors import StatsInputError
from .effects import NAN, Alternative, _interval, check_alternative

__all__ = ["BayesianLift", "ConfidenceSequence", "bayesian_lift", "bayesian_lift_on_log", "confidence_sequence"]


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


def bayesian_lift_on_log(
    log_ratio: float, se: float, *, prior_mean: float = 0.0, prior_sd: float | None = None, alpha: float = 0.05
) -> BayesianLift:
    """The posterior of a relative lift estimated on the log scale (log ratio ± ``se``, normal), reported as a
    lift: the posterior median exp(μ) − 1, the credible interval's ends transformed the same way, and the expected
    losses of the lift itself (exp(L) − 1 with L ~ N(μ, σ²), from the lognormal's partial expectations).
    ``prior_mean`` is a lift; ``prior_sd`` is on the log ratio (about the lift's for small lifts)."""
    post = bayesian_lift(log_ratio, se, prior_mean=math.log1p(prior_mean), prior_sd=prior_sd, alpha=alpha)
    mu, sd = post.mean, post.sd
    if not (sd > 0) or math.isnan(mu):
        return post
    z, grown = mu / sd, math.exp(min(mu + sd * sd / 2, 700))
    risk_treatment = float(sps.norm.cdf(-z) - grown * sps.norm.cdf(-z - sd))  # E[(1 - exp(L))+]
    risk_control = float(grown * sps.norm.cdf(z + sd) - sps.norm.cdf(z))  # E[(exp(L) - 1)+]
    low, high = post.credible_interval
    return BayesianLift(
        math.expm1(mu),
        math.exp(mu) * sd,
        post.chance_to_win,
        max(risk_treatment, 0.0),
        max(risk_control, 0.0),
        (math.expm1(low), math.expm1(high)),
    )


# --- always-valid view (b5) -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfidenceSequence:
    """An always-valid interval and p-value at the current look (valid however often one peeks)."""

    estimate: float
    interval: tuple[float, float]
    p_value: float
    n: int
    tuning: float


def _rho2(alpha: float, tuning: float, two_sided: bool) -> float:
    a = alpha if two_sided else 2 * alpha  # eq. 161 uses 2α for one-sided sequences
    return (-2 * math.log(a) + math.log(-2 * math.log(a) + 1)) / tuning


def _half_width(se: float, n: int, alpha: float, *, tuning: float, two_sided: bool) -> float:
    """Half-width of the two-sided (eq. 9) or one-sided (eq. 134) normal-mixture sequence at this look."""
    rho2 = _rho2(alpha, tuning, two_sided)
    s2 = se * se * n
    spread = 2 * (n * rho2 + 1) / (n * n * rho2)
    if two_sided:
        return math.sqrt(s2 * spread * math.log(math.sqrt(n * rho2 + 1) / alpha))
    return math.sqrt(s2 * spread * math.log(1 + math.sqrt(n * rho2 + 1) / (2 * alpha)))


def _one_sided_p(distance: float, se: float, n: int, alpha: float, tuning: float) -> float:
    """The smallest level at which the one-sided sequence, its mixture ρ tuned to the test's ``alpha`` and kept
    there, excludes the null (``distance``: how far the estimate lies beyond it in the tested direction). With ρ
    fixed the half-width falls steadily as the level grows, so the crossing has a closed form (gbstats finds the
    same by bisection); the p-value is below ``alpha`` exactly when the sequence at ``alpha`` excludes the null."""
    if distance <= 0:
        return 1.0
    rho2 = _rho2(alpha, tuning, two_sided=False)
    spread = 2 * (n * rho2 + 1) / (n * n * rho2)
    exponent = distance * distance / (se * se * n * spread)
    if exponent > 700:
        return 0.0
    return min(1.0, math.sqrt(n * rho2 + 1) / (2 * math.expm1(exponent)))


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
    sequence is tightest (GrowthBook's default 5000). Two-sided: the interval of eq. 9 and the always-valid p
    of eq. 155. One-sided (``"greater"``/``"less"``): the interval of eq. 134 with one infinite end, and the p
    that inverts it, i.e. the smallest α whose one-sided sequence excludes ``null`` (as gbstats finds it by
    bisection), so the p-value and the interval always agree.
    """
    alternative = check_alternative(alternative)
    if not 0 < alpha < 0.5 or not tuning > 0:
        raise StatsInputError(f"alpha must be in (0, 0.5) and tuning > 0, got alpha={alpha}, tuning={tuning}")
    if not (se > 0) or n < 2 or math.isnan(estimate):
        return ConfidenceSequence(estimate, (NAN, NAN), NAN, n, tuning)
    two_sided = alternative == "two-sided"
    half = _half_width(se, n, alpha, tuning=tuning, two_sided=two_sided)
    if two_sided:
        rho2 = _rho2(alpha, tuning, True)
        s_stat = (estimate - null) ** 2 * n / (se * se)
        exponent = rho2 * s_stat / (2 * (n * rho2 + 1))
        p = min(1.0, math.sqrt(n * rho2 + 1) / math.exp(min(exponent, 700)))
    else:
        distance = estimate - null if alternative == "greater" else null - estimate
        p = _one_sided_p(distance, se, n, alpha, tuning)
    return ConfidenceSequence(estimate, _interval(estimate, half, alternative), p, n, tuning)
