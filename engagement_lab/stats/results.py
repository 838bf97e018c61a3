"""Result objects: frozen, tidy (``to_frame``), readable in notebooks (``_repr_html_``) and drawable (``chart``)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from html import escape
from typing import Any, Literal

import pandas as pd
import polars as pl

from .. import columns as C
from .effects import bayesian_lift, confidence_sequence

__all__ = ["Comparison", "ContrastRow", "Summary", "SummaryRow"]

Backend = Literal["pandas", "polars"]


def _frame(records: list[dict[str, Any]], columns: list[str], backend: Backend) -> Any:
    data = {c: [r[c] for r in records] for c in columns}
    if backend == "polars":
        return pl.DataFrame(data, strict=False)
    if backend != "pandas":
        raise ValueError(f"backend must be 'pandas' or 'polars', got {backend!r}")
    return pd.DataFrame(data, columns=columns)


def _pct(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x * 100:+.1f}%"


def _p(p: float) -> str:
    if not math.isfinite(p):
        return "p=n/a"
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


@dataclass(frozen=True)
class ContrastRow:
    """One treatment-vs-control contrast, with the design's comparison columns plus what the views need."""

    metric: str
    by: str
    control: str
    treatment: str
    n_control: int
    n_treatment: int
    control_value: float
    treatment_value: float
    abs_diff: float
    abs_ci_low: float
    abs_ci_high: float
    rel_lift: float
    rel_ci_low: float
    rel_ci_high: float
    p_value: float
    p_adjusted: float
    method: str
    alpha: float
    deff: float
    warnings: str
    se: float = field(default=math.nan, repr=False)
    rel_se: float = field(default=math.nan, repr=False)

    def verdict(self, correction: str) -> str:
        """One plain-language line, e.g. ``video beats text by +38.0% [+12.0%, +70.0%], p=0.003 (Holm)``."""
        label = {"none": "unadjusted", "fdr_bh": "BH", "fdr_by": "BY"}.get(correction, correction.capitalize())
        interval = f"{_pct(self.rel_lift)} [{_pct(self.rel_ci_low)}, {_pct(self.rel_ci_high)}]"
        tail = f"{_p(self.p_adjusted)} ({label})"
        if math.isfinite(self.p_adjusted) and self.p_adjusted < self.alpha:
            word = "beats" if self.abs_diff > 0 else "trails"
            return f"{self.treatment} {word} {self.control} by {interval} on {self.metric}, {tail}"
        return f"no clear difference on {self.metric}: {self.treatment} vs {self.control} {interval}, {tail}"


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`engagement_lab.compare`: one row per treatment-vs-control contrast."""

    rows: tuple[ContrastRow, ...]
    correction: str
    alpha: float
    notes: tuple[str, ...] = ()

    def to_frame(self, *, backend: Backend = "pandas") -> Any:
        """The contrasts as a tidy frame with the columns of ``engagement_lab.columns.COMPARISON``."""
        return _frame([asdict(r) for r in self.rows], list(C.COMPARISON), backend)

    def verdicts(self) -> list[str]:
        return [row.verdict(self.correction) for row in self.rows]

    def bayesian(self, *, prior_sd: float | None = None, prior_mean: float = 0.0, backend: Backend = "pandas") -> Any:
        """Gaussian posterior of each relative lift: chance to beat control, expected losses, credible interval.

        ``prior_sd=None`` is a flat prior; e.g. 0.3 is a proper N(0, 0.3²) prior on the lift.
        """
        records = []
        for r in self.rows:
            post = bayesian_lift(r.rel_lift, r.rel_se, prior_mean=prior_mean, prior_sd=prior_sd, alpha=r.alpha)
            records.append(
                {
                    "metric": r.metric,
                    "control": r.control,
                    "treatment": r.treatment,
                    "lift_mean": post.mean,
                    "lift_sd": post.sd,
                    "chance_to_win": post.chance_to_win,
                    "risk_treatment": post.risk_treatment,
                    "risk_control": post.risk_control,
                    "credible_low": post.credible_interval[0],
                    "credible_high": post.credible_interval[1],
                }
            )
        columns = [
            "metric",
            "control",
            "treatment",
            "lift_mean",
            "lift_sd",
            "chance_to_win",
            "risk_treatment",
            "risk_control",
            "credible_low",
            "credible_high",
        ]
        return _frame(records, columns, backend)

    def sequential(self, *, tuning: float = 5000, backend: Backend = "pandas") -> Any:
        """Always-valid (confidence-sequence) interval and p-value of each relative lift, safe under peeking."""
        records = []
        for r in self.rows:
            cs = confidence_sequence(r.rel_lift, r.rel_se, r.n_control + r.n_treatment, alpha=r.alpha, tuning=tuning)
            records.append(
                {
                    "metric": r.metric,
                    "control": r.control,
                    "treatment": r.treatment,
                    "rel_lift": r.rel_lift,
                    "cs_low": cs.interval[0],
                    "cs_high": cs.interval[1],
                    "always_valid_p": cs.p_value,
                    "n": cs.n,
                }
            )
        return _frame(
            records, ["metric", "control", "treatment", "rel_lift", "cs_low", "cs_high", "always_valid_p", "n"], backend
        )

    def chart(self) -> Any:
        """Forest plot of the relative lifts with their intervals (Altair)."""
        from ..viz.charts import forest_plot

        return forest_plot(self.to_frame(backend="polars"), correction=self.correction)

    def _repr_html_(self) -> str:
        head = (
            "<tr>"
            + "".join(
                f"<th>{h}</th>"
                for h in (
                    "metric",
                    "control",
                    "treatment",
                    "n",
                    "control",
                    "treatment",
                    "lift [CI]",
                    "p",
                    "p adj.",
                    "DEFF",
                )
            )
            + "</tr>"
        )
        body = []
        for r in self.rows:
            cells = (
                r.metric,
                r.control,
                r.treatment,
                f"{r.n_control} / {r.n_treatment}",
                f"{r.control_value:.4g}",
                f"{r.treatment_value:.4g}",
                f"{_pct(r.rel_lift)} [{_pct(r.rel_ci_low)}, {_pct(r.rel_ci_high)}]",
                _p(r.p_value)[2:],
                _p(r.p_adjusted)[2:],
                "" if math.isnan(r.deff) else f"{r.deff:.1f}",
            )
            body.append("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>")
        verdicts = "".join(f"<li>{escape(v)}</li>" for v in self.verdicts())
        notes = "".join(f"<li><em>{escape(n)}</em></li>" for n in self.notes)
        method = escape(", ".join(sorted({r.method for r in self.rows})))
        return (
            f"<div><strong>Comparison</strong> ({method}; alpha={self.alpha}; correction={escape(self.correction)})"
            f"<ul>{verdicts}</ul><table>{head}{''.join(body)}</table><ul>{notes}</ul></div>"
        )


@dataclass(frozen=True)
class SummaryRow:
    metric: str
    by: str
    group: str
    n: int
    value: float
    se: float
    ci_low: float
    ci_high: float
    numerator_total: float
    denominator_total: float


@dataclass(frozen=True)
class Summary:
    """Per-group estimates with confidence intervals (the result of :func:`engagement_lab.summarize`)."""

    rows: tuple[SummaryRow, ...]
    alpha: float

    def to_frame(self, *, backend: Backend = "pandas") -> Any:
        columns = [
            "metric",
            "by",
            "group",
            "n",
            "value",
            "se",
            "ci_low",
            "ci_high",
            "numerator_total",
            "denominator_total",
        ]
        return _frame([asdict(r) for r in self.rows], columns, backend)

    def chart(self) -> Any:
        """Per-group estimates with intervals (Altair)."""
        from ..viz.charts import estimates_plot

        return estimates_plot(self.to_frame(backend="polars"))

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{escape(r.group)}</td><td>{r.n}</td><td>{r.value:.4g}</td>"
            f"<td>[{r.ci_low:.4g}, {r.ci_high:.4g}]</td></tr>"
            for r in self.rows
        )
        metric = escape(self.rows[0].metric) if self.rows else ""
        return (
            f"<div><strong>Summary of {metric}</strong> ({int((1 - self.alpha) * 100)}% intervals)<table>"
            f"<tr><th>group</th><th>tweets</th><th>estimate</th><th>interval</th></tr>{rows}</table></div>"
        )
