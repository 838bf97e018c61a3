"""Planning: power, minimum detectable effect and tweets needed, for ratio metrics from a pilot's per-tweet
variance; R-compatible power for proportions and t-tests; and the sample-ratio-mismatch check on tweets."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy import stats as sps

from ..errors import StatsInputError
from .sufficient import GroupStats

__all__ = [
    "SRMResult",
    "mde",
    "power_curve",
    "power_prop_test",
    "power_ratio",
    "power_t_test",
    "sample_size_prop_test",
    "sample_size_ratio",
    "sample_size_t_test",
    "srm_check",
]


def _z(q: float) -> float:
    return float(sps.norm.ppf(q))


def _check_rates(alpha: float, power: float | None = None) -> None:
    if not 0 < alpha < 1 or (power is not None and not 0 < power < 1):
        raise StatsInputError(f"alpha and power must be between 0 and 1, got alpha={alpha}, power={power}")


# --- R parity: power.prop.test and power.t.test (two-sample, two-sided) ---------------------------------


def power_prop_test(n: float, p1: float, p2: float, *, alpha: float = 0.05, strict: bool = False) -> float:
    """Power of the two-proportion test with n per group (R ``power.prop.test``)."""
    _check_rates(alpha)
    q1, q2 = 1 - p1, 1 - p2
    pbar, qbar = (p1 + p2) / 2, (q1 + q2) / 2
    z = _z(1 - alpha / 2)
    scale = math.sqrt(p1 * q1 + p2 * q2)
    power = sps.norm.cdf((math.sqrt(n) * abs(p1 - p2) - z * math.sqrt(2 * pbar * qbar)) / scale)
    if strict:
        power += sps.norm.cdf((-math.sqrt(n) * abs(p1 - p2) - z * math.sqrt(2 * pbar * qbar)) / scale)
    return float(power)


def sample_size_prop_test(p1: float, p2: float, *, power: float = 0.8, alpha: float = 0.05) -> float:
    """Per-group n for the two-proportion test (R ``power.prop.test(power=...)``)."""
    _check_rates(alpha, power)
    return float(optimize.brentq(lambda n: power_prop_test(n, p1, p2, alpha=alpha) - power, 2, 1e9, xtol=1e-10))


def power_t_test(n: float, delta: float, sd: float = 1.0, *, alpha: float = 0.05, strict: bool = False) -> float:
    """Power of the two-sample t-test with n per group (R ``power.t.test``, noncentral t)."""
    _check_rates(alpha)
    df = 2 * (n - 1)
    ncp = math.sqrt(n / 2) * delta / sd
    crit = sps.t.ppf(1 - alpha / 2, df)
    power = sps.nct.sf(crit, df, ncp)
    if strict:
        power += sps.nct.cdf(-crit, df, ncp)
    return float(power)


def sample_size_t_test(delta: float, sd: float = 1.0, *, power: float = 0.8, alpha: float = 0.05) -> float:
    """Per-group n for the two-sample t-test (R ``power.t.test(power=...)``)."""
    _check_rates(alpha, power)
    return float(optimize.brentq(lambda n: power_t_test(n, delta, sd, alpha=alpha) - power, 2, 1e9, xtol=1e-10))


# --- ratio metrics from a pilot ------------------------------------------------------------------------


def _pilot(pilot: GroupStats) -> tuple[float, float]:
    mu, sigma2 = pilot.ratio, pilot.unit_variance
    if pilot.n < 2 or not (sigma2 > 0) or not mu:
        raise StatsInputError(
            f"the pilot needs at least 2 tweets with varying values and a non-zero rate (n={pilot.n})"
        )
    return mu, sigma2


def power_ratio(pilot: GroupStats, n_per_arm: float, relative_lift: float, *, alpha: float = 0.05) -> float:
    """Power to detect a relative lift with n tweets per arm (two-sided), using the pilot's per-tweet variance.

    Normal approximation with the relative-lift variance of both arms (equal per-tweet variance assumed).
    """
    mu, sigma2 = _pilot(pilot)
    v = sigma2 / n_per_arm
    se = math.sqrt(v / mu**2 + (1 + relative_lift) ** 2 * v / mu**2)
    z = abs(relative_lift) / se
    return float(sps.norm.cdf(z - _z(1 - alpha / 2)) + sps.norm.cdf(-z - _z(1 - alpha / 2)))


def sample_size_ratio(pilot: GroupStats, relative_lift: float, *, power: float = 0.8, alpha: float = 0.05) -> float:
    """Tweets per arm needed to detect ``relative_lift`` (e.g. 0.1 for +10%) with the given power."""
    _check_rates(alpha, power)
    if relative_lift == 0:
        raise StatsInputError("a lift of 0 cannot be detected; give the smallest lift worth finding, e.g. 0.1")
    return float(optimize.brentq(lambda n: power_ratio(pilot, n, relative_lift, alpha=alpha) - power, 2, 1e12))


@dataclass(frozen=True)
class MDE:
    """Minimum detectable effect with n tweets per arm: absolute and relative (upward)."""

    n_per_arm: float
    baseline: float
    absolute: float
    relative: float


def mde(pilot: GroupStats, n_per_arm: float, *, power: float = 0.8, alpha: float = 0.05) -> MDE:
    """Smallest effect detectable with n tweets per arm. The relative MDE solves GrowthBook's quadratic, which
    accounts for the control's variance in the lift; it is NaN when n is too small for any lift."""
    _check_rates(alpha, power)
    mu, sigma2 = _pilot(pilot)
    k = _z(1 - alpha / 2) + _z(power)
    v = sigma2 / n_per_arm
    absolute = k * math.sqrt(2 * v)
    a = 1 - v * k * k / mu**2
    disc = mu**2 - a * (mu**2 - k * k * v)
    relative = (mu + math.sqrt(disc)) / a / mu - 1 if a > 0 and disc >= 0 else math.nan
    return MDE(n_per_arm, mu, absolute, relative)


