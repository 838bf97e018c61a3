"""``aa_check`` and ``plan``: the A/A self-check and the power of the next test, from the account's own tweets.

See :mod:`engagement_lab.stats.history` for how splits are drawn and tested. ``aa_check`` answers "would the
default cry wolf on tweets like mine?"; ``plan`` answers "how many tweets per arm would tell a +10% lift?",
with the calibrated default as the test, and falls back to the closed form (saying so) for a short history.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

import numpy as np

from ..errors import StatsInputError, check_choice
from ..metrics import HtmlDisplay, Metric, Ratio
from .history import (
    HISTORY_METHODS,
    MIN_HISTORY,
    AACheckRow,
    frame_of,
    history_arrays,
    judged_splits,
    sizes_for,
    wilson,
)
from .planning import power_ratio, sample_size_ratio
from .sufficient import GroupStats

__all__ = ["AACheck", "Plan", "aa_check", "plan"]

RATE = Ratio("engagements", "impressions")
"""The metric the planner resamples, by shape: any rate is judged the same way from its numerator and denominator."""

TRUSTED = 0.065
"""A method whose false alarms at 5% stay at or below this on the history is trusted (the calibration band)."""


def _check_common(alpha: object, splits: object, seed: object) -> None:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 0.5:
        raise StatsInputError(f"alpha must be a number between 0 and 0.5 (e.g. 0.05), got {alpha!r}")
    if isinstance(splits, bool) or not isinstance(splits, int) or splits < 100:
        raise StatsInputError(f"splits must be a whole number of at least 100, got {splits!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise StatsInputError(f"seed must be an int or None, got {seed!r}")


@dataclass(frozen=True)
class AACheck(HtmlDisplay):
    """How often each method calls random halves of the account's own tweets different (see :func:`aa_check`)."""

    metric: str
    history: int
    alpha: float
    rows: tuple[AACheckRow, ...]
    note: str = ""
    """What was left out of the history, if anything."""

    def to_frame(self, *, backend: str = "pandas") -> Any:
        """One row per method and size: ``false_alarms`` with its 95% Monte-Carlo interval (``low``, ``high``)."""
        return frame_of([r.__dict__ for r in self.rows], backend)

    def verdict(self) -> str:
        """In words: whether the default holds its level on these tweets, size by size."""
        default = [r for r in self.rows if r.method == "auto"]
        trusted = [r for r in default if r.false_alarms <= TRUSTED]
        if not default:
            return "the default was not checked (methods= left out 'auto')"
        head = f"On these {self.history:,} tweets the default ({self.metric}) "
        if len(trusted) == len(default):
            rates = ", ".join(f"{r.false_alarms:.1%} at {r.n_per_arm}" for r in default)
            return head + (
                f"holds its {self.alpha:.0%} level: false alarms {rates} tweets per arm. Its verdicts on tweets "
                "like these can be taken at their word."
            )
        bad = ", ".join(f"{r.false_alarms:.1%} at {r.n_per_arm}" for r in default if r.false_alarms > TRUSTED)
        return head + (
            f"cries wolf more often than {self.alpha:.0%}: {bad} tweets per arm. Treat a verdict at those sizes as "
            "a rough indication, or compare more tweets."
        )

    def __str__(self) -> str:
        lines = [self.verdict(), *([self.note] if self.note else []), ""]
        lines += [
            f"  {r.method:10s} {r.n_per_arm:5d} per arm: {r.false_alarms:6.1%} false alarms "
            f"(95% MC {r.low:.1%}-{r.high:.1%}, {r.splits} splits)"
            for r in self.rows
        ]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in ("method", "tweets per arm", "false alarms", "95% MC interval"))
        body = "".join(
            f"<tr><td>{escape(r.method)}</td><td>{r.n_per_arm}</td><td>{r.false_alarms:.1%}</td>"
            f"<td>{r.low:.1%} to {r.high:.1%}</td></tr>"
            for r in self.rows
        )
        note = f"<p><em>{escape(self.note)}</em></p>" if self.note else ""
        return (
            f"<div><p><strong>A/A check.</strong> {escape(self.verdict())}</p>{note}"
            f"<table><tr>{head}</tr>{body}</table></div>"
        )


