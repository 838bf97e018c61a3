"""Calibration: how often a method cries wolf, and how often its interval holds the truth, on data shaped like real
accounts' tweets.

A *world* is one account's history: each tweet's engagements and impressions (a pool to draw experiments from, as
an analyst's past tweets are). An experiment draws ``n`` of its tweets without replacement and splits them at
random into two arms of n/2. In an A/A experiment nothing differs, so a rejection at ``alpha`` is a false alarm;
in a lift experiment the control's engagements are thinned binomially by 1/(1 + lift), so the treatment's true
rate is exactly (1 + lift) times the control's and an interval of the relative lift should hold ``lift``.

The worlds (:func:`worlds`): the sandbox's tweets; tweets of 30 accounts, one five times the size of the others,
with gamma noise on each tweet's rate; over-dispersed counts (negative binomial); and impressions with the skew of
real exports (lognormal σ 1.2: the top 5% of tweets hold over a third of the impressions, as in two real accounts'
exports of 1,668 and 376 tweets, where they held 23-40%). Each method is run the way
:func:`engagement_lab.compare` runs it, from the same functions (``benchmarks/calibration.py`` prints the table;
a slow test holds the default's band).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .degenerate import delta_contrast
from .effects import RelativeCI, Variance
from .resampling import bootstrap_test, permutation_test
from .sufficient import GroupStats

__all__ = ["METHODS", "Cell", "World", "draw", "experiment_p", "run_cell", "table", "top_share", "worlds"]

Arms = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
Verdict = tuple[float, tuple[float, float]]
"""A method's p-value for no relative lift and its interval of the relative lift."""


@dataclass(frozen=True)
class World:
    """One account's tweets: engagements ``m`` and impressions ``d`` per tweet, and what the world is."""

    name: str
    description: str
    m: np.ndarray
    d: np.ndarray

    @property
    def size(self) -> int:
        return len(self.d)


def top_share(d: np.ndarray, q: float = 0.05) -> float:
    """The share of all impressions held by the top ``q`` of tweets."""
    ordered = np.sort(d)[::-1]
    return float(ordered[: max(1, round(q * len(d)))].sum() / ordered.sum())


