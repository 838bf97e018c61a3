"""Calibration of the adjusted comparison (``compare(adjust_for=[...])``) on confounded brands of 1,000 accounts.

A *brand* is a fixed history of tweets: each tweet's account, posting hour and weekday, impressions and base
engagement rate (the account's rate times the hour's and weekday's), and the chance that it is a "treatment" tweet
(a video, say), which rises with the account's rate and the hour's: content is confounded with who posts and
when, as it is in real accounts. An experiment draws ``n`` of the brand's tweets, labels each treatment with its
chance, and draws its engagements afresh around impressions × base rate × (1 + lift if treatment); the adjusted
model (account, hour of day and weekday held fixed) must then reject a lift of 0 at ``alpha`` (the A/A runs: the
unadjusted comparison, biased by the confounding, rejects far more often) and its interval must hold the lift.

The brands (:func:`brands`): over-dispersed Poisson counts (gamma noise on each tweet's rate) with impressions
lognormal σ 1; and negative-binomial counts with impressions of real exports' skew (lognormal σ 1.2). Both have
1,000 accounts of lognormal sizes, one of them ten times the median. ``benchmarks/calibration.py --adjusted``
prints the table; a slow test holds the default's band.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from ..metrics import Ratio
from .adjusted import fit_adjusted, wald
from .calibration import Cell

__all__ = ["ADJUSTED_METHODS", "Brand", "brands", "run_adjusted_cell"]

RATE = Ratio("engagements", "impressions")
COVARIATES = ["account", "hour_of_day", "weekday"]
SKEWED = "1,000 accounts, negative-binomial counts (dispersion 2), impressions lognormal σ 1.2"


@dataclass(frozen=True)
class Brand:
    """A brand's tweets: who posted each and when, its impressions, base rate and chance of being treatment."""

    name: str
    description: str
    account: np.ndarray
    hour: np.ndarray
    weekday: np.ndarray
    impressions: np.ndarray
    rate: np.ndarray
    propensity: np.ndarray
    dispersion: float | None
    """Negative-binomial dispersion of the counts, or None for gamma-Poisson (shape 5) counts."""

    @property
    def size(self) -> int:
        return len(self.rate)


def _brand(
    rng: np.random.Generator, name: str, description: str, n: int, sigma: float, dispersion: float | None
) -> Brand:
    accounts = 1_000
    sizes = rng.lognormal(0, 1.0, accounts)
    sizes[0] = 10 * np.median(sizes)
    account = rng.choice(accounts, n, p=sizes / sizes.sum())
    base = rng.lognormal(math.log(0.02), 0.6, accounts)
    hour = rng.integers(0, 24, n)
    weekday = rng.integers(0, 7, n)
    hourly = 1 + 0.4 * np.sin(hour / 24 * 2 * math.pi)
    rate = base[account] * hourly * np.where(weekday >= 5, 1.15, 1.0)
    impressions = np.round(np.exp(math.log(1500) + 0.5 * np.log(sizes[account]) + sigma * rng.standard_normal(n)))
    # treatment is likelier on accounts and at hours that engage more: the raw comparison is confounded
    logit = 0.8 * (np.log(base[account]) - math.log(0.02)) / 0.6 + 0.8 * (hourly - 1)
    return Brand(name, description, account, hour, weekday, impressions.clip(1), rate, 1 / (1 + np.exp(-logit)),
                 dispersion)  # fmt: skip


def brands(seed: int = 1) -> dict[str, Brand]:
    """The two calibration brands of 20,000 tweets each, drawn once from ``seed``."""
    rng = np.random.default_rng(seed)
    out = [
        _brand(rng, "brand", "1,000 accounts, gamma-Poisson counts, impressions lognormal σ 1", 20_000, 1.0, None),
        _brand(rng, "brand-skewed", SKEWED, 20_000, 1.2, 2.0),
    ]
    return {b.name: b for b in out}


def experiment(brand: Brand, n: int, lift: float, rng: np.random.Generator) -> pl.DataFrame:
    """``n`` of the brand's tweets, each labelled treatment with its chance, engagements drawn for ``lift``."""
    chosen = rng.choice(brand.size, n, replace=False)
    treated = rng.random(n) < brand.propensity[chosen]
    mean = brand.impressions[chosen] * brand.rate[chosen] * np.where(treated, 1 + lift, 1.0)
    if brand.dispersion is None:
        engagements = rng.poisson(mean * rng.gamma(5.0, 0.2, n))
    else:
        k = brand.dispersion
        engagements = rng.negative_binomial(k, k / (k + mean))
    return pl.DataFrame(
        {
            "content": np.where(treated, "treatment", "control"),
            "account": brand.account[chosen],
            "hour_of_day": brand.hour[chosen],
            "weekday": brand.weekday[chosen],
            "impressions": brand.impressions[chosen],
            "engagements": np.minimum(engagements, brand.impressions[chosen]),
        }
    )


def _adjusted(cluster: str | None) -> Callable[[pl.DataFrame, float], tuple[float, tuple[float, float]]]:
    def run(frame: pl.DataFrame, alpha: float) -> tuple[float, tuple[float, float]]:
        fit = fit_adjusted(frame, RATE, "content", COVARIATES, reference="control", cluster=cluster)
        return wald(*fit.contrast("control", "treatment"), alpha, "two-sided")

    return run


ADJUSTED_METHODS: dict[str, Callable[[pl.DataFrame, float], tuple[float, tuple[float, float]]]] = {
    "adjusted, HC3 (default)": _adjusted(None),
    "adjusted, clustered by account": _adjusted("account"),
}
"""The adjusted model as compare(adjust_for=["account", "hour_of_day", "weekday"]) runs it: p-value and interval
of the relative lift."""


def run_adjusted_cell(
    brand: Brand, method: str, n: int, *, runs: int = 1000, lift: float = 0.25, alpha: float = 0.05, seed: int = 0
) -> Cell:
    """``runs`` confounded A/A experiments and ``runs`` with ``lift`` of ``method`` at ``n`` tweets of ``brand``."""
    rng = np.random.default_rng([seed, n, sum(map(ord, brand.name)), sum(map(ord, method))])
    run = ADJUSTED_METHODS[method]
    alarms = covered = rejected = 0
    for _ in range(runs):
        p, _ = run(experiment(brand, n, 0.0, rng), alpha)
        alarms += bool(p < alpha)
        p, (low, high) = run(experiment(brand, n, lift, rng), alpha)
        rejected += bool(p < alpha)
        covered += bool(low <= lift <= high)
    return Cell(brand.name, method, n, runs, alarms / runs, covered / runs, rejected / runs)
