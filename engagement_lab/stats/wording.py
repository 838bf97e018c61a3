"""Results in plain language, for people who do not read p-values for a living: one sentence per contrast, the
Bayesian view as a chance and an expected loss, numbers formatted as people write them."""

from __future__ import annotations

import math
from typing import Any

from ..metrics import is_rate, plain_name

__all__ = [
    "bayesian_sentence",
    "correction_name",
    "format_p",
    "format_value",
    "group_name",
    "headline",
    "p_number",
]

_CORRECTIONS = {
    "holm": "Holm",
    "bonferroni": "Bonferroni",
    "fdr_bh": "Benjamini-Hochberg",
    "fdr_by": "Benjamini-Yekutieli",
    "none": "no",
}


def correction_name(correction: str) -> str:
    return _CORRECTIONS.get(correction, correction)


def format_p(p: float) -> str:
    """``p = 0.061``, ``p < 0.001``: two significant digits, never scientific notation. Verdicts, headlines and
    reports all print p-values this way.

    Examples
    --------
    >>> format_p(0.0612), format_p(0.0004), format_p(float("nan"))
    ('p = 0.061', 'p < 0.001', 'p not available')
    """
    if not math.isfinite(p):
        return "p not available"
    return f"p {p_number(p)}" if p < 0.001 else f"p = {p_number(p)}"


def p_number(p: float) -> str:
    """A p-value without its ``p``, for a table's column: ``0.061``, ``< 0.001``, ``n/a``, as :func:`format_p`
    writes it."""
    if not math.isfinite(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.2g}"


def format_value(value: float, metric: str) -> str:
    """A group's value: a rate as a percentage (``3.85%``), anything else with four significant digits."""
    if not math.isfinite(value):
        return "n/a"
    return f"{value * 100:.2f}%" if is_rate(metric) else f"{value:,.4g}"


def _share(x: float) -> str:
    """A relative change as a magnitude: ``11%``, ``2.4%`` (one decimal below 10%)."""
    size = abs(x) * 100
    return f"{size:.0f}%" if size >= 9.95 else f"{size:.1f}%"


def _change(x: float, more: str = "more", fewer: str = "fewer") -> str:
    if not math.isfinite(x):
        return "no bound" if math.isinf(x) else "n/a"
    return "no change" if x == 0 else f"{_share(x)} {more if x > 0 else fewer}"


def _points(x: float, metric: str) -> str:
    if not math.isfinite(x):
        return "no bound" if math.isinf(x) else "n/a"
    size = f"{abs(x) * 100:.2f} percentage points" if is_rate(metric) else f"{abs(x):,.3g}"
    return f"{size} {'higher' if x > 0 else 'lower'}" if x else "no change"


def group_name(by: str, value: str) -> str:
    """``variant``, ``B`` -> ``Variant B``; a value that already names its column is left alone."""
    column = by.replace("_", " ")
    if value.lower().startswith(column.lower()):
        return value
    text = f"{column} {value}"
    return text[:1].upper() + text[1:]


def headline(row: Any, *, correction: str, n_contrasts: int) -> str:
    """One sentence a marketing lead can act on, e.g. "Variant B got 11% more engagements per impression than A
    (95% interval: 3% fewer to 27% more); we can't rule out no difference (p = 0.061)."

    It says "can't tell" with the reason when no test was possible, follows the scale the verdict was tested on
    (relative lift, or the absolute difference in points), names a one-sided test and the multiple-testing
    correction when there is more than one contrast.
    """
    title, noun = plain_name(row.metric)
    subject = group_name(row.by, row.treatment)
    if not row.testable or not math.isfinite(row.p_adjusted):
        why = "; ".join(note.text for note in row.reasons) or "no valid test for these data"
        return f"We can't tell whether {subject} differs from {row.control} on {noun}: {why}."
    level = f"{(1 - row.alpha) * 100:.4g}%"
    if row.p_scale == "absolute" or not math.isfinite(row.rel_lift):
        effect = (
            f"{subject}'s {title[:1].lower() + title[1:]} was {_points(row.abs_diff, row.metric)} than "
            f"{row.control}'s ({level} interval: {_points(row.abs_ci_low, row.metric)} "
            f"to {_points(row.abs_ci_high, row.metric)})"
        )
    else:
        effect = (
            f"{subject} got {_change(row.rel_lift)} {noun} than {row.control} ({level} interval: "
            f"{_change(row.rel_ci_low)} to {_change(row.rel_ci_high)})"
        )
    p = format_p(row.p_adjusted)
    if n_contrasts > 1 and correction != "none":
        p += f", {correction_name(correction)}-adjusted for {n_contrasts} comparisons"
    return _judged(row, effect, p) + _rough(row)


def _judged(row: Any, effect: str, p: str) -> str:
    if row.alternative != "two-sided":
        p = "one-sided " + p
        direction = "higher" if row.alternative == "greater" else "lower"
        if row.p_adjusted < row.alpha:
            return f"{effect}; the data support {row.treatment} being {direction} ({p})."
        return f"{effect}; no evidence that {row.treatment} is {direction} ({p})."
    if row.p_adjusted < row.alpha:
        return f"{effect}; a gap this large is unlikely to be chance ({p})."
    return f"{effect}; we can't rule out no difference ({p})."


def _rough(row: Any) -> str:
    """A second sentence where the verdict rests on few tweets (an arm's impressions on a handful of them)."""
    concentrated = [note.text for note in getattr(row, "notes", ()) if note.code == "concentrated"]
    if not concentrated:
        return ""
    return f" {concentrated[0][:1].upper()}{concentrated[0][1:]}."


def _chance(p: float) -> str:
    """``97%``; never a flat 0% or 100%, which would claim certainty the posterior does not give."""
    if p > 0.999:
        return "over 99.9%"
    if p < 0.001:
        return "under 0.1%"
    return f"{p * 100:.0f}%" if 0.01 <= p <= 0.99 else f"{p * 100:.1f}%"


def bayesian_sentence(row: Any, *, by: str, metric: str, control: str) -> str:
    """The Bayesian view of one contrast in words: the chance the treatment beats the control and what picking
    it costs in expectation if it does not."""
    _, noun = plain_name(metric)
    subject = group_name(by, str(row["treatment"]))
    chance = row["chance_to_win"]
    if not math.isfinite(chance):
        return f"{subject}: no Bayesian reading (the lift could not be estimated)."
    loss = row["risk_treatment"]
    return (
        f"{subject}: {_chance(chance)} chance of beating {control}. Choosing it has an expected loss of "
        f"{abs(loss) * 100:.1f}% of {control}'s {noun} (the shortfall averaged over every plausible outcome, "
        "counting zero where it wins)."
    )
