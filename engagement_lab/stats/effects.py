"""Treatment vs control from sufficient statistics: the delta method with a Welch reference (with plain or
leverage-corrected variances), relative-lift intervals (delta, log-ratio, Fieller) and the design effect against
the naive impression-level test. The Bayesian and always-valid views of the same effect are in :mod:`.views`.

Formulas: ``shared/spec/stats-methods.md`` §b1, b2. Degenerate inputs give NaN and a warning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from scipy import special

from ..errors import check_choice
from .notes import Note, untestable
from .sufficient import GroupStats

__all__ = [
    "ALTERNATIVES",
    "RELATIVE_CIS",
    "Alternative",
    "Contrast",
    "RelativeCI",
    "Variance",
    "check_alternative",
    "contrast",
    "design_effect",
]

Alternative = Literal["two-sided", "greater", "less"]
ALTERNATIVES: tuple[Alternative, ...] = ("two-sided", "greater", "less")
_ALIASES: dict[str, Alternative] = {"larger": "greater", "smaller": "less"}  # statsmodels' spelling
RelativeCI = Literal["delta", "log", "fieller"]
RELATIVE_CIS: tuple[RelativeCI, ...] = ("delta", "log", "fieller")
Variance = Literal["hc0", "hc3"]
"""The delta method's variance of each arm's ratio: from the plain residuals (HC0: the peers' formula), or with each
tweet's residual scaled up by its leverage (HC3), with degrees of freedom that fall as impressions concentrate."""
NAN = math.nan
_FLAT = 1e-7
"""An arm whose per-tweet spread is below this fraction of its typical value has (numerically) no variance: far above
what rounding leaves of an exactly constant rate, far below any real variation."""
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
    rel_scale: RelativeCI = "delta"
    """The scale ``rel_se`` is on: the lift itself (``"delta"``), its logarithm (``"log"``), or Fieller's."""
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


def _welch_df(v_t: float, v_c: float, df_t: float, df_c: float) -> float:
    """Welch–Satterthwaite degrees of freedom of v_t + v_c, each with its own (n − 1, or the leverage df)."""
    denominator = (v_t * v_t / df_t if df_t > 0 else math.inf) + (v_c * v_c / df_c if df_c > 0 else math.inf)
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
    typical = math.sqrt(g.sum_mm / g.n) / abs(g.mean_d)  # n >= 2 and a denominator: both checked above
    spread = g.residual_variance / (g.mean_d * g.mean_d) if g.leveraged else g.unit_variance  # centred when known
    if not typical or not spread > (_FLAT * typical) ** 2:
        what = "every tweet has 0" if not typical else "every tweet has the same rate"
        return f"{name} has no variation between tweets ({what}): its uncertainty cannot be estimated"
    return None


def contrast(
    control: GroupStats,
    treatment: GroupStats,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    relative_ci: RelativeCI | None = None,
    ratio: bool = True,
    variance: Variance = "hc0",
) -> Contrast:
    """Compare two groups' ratios (or means) by the delta method with a Welch–Satterthwaite t reference.

    ``variance="hc0"`` is the peers' delta method (GrowthBook, tea-tasting): each arm's variance from its plain
    residuals, n − 1 degrees of freedom. ``"hc3"`` scales each tweet's residual by its leverage 1/(1 − u) (u its
    share of the arm's denominator) and takes each arm's degrees of freedom from how concentrated those shares
    are (:attr:`GroupStats.df_leverage`): it holds its false-alarm rate and coverage where a few tweets carry most
    of the impressions, which HC0 does not (``benchmarks/calibration.py``).

    Two p-values are returned, each matching its own interval: ``p_value_abs`` tests the absolute difference
    (Welch t; it rejects exactly when the absolute interval excludes 0) and ``p_value_rel`` tests the relative
    lift on the scale of the relative interval (``relative_ci``; default ``"delta"`` with HC0, ``"log"`` with
    HC3): by the delta method (GrowthBook's default), on the log ratio for ``"log"`` (with the degrees of freedom
    of the log-scale variances), and for ``"fieller"`` the absolute test (Fieller's interval excludes 0 exactly
    when it rejects). The two can differ near the threshold because the relative scale adds the control's
    uncertainty as a denominator. An arm with fewer than 2 tweets or no variation gives NaN everywhere
    (``testable=False``) and says why; a control value of 0 leaves the relative lift undefined.
    """
    alternative = check_alternative(alternative)
    variance = check_choice("variance", variance, ("hc0", "hc3"))
    default: RelativeCI = "log" if variance == "hc3" else "delta"
    relative_ci = check_choice("relative_ci", relative_ci or default, RELATIVE_CIS)
    reasons = [r for r in (flat_reason("control", control), flat_reason("treatment", treatment)) if r]
    r_c, r_t = control.ratio, treatment.ratio
    if reasons:
        return Contrast.untestable(r_c, r_t, reasons)
    (v_c, df_c), (v_t, df_t) = (_arm_variance(g, variance) for g in (control, treatment))
    unknown = [name for name, v in (("control", v_c), ("treatment", v_t)) if not math.isfinite(v)]
    if unknown:
        return Contrast.untestable(r_c, r_t, [_no_leverage_room(name) for name in unknown])
    notes: list[Note] = []
    diff, var = r_t - r_c, v_t + v_c
    se = math.sqrt(var)
    df = _welch_df(v_t, v_c, df_t, df_c)
    t = diff / se
    quantile = _quantile(alpha, df, alternative)
    abs_ci = _interval(diff, quantile * se, alternative)
    p_abs = p_from_t(t, df, alternative)
    lift, rel_se, rel_ci, p_rel = NAN, NAN, (NAN, NAN), NAN
    if r_c:
        lift = r_t / r_c - 1
        if relative_ci == "log":
            rel_se, rel_ci, p_rel = _log_scale(r_t, r_c, v_t, v_c, (df_t, df_c), alpha, alternative, notes)
        else:
            rel_se = math.sqrt(v_t / r_c**2 + r_t**2 * v_c / r_c**4)
            rel_ci = _relative_interval(r_t, r_c, v_t, v_c, lift, rel_se, quantile, alternative, relative_ci, notes)
            statistic = _scaled_statistic(relative_ci, t, lift, rel_se, r_t, r_c, v_t, v_c)
            unbounded = math.isinf(rel_ci[0]) and math.isinf(rel_ci[1])  # Fieller: the lift is not estimable
            p_rel = NAN if unbounded else p_from_t(statistic, df, alternative)
    else:
        notes.append(ZERO_CONTROL)
    return Contrast(
        control_value=r_c, treatment_value=r_t, abs_diff=diff, se=se, df=df, statistic=t, p_value_abs=p_abs,
        abs_ci=abs_ci, rel_lift=lift, rel_se=rel_se, rel_ci=rel_ci, p_value_rel=p_rel,
        deff=design_effect(control, treatment, var) if ratio else NAN, notes=tuple(notes), rel_scale=relative_ci,
    )  # fmt: skip


def _arm_variance(g: GroupStats, variance: Variance) -> tuple[float, float]:
    """An arm's variance of its ratio and the degrees of freedom it carries."""
    if variance == "hc3":
        return g.variance_hc3, g.df_leverage
    return g.variance, g.n - 1.0


def _no_leverage_room(name: str) -> str:
    return (
        f"one of the {name}'s tweets carries all of its denominator (the others have none), so its variance "
        "cannot be estimated"
    )


def _log_scale(
    r_t: float, r_c: float, v_t: float, v_c: float, dfs: tuple[float, float], alpha: float,
    alternative: Alternative, notes: list[Note],
) -> tuple[float, tuple[float, float], float]:  # fmt: skip
    """The log ratio's standard error, the lift interval from it and its p-value, with the Welch degrees of freedom
    of the log-scale variances (the relative scale's own, not the absolute difference's)."""
    if r_t <= 0 or r_c <= 0:
        notes.append(LOG_NEEDS_POSITIVE)
        return NAN, (NAN, NAN), NAN
    a, b = v_t / r_t**2, v_c / r_c**2
    log_se = math.sqrt(a + b)
    df = _welch_df(a, b, *dfs)
    estimate = math.log(r_t / r_c)
    low, high = _interval(estimate, _quantile(alpha, df, alternative) * log_se, alternative)
    return log_se, (math.exp(low) - 1, math.exp(high) - 1), p_from_t(estimate / log_se, df, alternative)


def _scaled_statistic(
    method: RelativeCI, t_abs: float, lift: float, rel_se: float, r_t: float, r_c: float, v_t: float, v_c: float
) -> float:
    if method == "fieller":
        return t_abs
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
    bounds = _fieller(r_t, r_c, v_t, v_c, quantile * quantile)
    if bounds is None:
        notes.append(FIELLER_UNBOUNDED)
        return -math.inf, math.inf
    if alternative == "greater":
        return bounds[0], math.inf
    if alternative == "less":
        return -math.inf, bounds[1]
    return bounds