def _lognormal(
    rng: np.random.Generator, n: int, sigma: float, dispersion: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Impressions lognormal(σ) around 2,000; each tweet's rate lognormal around 2%, lower for the most seen tweets
    (correlation −0.3, as viral tweets engage a wider, colder audience); engagements Poisson or negative binomial."""
    z = rng.standard_normal(n)
    w = -0.3 * z + math.sqrt(1 - 0.09) * rng.standard_normal(n)
    d = np.round(np.exp(math.log(2000) + sigma * z)).clip(1)
    mean = d * 0.02 * np.exp(0.5 * w - 0.125)
    # negative binomial: variance mean + mean²/dispersion
    m = rng.poisson(mean) if dispersion is None else rng.negative_binomial(dispersion, dispersion / (dispersion + mean))
    return np.minimum(m, d).astype(float), d.astype(float)


def _accounts(rng: np.random.Generator, n: int, accounts: int = 30, big: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    sizes = rng.lognormal(0, 0.7, accounts)
    sizes[0] *= big
    owner = rng.choice(accounts, n, p=sizes / sizes.sum())
    base = rng.lognormal(math.log(0.02), 0.4, accounts)
    d = np.round(np.exp(np.log(1500 * sizes[owner]) + rng.standard_normal(n))).clip(1)
    m = np.minimum(rng.poisson(d * base[owner] * rng.gamma(2.0, 0.5, n)), d)
    return m.astype(float), d.astype(float)


def _sandbox() -> tuple[np.ndarray, np.ndarray]:
    from ..sandbox.world import METRICS
    from ..sandbox.world import World as SandboxWorld

    world = SandboxWorld(seed=7)
    rows = [METRICS.index("engagements"), METRICS.index("impressions")]
    totals = np.array([world.series(t)[rows].sum(axis=1) for t in world.tweets if t.status == "ok"], float)
    seen = totals[:, 1] > 0
    return totals[seen, 0], totals[seen, 1]


def worlds(seed: int = 1) -> dict[str, World]:
    """The calibration worlds, each a fixed history drawn once from its seed."""
    rng = np.random.default_rng(seed)
    out = [
        World("sandbox", "the sandbox world's tweets (seed 7)", *_sandbox()),
        World("accounts", "30 accounts, one 5x the others, gamma rate noise", *_accounts(rng, 1668)),
        World("overdispersed", "negative binomial counts, lognormal σ 0.8", *_lognormal(rng, 1668, 0.8, 2.0)),
        World("real-skew", "impressions lognormal σ 1.2 (an export of 1,668 tweets)", *_lognormal(rng, 1668, 1.2)),
        World("real-skew-small", "impressions lognormal σ 1.2 (an export of 376 tweets)", *_lognormal(rng, 376, 1.2)),
    ]
    return {w.name: w for w in out}


def draw(world: World, n: int, lift: float, rng: np.random.Generator) -> Arms:
    """One experiment: ``n`` tweets of ``world`` split at random into two arms, the control thinned for ``lift``."""
    chosen = rng.choice(world.size, n, replace=False)
    m, d = world.m[chosen], world.d[chosen]
    half = n // 2
    control_m = rng.binomial(m[:half].astype(np.int64), 1 / (1 + lift)).astype(float) if lift else m[:half]
    return (control_m, d[:half]), (m[half:], d[half:])


def _delta(variance: Variance, relative_ci: RelativeCI | None) -> Callable[[Arms, float], Verdict]:
    def run(arms: Arms, alpha: float) -> Verdict:
        control, treatment = (GroupStats.from_arrays(m, d) for m, d in arms)
        result = delta_contrast(control, treatment, variance=variance, alpha=alpha, relative_ci=relative_ci)
        return result.p_value_rel, result.rel_ci

    return run


def _bootstrap(arms: Arms, alpha: float) -> Verdict:
    found = bootstrap_test(*arms, statistics=("lift",), n_resamples=1000, alpha=alpha, seed=None)["lift"]
    return found.p_value, found.ci


def _permutation(arms: Arms, alpha: float) -> Verdict:
    p = permutation_test(*arms, statistic="lift", n_resamples=1000, seed=None)
    return p, (math.nan, math.nan)


METHODS: dict[str, Callable[[Arms, float], Verdict]] = {
    "delta-hc3 (default)": _delta("hc3", None),
    "delta (peers)": _delta("hc0", None),
    "delta, log interval": _delta("hc0", "log"),
    "delta, Fieller": _delta("hc0", "fieller"),
    "bootstrap (BCa)": _bootstrap,
    "permutation": _permutation,
}
"""Each method as compare() runs it, on the relative lift: its p-value and interval."""


def experiment_p(method: str, arms: Arms, alpha: float = 0.05) -> Verdict:
    """One experiment's verdict by ``method`` (a key of :data:`METHODS`)."""
    return METHODS[method](arms, alpha)


@dataclass(frozen=True)
class Cell:
    """A method's calibration at one size of one world, with the Monte-Carlo standard errors."""

    world: str
    method: str
    n: int
    runs: int
    false_alarms: float
    coverage: float
    power: float

    @property
    def false_alarm_error(self) -> float:
        return math.sqrt(self.false_alarms * (1 - self.false_alarms) / self.runs)

    @property
    def coverage_error(self) -> float:
        return math.sqrt(self.coverage * (1 - self.coverage) / self.runs) if not math.isnan(self.coverage) else math.nan

    def within(self, alarms: tuple[float, float] = (0.035, 0.065), cover: tuple[float, float] = (0.935, 0.965)) -> bool:
        """In the issue's band: false alarms 5% ± 1.5 points, coverage 93.5–96.5%."""
        return alarms[0] <= self.false_alarms <= alarms[1] and cover[0] <= self.coverage <= cover[1]


def run_cell(
    world: World, method: str, n: int, *, runs: int = 2000, lift: float = 0.25, alpha: float = 0.05,
    seed: int = 0, progress: Callable[[int], None] | None = None,
) -> Cell:  # fmt: skip
    """``runs`` A/A experiments and ``runs`` experiments with ``lift`` of ``method`` at ``n`` tweets of ``world``."""
    rng = np.random.default_rng([seed, n, sum(map(ord, world.name)), sum(map(ord, method))])
    alarms = covered = rejected = finite = 0
    for i in range(runs):
        p, _ = experiment_p(method, draw(world, n, 0.0, rng), alpha)
        alarms += bool(p < alpha)
        p, (low, high) = experiment_p(method, draw(world, n, lift, rng), alpha)
        rejected += bool(p < alpha)
        if math.isfinite(low) or math.isfinite(high):
            finite += 1
            covered += bool(low <= lift <= high)
        if progress is not None:
            progress(i)
    coverage = covered / finite if finite else math.nan
    return Cell(world.name, method, n, runs, alarms / runs, coverage, rejected / runs)


def table(cells: Sequence[Cell]) -> list[str]:
    """The cells as Markdown table rows: false alarms and coverage with their Monte-Carlo errors."""
    lines = ["| world | tweets | method | false alarms (A/A, 5%) | 95% interval covers the lift | power (+25%) |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for c in cells:
        cover = "n/a" if math.isnan(c.coverage) else f"{c.coverage:.1%} ± {c.coverage_error:.1%}"
        alarms = f"{c.false_alarms:.1%} ± {c.false_alarm_error:.1%}"
        lines.append(f"| {c.world} | {c.n} | {c.method} | {alarms} | {cover} | {c.power:.0%} |")
    return lines