def aa_check(
    tweets: Any,
    *,
    metric: str | Metric = "engagement_rate",
    n: int | Sequence[int] | None = None,
    splits: int = 1000,
    methods: Sequence[str] = ("auto", "delta", "naive-z"),
    alpha: float = 0.05,
    seed: int | None = 0,
) -> AACheck:
    """Random A/A splits of the account's past tweets, each tested by each method: the share called significant.

    Parameters
    ----------
    tweets : DataFrame (pandas, polars or lazy)
        One row per past tweet (e.g. from :func:`engagement_lab.per_tweet`) with the metric's columns.
    metric : str or Metric
    n : int or list of int, optional
        Tweets per arm (default 20, 50, 100 and 200, where the history holds both arms).
    splits : int
        A/A splits per size; the split of size n and number ``i`` is row ``i`` of
        ``stats.history.draw_splits(len(tweets), n, splits, seed)`` (so an independent loop of ``compare`` calls can
        repeat it).
    methods : list of str
        compare's method names: ``"auto"`` (the default), ``"delta-hc3"``, ``"delta"``, ``"naive-z"``.
    alpha : float
    seed : int, optional

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> d = rng.lognormal(7, 1.2, 400).round() + 1
    >>> past = pd.DataFrame({"impressions": d, "engagements": rng.binomial(d.astype(int), 0.02)})
    >>> check = aa_check(past, n=50, splits=200)
    >>> check.rows[0].method, check.rows[0].n_per_arm
    ('auto', 50)
    """
    _check_common(alpha, splits, seed)
    if isinstance(methods, str) or not methods:
        raise StatsInputError(f"methods must be a non-empty list of method names from {list(HISTORY_METHODS)}")
    for method in methods:
        check_choice("methods", method, HISTORY_METHODS)
    past = history_arrays(tweets, metric)
    resolved, m, d = past.metric, past.m, past.d
    if len(m) < 4:
        raise StatsInputError(
            f"an A/A check needs at least 4 past tweets (2 per arm), and the history has {len(m)}"
            + (f" ({past.left_out_note()})" if past.left_out else "")
        )
    rows = []
    for size in sizes_for(len(m), n):
        for method in methods:
            p, _ = judged_splits(method, resolved, m, d, size, splits=splits, seed=seed, alpha=alpha)
            hits = int(np.sum(p < alpha))
            rows.append(AACheckRow(method, size, splits, hits / splits, *wilson(hits, splits)))
    return AACheck(resolved.label, len(m), float(alpha), tuple(rows), past.left_out_note())