# --- sample-ratio mismatch --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SRMResult:
    """Chi-square goodness of fit of tweets per arm against the planned split."""

    statistic: float
    p_value: float
    observed: dict[str, int]
    expected: dict[str, float]
    mismatch: bool


def srm_check(
    tweets_per_arm: Mapping[str, int],
    weights: Mapping[str, float] | Sequence[float] | None = None,
    *,
    threshold: float = 0.001,
) -> SRMResult:
    """Was randomisation honoured? Compare tweets per arm (units, never impressions) with the planned weights.

    Only meaningful when assignment was randomised. Arms with zero weight are left out, as GrowthBook does.
    """
    names = list(tweets_per_arm)
    observed = np.array([tweets_per_arm[k] for k in names], float)
    if (observed < 0).any() or (observed != np.round(observed)).any():
        raise StatsInputError(f"tweets_per_arm must hold whole, non-negative tweet counts, got {dict(tweets_per_arm)}")
    if weights is None:
        w = np.ones(len(names))
    elif isinstance(weights, Mapping):
        unknown = [k for k in weights if k not in tweets_per_arm]
        if unknown:
            raise StatsInputError(f"weights name arm(s) {unknown} that are not in tweets_per_arm ({names})")
        w = np.array([weights.get(k, 0.0) for k in names], float)
    else:
        w = np.asarray(weights, float)
        if w.shape != (len(names),):
            raise StatsInputError(
                f"weights has {w.size} value(s) but tweets_per_arm has {len(names)} arm(s) ({names}); give one weight "
                "per arm in the same order, or a mapping such as {'A': 0.5, 'B': 0.5}"
            )
    if (w < 0).any() or not np.isfinite(w).all():
        raise StatsInputError(f"weights must be finite and non-negative, got {w.tolist()}")
    keep = w > 0
    if keep.sum() < 2 or observed[keep].sum() == 0:
        return SRMResult(math.nan, 1.0, dict(zip(names, observed.astype(int).tolist(), strict=True)), {}, False)
    expected = w[keep] / w[keep].sum() * observed[keep].sum()
    statistic = float(((observed[keep] - expected) ** 2 / expected).sum())
    p = float(sps.chi2.sf(statistic, keep.sum() - 1))
    kept = [n for n, k in zip(names, keep, strict=True) if k]
    return SRMResult(
        statistic,
        p,
        {n: int(o) for n, o in zip(kept, observed[keep], strict=True)},
        dict(zip(kept, expected.tolist(), strict=True)),
        p < threshold,
    )


def power_curve(
    pilot: GroupStats, lifts: Sequence[float], *, power: float = 0.8, alpha: float = 0.05
) -> list[dict[str, float]]:
    """Tweets per arm needed for each relative lift (rows ``lift``, ``n_per_arm``), e.g. for a power chart."""
    return [
        {"lift": float(lift), "n_per_arm": sample_size_ratio(pilot, lift, power=power, alpha=alpha)} for lift in lifts
    ]
