"""Treatment vs control from sufficient statistics: the delta method with a Welch reference, relative-lift
intervals (delta, log-ratio, Fieller), the design effect against the naive impression-level test, and the
Bayesian and always-valid (sequential) views of the same effect.

Formulas: ``shared/spec/stats-methods.md`` §b1, b2, b5, b6. Degenerate inputs give NaN and a warning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

from scipy import special
from scipy import stats as sps
from scipy.optimize import brentq, minimize_scalar

from ..errors import StatsInputError, check_choice
from .notes import Note, untestable
from .sufficient import GroupStats

__all__ = [
    "ALTERNATIVES",
    "RELATIVE_CIS",
    "Alternative",
    "Contrast",
    "RelativeCI",
    "bayesian_lift",
    "check_alternative",
    "confidence_sequence",
    "contrast",
    "design_effect",
]

Alternative = Literal["two-sided", "greater", "less"]
ALTERNATIVES: tuple[Alternative, ...] = ("two-sided", "greater", "less")
_ALIASES: dict[str, Alternative] = {"larger": "greater", "smaller": "less"}  # statsmodels' spelling
RelativeCI = Literal["delta", "log", "fieller"]
RELATIVE_CIS: tuple[RelativeCI, ...] = ("delta", "log", "fieller")
NAN = math.nan
_FLAT = 1e-9
"""An arm whose per-tweet spread is below this fraction of its typical value has (numerically) no variance."""
ZERO_CONTROL = Note(
    "zero_control", "the control value is 0, so a relative lift is undefined; judge the absolute difference"
)
LOG_NEEDS_POSITIVE = Note("interval", "log-ratio interval needs positive rates in both groups")
FIELLER_UNBOUNDED = Note(
    "interval",
    "Fieller interval is unbounded: the control rate is not clearly different from zero, so the relative lift "
    "cannot be tested; judge the absolute difference",
)


def check_alternative(alternative: object) -> Alternative:
    """scipy's names (``"two-sided"``, ``"greater"``, ``"less"``: treatment vs control); statsmodels'
    ``"larger"``/``"smaller"`` are accepted as the same; anything else is refused with a suggestion."""
    if isinstance(alternative, str) and alternative in _ALIASES:
        return _ALIASES[alternative]
    return check_choice("alternative", alternative, ALTERNATIVES)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Contrast:
    """One treatment-vs-control comparison (absolute difference and relative lift)."""

    control_value: float
    treatment_value: float
    abs_diff: float
    se: float
    df: float
    statistic: float
    p_value_abs: float
    abs_ci: tuple[float, float]
    rel_lift: float
    rel_se: float
    rel_ci: tuple[float, float]
    p_value_rel: float
    deff: float
    notes: tuple[Note, ...] = ()
    """What the numbers need said beside them (``warnings`` has them as text)."""
    testable: bool = True
    """False when the data cannot support any test (an arm with fewer than 2 tweets or no variance)."""

    @classmethod
    def untestable(cls, control_value: float, treatment_value: float, reasons: Sequence[str]) -> Contrast:
        """A contrast no test can be made of: the two values and their gaps, NaN for every statistic, and the
        reasons as ``"untestable"`` notes."""
        return cls(
            control_value=control_value, treatment_value=treatment_value, abs_diff=treatment_value - control_value,
            se=NAN, df=NAN, statistic=NAN, p_value_abs=NAN, abs_ci=(NAN, NAN),
            rel_lift=treatment_value / control_value - 1 if control_value else NAN, rel_se=NAN, rel_ci=(NAN, NAN),
            p_value_rel=NAN, deff=NAN, notes=tuple(untestable(r) for r in reasons), testable=False,
        )  # fmt: skip

    @property
    def warnings(self) -> tuple[str, ...]:
        """The notes as text (``"cannot test: ..."`` for each reason no test was possible)."""
        return tuple(str(note) for note in self.notes)


def _welch_df(v_t: float, v_c: float, n_t: int, n_c: int) -> float:
    denominator = (v_t * v_t / (n_t - 1) if n_t > 1 else math.inf) + (v_c * v_c / (n_c - 1) if n_c > 1 else math.inf)
    return (v_t + v_c) ** 2 / denominator if denominator > 0 else NAN


def p_from_t(t: float, df: float, alternative: Alternative) -> float:
    """p-value of a t (or, with df = inf, z) statistic."""
    if math.isnan(t) or math.isnan(df) or df <= 0:
        return NAN

    def sf(x: float) -> float:
        # scipy.special's functions are what sps.t.sf / sps.norm.sf evaluate, without their argument handling
        return float(special.stdtr(df, -x) if math.isfinite(df) else special.ndtr(-x))

    if alternative == "greater":
        return sf(t)
    if alternative == "less":
        return sf(-t)
    return min(1.0, 2 * sf(abs(t)))


def _quantile(alpha: float, df: float, alternative: Alternative) -> float:
    level = 1 - alpha if alternative != "two-sided" else 1 - alpha / 2
    if math.isnan(df) or df <= 0:
        return NAN
    return float(special.stdtrit(df, level) if math.isfinite(df) else special.ndtri(level))


def _interval(center: float, half: float, alternative: Alternative) -> tuple[float, float]:
    if alternative == "greater":
        return center - half, math.inf
    if alternative == "less":
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


def flat_reason(name: str, g: GroupStats) -> str | None:
    """Why an arm cannot enter a test (too few tweets, or no variation between tweets), else None.

    Variation is judged relative to the arm's typical per-tweet value, so constant rates that differ only by
    rounding (a variance of 1e-35 instead of 0) count as constant.
    """
    if g.n < 2:
        return f"{name} has {g.n} tweet(s): a test needs at least 2 per group"
    if not g.sum_d:
        return f"{name} has a zero denominator total: its rate is undefined"
    typical = math.sqrt(g.sum_mm / g.n) / abs(g.mean_d) if g.n else 0.0
    if not typical or not g.unit_variance > (_FLAT * typical) ** 2:
        what = "every tweet has 0" if not typical else "every tweet has the same rate"
        return f"{name} has no variation between tweets ({what}): its uncertainty cannot be estimated"
    return None


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

    Two p-values are returned, each matching its own interval: ``p_value_abs`` tests the absolute difference
    (Welch t; it rejects exactly when the absolute interval excludes 0) and ``p_value_rel`` tests the relative
    lift on the scale of the relative interval: by the delta method (GrowthBook's default), on the log ratio
    for ``"log"``, and for ``"fieller"`` the absolute test (Fieller's interval excludes 0 exactly when it
    rejects). The two can differ near the threshold because the relative scale adds the control's
    uncertainty as a denominator. An arm with fewer than 2 tweets or no variation gives NaN everywhere
    (``testable=False``) and says why; a control value of 0 leaves the relative lift undefined.
    """
    alternative = check_alternative(alternative)
    relative_ci = check_choice("relative_ci", relative_ci, RELATIVE_CIS)
    reasons = [r for r in (flat_reason("control", control), flat_reason("treatment", treatment)) if r]
    r_c, r_t = control.ratio, treatment.ratio
    if reasons:
        return Contrast.untestable(r_c, r_t, reasons)
    notes: list[Note] = []
    v_c, v_t = control.variance, treatment.variance
    diff, variance = r_t - r_c, v_t + v_c
    se = math.sqrt(variance)
    df = _welch_df(v_t, v_c, treatment.n, control.n)
    t = diff / se
    quantile = _quantile(alpha, df, alternative)
    abs_ci = _interval(diff, quantile * se, alternative)
    p_abs = p_from_t(t, df, alternative)
    if r_c:
        lift = r_t / r_c - 1
        rel_se = math.sqrt(v_t / r_c**2 + r_t**2 * v_c / r_c**4)
        rel_ci = _relative_interval(r_t, r_c, v_t, v_c, lift, rel_se, quantile, alternative, relative_ci, notes)
        statistic = _scaled_statistic(relative_ci, t, lift, rel_se, r_t, r_c, v_t, v_c)
        unbounded = math.isinf(rel_ci[0]) and math.isinf(rel_ci[1])  # Fieller: the lift is not estimable
        p_rel = NAN if unbounded else p_from_t(statistic, df, alternative)
    else:
        lift, rel_se, rel_ci, statistic, p_rel = NAN, NAN, (NAN, NAN), NAN, NAN
        notes.append(ZERO_CONTROL)
    return Contrast(
        control_value=r_c, treatment_value=r_t, abs_diff=diff, se=se, df=df, statistic=t, p_value_abs=p_abs,
        abs_ci=abs_ci, rel_lift=lift, rel_se=rel_se, rel_ci=rel_ci, p_value_rel=p_rel,
        deff=design_effect(control, treatment, variance) if ratio else NAN, notes=tuple(notes),
    )  # fmt: skip


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
    notes: list[Note],
) -> tuple[float, float]:
    if math.isnan(rel_se) or math.isnan(quantile):
        return NAN, NAN
    if method == "delta":
        return _interval(lift, quantile * rel_se, alternative)
    if method == "log":
        if r_t <= 0 or r_c <= 0:
            notes.append(LOG_NEEDS_POSITIVE)
            return NAN, NAN
        log_se = math.sqrt(v_t / r_t**2 + v_c / r_c**2)
        low, high = _interval(math.log(r_t / r_c), quantile * log_se, alternative)
        return math.exp(low) - 1, math.exp(high) - 1
    bounds = _fieller(r_t, r_c, v_t, v_c, quantile * quantile)
    if bounds is None:
        notes.append(FIELLER_UNBOUNDED)
        return -math.inf, math.inf
    if alternative == "greater":
        return bounds[0], math.inf
    if alternative == "less":
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


_ONE_SIDED_RANGE = (1e-12, 0.5 - 1e-9)
"""One-sided levels searched when inverting the sequence (2α must stay below 1 for ρ² > 0)."""


def _one_sided_p(distance: float, se: float, n: int, tuning: float) -> float:
    """The smallest α at which the one-sided sequence excludes the null (``distance``: how far the estimate
    lies beyond the null in the tested direction). Because ρ is tuned to α, the half-width falls with α only
    up to a minimum (near α = 0.2 for n ≪ N*) and grows again towards 0.5, so the narrowest α is found first
    and the crossing is bisected below it. 1.0 when no α < 0.5 excludes the null."""
    low, high = _ONE_SIDED_RANGE
    width = partial(_half_width, se, n, tuning=tuning, two_sided=False)
    narrowest = float(minimize_scalar(width, bounds=(low, high), method="bounded", options={"xatol": 1e-10}).x)
    if distance <= 0 or width(narrowest) >= distance:
        return 1.0
    if width(low) < distance:
        return low
    return float(brentq(lambda a: width(a) - distance, low, narrowest, xtol=1e-15))


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
        p = _one_sided_p(distance, se, n, tuning)
    return ConfidenceSequence(estimate, _interval(estimate, half, alternative), p, n, tuning)
