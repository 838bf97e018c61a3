"""Watch rules: a threshold on a lifetime total, or a named rate once its denominator is large enough."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import ConfigError, did_you_mean
from ..metrics import NAMED_METRICS, Ratio
from ..sources.x_v2.catalog import TO_ENGAGEMENT_NAMES
from .readers import reader

__all__ = ["RateRule", "Rule", "Threshold", "check_rule", "parse_rule", "rule_metrics"]


def _number(value: float) -> str:
    """Exactly the number: ``100`` for 100.0, ``5.0000001`` stays itself (``:g`` would print both as ``5``, and
    two rules with one name would share one event)."""
    return str(int(value)) if value == int(value) and abs(value) < 1e15 else repr(float(value))


@dataclass(frozen=True)
class Threshold:
    """Fires when a tweet's lifetime ``metric`` reaches ``value`` (e.g. favorites >= 100)."""

    metric: str
    value: float

    @property
    def name(self) -> str:
        return f"{self.metric}>={_number(self.value)}"

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.metric,)

    def measure(self, totals: Mapping[str, int]) -> float | None:
        return float(totals[self.metric]) if self.metric in totals else None

    def holds(self, measured: float) -> bool:
        return measured >= self.value


@dataclass(frozen=True)
class RateRule:
    """Fires when a named rate reaches ``value`` once its denominator is at least ``minimum`` (e.g. engagement
    rate >= 5% after >= 1,000 impressions)."""

    rate: str
    value: float
    minimum: float = 1000

    @property
    def name(self) -> str:
        return f"{self.rate}>={_number(self.value)}/{_number(self.minimum)}"

    @property
    def _ratio(self) -> Ratio:
        ratio = NAMED_METRICS[self.rate]
        assert isinstance(ratio, Ratio)
        return ratio

    @property
    def metrics(self) -> tuple[str, ...]:
        return self._ratio.columns

    def measure(self, totals: Mapping[str, int]) -> float | None:
        num, den = totals.get(self._ratio.numerator), totals.get(self._ratio.denominator)
        if num is None or den is None or den < self.minimum or den == 0:
            return None
        return num / den

    def holds(self, measured: float) -> bool:
        return measured >= self.value


Rule = Threshold | RateRule
_RULE = re.compile(r"^\s*([a-z_]+)\s*>=\s*([0-9.]+)\s*(?:/\s*([0-9.]+))?\s*$")


def rule_metrics(api: str = "engagement") -> tuple[str, ...]:
    """The lifetime totals a rule may use on ``api``, by their Engagement API names (v2's ``likes`` and
    ``follows`` are ``favorites`` and ``user_follows`` here, so one rule reads the same on both)."""
    return reader(api)[1].served


def _source(api: str) -> str:
    return reader(api)[1].what


def check_rule(rule: Rule, api: str = "engagement", *, written: str | None = None) -> Rule:
    """``rule`` when every total it needs is served by ``api``; otherwise a ConfigError naming the missing ones
    (and the rule as ``written``, when it came from text)."""
    served = rule_metrics(api)
    unavailable = [m for m in rule.metrics if m not in served]
    if unavailable:
        raise ConfigError(f"rule {written or rule.name!r} needs {unavailable}, which {_source(api)} does not serve")
    return rule


def parse_rule(text: str, api: str = "engagement") -> Rule:
    """``"favorites>=100"``, or a named rate with an optional minimum denominator: ``"engagement_rate>=0.05/1000"``.

    ``api="x-v2"`` allows X API v2's post metrics too (e.g. ``"bookmarks>=10"``), and its names ``likes`` and
    ``follows`` for ``favorites`` and ``user_follows`` (``"likes>=100"`` is the rule ``favorites>=100``)."""
    served = rule_metrics(api)
    match = _RULE.match(text)
    if match is None:
        raise ConfigError(f"rule {text!r} is not of the form metric>=N (e.g. favorites>=100) or rate>=x/min")
    written, value, minimum = match.group(1), float(match.group(2)), match.group(3)
    # on X API v2, its names for the shared totals (likes, follows) are the Engagement API's (favorites,
    # user_follows): one rule, one name and one event id whichever way it is written
    name = TO_ENGAGEMENT_NAMES.get(written, written) if reader(api)[0] == "x-v2" else written
    rates = [k for k, v in NAMED_METRICS.items() if isinstance(v, Ratio)]
    if name in NAMED_METRICS and isinstance(NAMED_METRICS[name], Ratio):
        rule: Rule = RateRule(name, value, float(minimum) if minimum else 1000)
    elif name in served and minimum is None:
        rule = Threshold(name, value)
    else:
        if written in TO_ENGAGEMENT_NAMES:
            hint = f" (did you mean {TO_ENGAGEMENT_NAMES[written]!r}? {written!r} is its X API v2 name)"
        else:
            hint = did_you_mean(written, [*served, *rates])
        raise ConfigError(
            f"rule {text!r}: {written!r} is neither a {_source(api)} metric {list(served)} "
            f"nor a named rate {rates}{hint}"
        )
    return check_rule(rule, api, written=text)