@dataclass(frozen=True)
class Plan(HtmlDisplay):
    """The power of the next test on tweets like these (see :func:`plan`): ``tweets_per_arm`` for the target,
    ``power_at(n)``, ``mde(n)`` and ``chart()``."""

    metric: str
    lift: float
    power: float
    alpha: float
    history: int
    tweets_per_arm: float
    """Tweets per arm for the target power (``inf`` beyond ``max_per_arm``)."""
    curve: tuple[tuple[int, float], ...]
    """(tweets per arm, power) at each size tried."""
    closed_form: bool
    """True when the history was too short to resample and the textbook formula was used."""
    note: str = ""
    _m: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)
    _d: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)
    _splits: int = field(default=1000, repr=False)
    _seed: int | None = field(default=0, repr=False)

    def power_at(self, n_per_arm: int, *, lift: float | None = None) -> float:
        """The power to tell ``lift`` (default: the plan's) with ``n_per_arm`` tweets per arm."""
        lift = self.lift if lift is None else lift
        if self.closed_form:
            return power_ratio(GroupStats.from_arrays(self._m, self._d), n_per_arm, lift, alpha=self.alpha)
        return resampled_power(self._m, self._d, n_per_arm, lift, self.alpha, self._splits, self._seed)

    def mde(self, n_per_arm: int) -> float:
        """The smallest relative lift told with the plan's power at ``n_per_arm`` tweets per arm (bisected on the
        resampled power, common random numbers across lifts)."""
        low, high = 0.0, 0.05
        while self.power_at(n_per_arm, lift=high) < self.power:
            low, high = high, high * 2
            if high > 20:
                return math.inf
        for _ in range(12):
            mid = (low + high) / 2
            low, high = (mid, high) if self.power_at(n_per_arm, lift=mid) < self.power else (low, mid)
        return high

    def to_frame(self, *, backend: str = "pandas") -> Any:
        """The power curve: ``n_per_arm`` and ``power`` at each size tried."""
        return frame_of([{"n_per_arm": n, "power": p} for n, p in self.curve], backend)

    def chart(self) -> Any:
        """The power curve against tweets per arm, with the target and the answer marked (Altair)."""
        from ..viz.charts import plan_plot

        return plan_plot(self.to_frame(backend="polars"), target=self.power, lift=self.lift, needed=self.tweets_per_arm)

    def sentence(self) -> str:
        if math.isinf(self.tweets_per_arm):
            answer = f"no test of up to {self.curve[-1][0]:,} tweets per arm reaches {self.power:.0%} power"
        else:
            answer = f"about {math.ceil(self.tweets_per_arm):,} tweets per arm"
        how = "by the textbook formula; too few past tweets to resample" if self.closed_form else (
            f"from resampling {self.history:,} past tweets"
        )  # fmt: skip
        return (
            f"To tell a {self.lift:+.0%} lift in {self.metric} with {self.power:.0%} power at alpha "
            f"{self.alpha:g}: {answer} ({how})."
        )

    def __str__(self) -> str:
        lines = [self.sentence(), *(f"  {n:6,d} per arm: power {p:.0%}" for n, p in self.curve)]
        return "\n".join([*lines, self.note] if self.note else lines)

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{n:,}</td><td>{p:.0%}</td></tr>" for n, p in self.curve)
        note = f"<p><em>{escape(self.note)}</em></p>" if self.note else ""
        return (
            f"<div><p><strong>Plan.</strong> {escape(self.sentence())}</p>{note}"
            f"<table><tr><th>tweets per arm</th><th>power</th></tr>{rows}</table></div>"
        )


def resampled_power(
    m: np.ndarray, d: np.ndarray, n_per_arm: int, lift: float, alpha: float, splits: int, seed: int | None
) -> float:
    """The share of ``splits`` experiments of ``n_per_arm`` tweets per arm with the true ``lift`` injected (see
    :func:`~.history.judged_splits`) in which the default rejects at ``alpha`` in the lift's direction."""
    p, effect = judged_splits("auto", RATE, m, d, n_per_arm, splits=splits, seed=seed, alpha=alpha, lift=lift)
    right_way = effect > 0 if lift >= 0 else effect < 0
    return float(np.mean((p < alpha) & right_way))


def _grid(max_per_arm: int, start: int = 10) -> list[int]:
    """Tweets per arm to try: ``start`` and up by half each step, to ``max_per_arm``."""
    sizes, n = [], start
    while n <= max_per_arm:
        sizes.append(n)
        n = max(n + 1, round(n * 1.5))
    return sizes


