"""Watch rules: a threshold on a lifetime total, or a named rate once its denominator is large enough."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .. import catalog
from ..errors import ConfigError
from ..metrics import NAMED_METRICS, Ratio

__all__ = ["RateRule", "Rule", "Threshold", "parse_rule"]


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


def parse_rule(text: str) -> Rule:
    """``"favorites>=100"``, or a named rate with an optional minimum denominator: ``"engagement_rate>=0.05/1000"``."""
    match = _RULE.match(text)
    if match is None:
        raise ConfigError(f"rule {text!r} is not of the form metric>=N (e.g. favorites>=100) or rate>=x/min")
    name, value, minimum = match.group(1), float(match.group(2)), match.group(3)
    if name in NAMED_METRICS and isinstance(NAMED_METRICS[name], Ratio):
        rule: Rule = RateRule(name, value, float(minimum) if minimum else 1000)
    elif name in catalog.ENDPOINTS["totals"].metrics and minimum is None:
        rule = Threshold(name, value)
    else:
        raise ConfigError(
            f"rule {text!r}: {name!r} is neither a /totals metric {list(catalog.ENDPOINTS['totals'].metrics)} "
            f"nor a named rate {[k for k, v in NAMED_METRICS.items() if isinstance(v, Ratio)]}"
        )
    unavailable = [m for m in rule.metrics if m not in catalog.ENDPOINTS["totals"].metrics]
    if unavailable:
        raise ConfigError(f"rule {text!r} needs {unavailable}, which /totals does not serve")
    return rule