def plan(
    tweets: Any,
    *,
    metric: str | Metric = "engagement_rate",
    lift: float = 0.1,
    power: float = 0.8,
    alpha: float = 0.05,
    splits: int = 1000,
    max_per_arm: int = 20_000,
    seed: int | None = 0,
) -> Plan:
    """How many tweets per arm the next test needs to tell ``lift`` with ``power``, by resampling these tweets.

    Each size's power is the share of ``splits`` simulated experiments (the account's tweets drawn and halved, the
    control's engagements thinned by 1/(1 + lift)) in which the default comparison rejects at ``alpha`` in the
    lift's direction. Sizes beyond half the history draw with replacement (a projection). With fewer than
    ``MIN_HISTORY`` tweets the closed form (``stats.sample_size_ratio``, textbook variance) is used and the plan
    says so. Rates only (the lift is injected into the numerator's counts).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> d = rng.lognormal(7, 1.0, 600).round() + 1
    >>> past = pd.DataFrame({"impressions": d, "engagements": rng.binomial(d.astype(int), 0.02)})
    >>> found = plan(past, lift=0.3, splits=200)
    >>> 10 < found.tweets_per_arm < 2000, found.closed_form
    (True, False)
    """
    _check_common(alpha, splits, seed)
    if isinstance(lift, bool) or not isinstance(lift, (int, float)) or not -1 < lift <= 10 or lift == 0:
        raise StatsInputError(f"lift must be a relative lift such as 0.1 (+10%), not 0, above -1, got {lift!r}")
    if isinstance(power, bool) or not isinstance(power, (int, float)) or not 0 < power < 1:
        raise StatsInputError(f"power must be between 0 and 1 (e.g. 0.8), got {power!r}")
    past = history_arrays(tweets, metric, counts=True)
    resolved, m, d = past.metric, past.m, past.d
    if not isinstance(resolved, Ratio):
        raise StatsInputError(f"plan needs a rate such as 'engagement_rate'; {resolved.label!r} is a per-tweet mean")
    common = {"metric": resolved.label, "lift": float(lift), "power": float(power), "alpha": float(alpha),
              "history": len(m), "_m": m, "_d": d, "_splits": splits, "_seed": seed}  # fmt: skip
    if len(m) < 2 or not m.sum():
        raise StatsInputError(
            f"the history has {len(m)} tweet(s) with {m.sum():g} {resolved.numerator} in all: a plan needs past tweets "
            f"with {resolved.numerator} (at least 2 tweets, and {MIN_HISTORY} to resample); pass more of the account's "
            "tweets"
        )
    if len(m) < MIN_HISTORY:
        pilot = GroupStats.from_arrays(m, d)
        needed = sample_size_ratio(pilot, lift, power=power, alpha=alpha)
        closed = tuple(
            (n, power_ratio(pilot, n, lift, alpha=alpha)) for n in _grid(max(20, math.ceil(needed)), start=2)
        )
        note = f"Only {len(m)} past tweets: the closed form (textbook variance) was used, not resampling."
        note = " ".join(filter(None, [note, past.left_out_note()]))
        return Plan(tweets_per_arm=needed, curve=closed, closed_form=True, note=note, **common)  # type: ignore[arg-type]
    curve: list[tuple[int, float]] = []
    for n in _grid(max_per_arm):
        curve.append((n, resampled_power(m, d, n, lift, alpha, splits, seed)))
        if curve[-1][1] >= min(0.99, power + 0.1):
            break
    needed = _crossing(curve, power)
    note = ""
    if needed > len(m) / 2:
        note = (
            f"The answer is beyond half the {len(m):,} past tweets: sizes past {len(m) // 2:,} per arm were drawn "
            "with replacement, a projection that leans on these particular tweets."
        )
    elif needed > len(m) / 4:
        note = (
            f"A test of that size uses over half of the {len(m):,} past tweets, so the answer leans on these "
            "particular tweets (in the back-test a single history was off by up to 10-15 points of power there)."
        )
    note = " ".join(filter(None, [note, past.left_out_note()]))
    return Plan(tweets_per_arm=needed, curve=tuple(curve), closed_form=False, note=note, **common)  # type: ignore[arg-type]


def _crossing(curve: Sequence[tuple[int, float]], target: float) -> float:
    """The size where the power curve first reaches ``target``, interpolated on log size between the sizes tried."""
    for (n0, p0), (n1, p1) in itertools.pairwise(curve):
        if p1 >= target > p0:
            return float(math.exp(math.log(n0) + (target - p0) / (p1 - p0) * (math.log(n1) - math.log(n0))))
    if curve and curve[0][1] >= target:
        return float(curve[0][0])
    return math.inf
