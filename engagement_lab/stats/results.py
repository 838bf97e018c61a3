"""Result objects: frozen, tidy (``to_frame``), readable in notebooks (``_repr_html_``) and drawable (``chart``)."""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl

from .. import columns as C
from ..metrics import SHOWN_LENGTH, HtmlDisplay, html_label, short_labels
from ..options import Backend, check_backend
from .effects import check_alternative
from .notes import UNTESTABLE, Note
from .views import bayesian_lift, bayesian_lift_on_log, confidence_sequence
from .wording import correction_name, format_p, format_value, headline, p_number

__all__ = ["Comparison", "ContrastRow", "Summary", "SummaryRow", "percent"]


def _frame(records: list[dict[str, Any]], columns: list[str], backend: Backend) -> Any:
    data = {c: [r[c] for r in records] for c in columns}
    if check_backend(backend) == "polars":
        return pl.DataFrame(data, strict=False)
    return pd.DataFrame(data, columns=columns)


SHOWN_NOTES = frozenset({"concentrated", "thin", "exact_bound", "absolute_scale", "zero_control", "dropped",
                         "entered_as_numbers", "few_clusters"})  # fmt: skip
"""The row notes an HTML repr lists under the verdicts (the reasons no test was possible are in the verdicts)."""


def percent(x: float) -> str:
    """A lift as a signed percentage (``+12.3%``), infinite ends as ``+inf``/``-inf``, NaN as ``n/a``."""
    if math.isinf(x):
        return "+inf" if x > 0 else "-inf"
    return "n/a" if math.isnan(x) else f"{x * 100:+.1f}%"


def _num(x: float) -> str:
    return "n/a" if math.isnan(x) else ("-inf" if x == -math.inf else "+inf" if x == math.inf else f"{x:+.4g}")


def _text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Cells already formatted, in columns padded by pandas (no index), for ``print(result)``."""
    return str(pd.DataFrame([list(r) for r in rows], columns=list(headers)).to_string(index=False))


def _indented(title: str, lines: Sequence[str]) -> list[str]:
    return [title, *(f"  - {line}" for line in lines)] if lines else []


def _write_csv(frame: pd.DataFrame, path: str | Path | None) -> str | None:
    """``frame`` as CSV at ``path`` (no index), or as a string when ``path`` is None."""
    if path is None:
        return str(frame.to_csv(index=False))
    frame.to_csv(path, index=False)
    return None


def _write_excel(frame: pd.DataFrame, path: str | Path, sheet: str) -> Path:
    """``frame`` as one sheet of an .xlsx file, through pandas and openpyxl (an optional extra)."""
    if importlib.util.find_spec("openpyxl") is None:  # pandas writes .xlsx through it
        raise ImportError(
            "to_excel() needs openpyxl, an optional extra: pip install 'engagement-lab[excel]' "
            "(or to_csv() needs nothing more)"
        )
    path = Path(path)
    frame.to_excel(path, index=False, sheet_name=sheet)
    return path


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
    p_value_abs: float
    p_value_rel: float
    p_value: float
    p_adjusted: float
    p_scale: str
    method: str
    alpha: float
    deff: float
    warnings: str
    se: float = field(default=math.nan, repr=False)
    rel_se: float = field(default=math.nan, repr=False)
    alternative: str = field(default="two-sided", repr=False)
    testable: bool = field(default=True, repr=False)
    notes: tuple[Note, ...] = field(default=(), repr=False)
    """The warnings as typed notes (``warnings`` is their text, ``"; "`` between them)."""
    rel_scale: str = field(default="delta", repr=False)
    """The scale of ``rel_se``: the lift itself (``"delta"``) or its logarithm (``"log"``)."""

    @property
    def reasons(self) -> tuple[Note, ...]:
        """Why no test was possible: the notes coded ``"untestable"`` (empty when a test was made)."""
        return tuple(note for note in self.notes if note.code == UNTESTABLE)

    def _interval(self) -> str:
        if self.p_scale == "absolute" or not math.isfinite(self.rel_lift):
            return f"{_num(self.abs_diff)} [{_num(self.abs_ci_low)}, {_num(self.abs_ci_high)}] (absolute difference)"
        return f"{percent(self.rel_lift)} [{percent(self.rel_ci_low)}, {percent(self.rel_ci_high)}]"

    def verdict(self, correction: str) -> str:
        """One plain-language line, e.g. ``video beats text by +38.0% [+12.0%, +70.0%], p = 0.003 (Holm)``.

        The wording follows the numbers shown: "cannot tell" with the reason when no test was possible, the
        direction of a one-sided test, and the absolute interval when the verdict is on that scale.
        """
        label = {"none": "unadjusted", "fdr_bh": "BH", "fdr_by": "BY"}.get(correction, correction.capitalize())
        sided = "" if self.alternative == "two-sided" else ", one-sided"
        if not self.testable or not math.isfinite(self.p_adjusted):
            why = "; ".join(note.text for note in self.reasons) or "no valid test for these data"
            return f"cannot tell on {self.metric}: {self.treatment} vs {self.control}: {why}"
        tail = f"{format_p(self.p_adjusted)} ({label}{sided})"
        interval = self._interval()
        if self.p_adjusted < self.alpha:
            effect = self.abs_diff if math.isfinite(self.abs_diff) else self.rel_lift  # adjusted rows: ratios only
            word = "beats" if effect > 0 else "trails"
            return f"{self.treatment} {word} {self.control} by {interval} on {self.metric}, {tail}"
        if self.alternative != "two-sided":
            direction = "greater" if self.alternative == "greater" else "less"
            return (
                f"no evidence that {self.treatment} is {direction} than {self.control} on {self.metric}: "
                f"{interval}, {tail}"
            )
        return f"no clear difference on {self.metric}: {self.treatment} vs {self.control} {interval}, {tail}"


@dataclass(frozen=True)
class Comparison(HtmlDisplay):
    """The result of :func:`engagement_lab.compare`: one row per treatment-vs-control contrast."""

    rows: tuple[ContrastRow, ...]
    correction: str
    alpha: float
    notes: tuple[str, ...] = ()
    alternative: str = "two-sided"
    scale: str = "relative"
    adjusted_for: tuple[str, ...] = ()
    """Confounders held fixed (empty for a plain comparison)."""
    unadjusted: Comparison | None = None
    """For an adjusted comparison: the same contrasts without adjustment."""

    def side_by_side(self, *, backend: Backend = "pandas") -> Any:
        """Unadjusted and adjusted lifts of each contrast next to each other, with the covariates named."""
        if self.unadjusted is None:
            raise ValueError("side_by_side() needs an adjusted comparison: compare(..., adjust_for=[...])")
        records = [
            {
                "metric": a.metric,
                "control": a.control,
                "treatment": a.treatment,
                "unadjusted_lift": u.rel_lift,
                "unadjusted_ci_low": u.rel_ci_low,
                "unadjusted_ci_high": u.rel_ci_high,
                "unadjusted_p": u.p_adjusted,
                "adjusted_lift": a.rel_lift,
                "adjusted_ci_low": a.rel_ci_low,
                "adjusted_ci_high": a.rel_ci_high,
                "adjusted_p": a.p_adjusted,
                "adjusted_for": ", ".join(self.adjusted_for),
            }
            for u, a in zip(self.unadjusted.rows, self.rows, strict=True)
        ]
        return _frame(records, list(records[0]) if records else [], backend)

    def to_frame(self, *, backend: Backend = "pandas") -> Any:
        """The contrasts as a tidy frame with the columns of ``engagement_lab.columns.COMPARISON``."""
        return _frame([asdict(r) for r in self.rows], list(C.COMPARISON), backend)

    def to_csv(self, path: str | Path | None = None) -> str | None:
        """The contrasts (:meth:`to_frame`'s columns, one row each) as CSV: written to ``path``, or returned as a
        string when no path is given. For an adjusted comparison, :meth:`side_by_side` has both lifts."""
        return _write_csv(self.to_frame(), path)

    def to_excel(self, path: str | Path) -> Path:
        """The contrasts (:meth:`to_frame`'s columns) as an .xlsx sheet; needs openpyxl
        (``pip install 'engagement-lab[excel]'``). Returns the path written."""
        return _write_excel(self.to_frame(), path, "comparison")

    def __str__(self) -> str:
        """A short text summary for ``print(result)``: what was compared, a table, the verdicts and the notes."""
        level = f"{(1 - self.alpha) * 100:.4g}%"
        methods = ", ".join(sorted({r.method for r in self.rows}))
        bys = ", ".join(dict.fromkeys(r.by for r in self.rows))
        metrics = ", ".join(dict.fromkeys(r.metric for r in self.rows))
        held = f"; holding {', '.join(self.adjusted_for)} fixed" if self.adjusted_for else ""
        p_header = "p (no correction)" if self.correction == "none" else f"p ({correction_name(self.correction)})"
        rows = [
            (
                r.metric,
                f"{r.treatment} vs {r.control}",
                f"{r.n_treatment:,} vs {r.n_control:,}",
                format_value(r.treatment_value, r.metric),
                format_value(r.control_value, r.metric),
                f"{percent(r.rel_lift)} [{percent(r.rel_ci_low)}, {percent(r.rel_ci_high)}]",
                p_number(r.p_adjusted),
            )
            for r in self.rows
        ]
        headers = ("metric", "comparison", "tweets", "treatment", "control", f"lift [{level} CI]", p_header)
        lines = [
            f"Comparison of {metrics} by {bys} ({methods}; alpha {self.alpha:g}{held})",
            _text_table(headers, rows),
            *_indented("verdicts:", self.verdicts()),
            *_indented("unadjusted:", self.unadjusted.verdicts() if self.unadjusted is not None else []),
            *_indented("notes:", list(self.notes)),
            "(to_frame() has every column; to_csv() writes them)",
        ]
        return "\n".join(lines)

    __repr__ = __str__

    def verdicts(self) -> list[str]:
        """One terse line per contrast, with the lift, its interval and the adjusted p-value."""
        return [row.verdict(self.correction) for row in self.rows]

    def headlines(self) -> list[str]:
        """One plain-language sentence per contrast, e.g. "Variant B got 11% more engagements per impression
        than A (95% interval: 3% fewer to 27% more); we can't rule out no difference (p = 0.061)."."""
        return [headline(row, correction=self.correction, n_contrasts=len(self.rows)) for row in self.rows]

    def bayesian(self, *, prior_sd: float | None = None, prior_mean: float = 0.0, backend: Backend = "pandas") -> Any:
        """Gaussian posterior of each relative lift: chance to beat control, expected losses, credible interval.

        ``prior_sd=None`` is a flat prior; e.g. 0.3 is a proper N(0, 0.3²) prior on the lift.
        """
        check_backend(backend)
        records = []
        for r in self.rows:
            if r.rel_scale == "log":
                log_ratio = math.log1p(r.rel_lift) if r.rel_lift > -1 else math.nan
                post = bayesian_lift_on_log(
                    log_ratio, r.rel_se, prior_mean=prior_mean, prior_sd=prior_sd, alpha=r.alpha
                )
            else:
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
        """Always-valid (confidence-sequence) interval and p-value of each effect, safe under peeking.

        On the scale of each row's verdict (relative lift, or absolute difference where that is the scale) and
        with the comparison's ``alternative``: a one-sided comparison gets the one-sided sequence and the
        p-value that inverts it.
        """
        check_backend(backend)
        records = []
        for r in self.rows:
            absolute = r.p_scale == "absolute"
            on_log = not absolute and r.rel_scale == "log"
            estimate, se = (r.abs_diff, r.se) if absolute else (r.rel_lift, r.rel_se)
            center = (math.log1p(estimate) if estimate > -1 else math.nan) if on_log else estimate
            cs = confidence_sequence(
                center,
                se,
                r.n_control + r.n_treatment,
                alpha=r.alpha,
                tuning=tuning,
                alternative=check_alternative(r.alternative),
            )
            low, high = (math.expm1(cs.interval[0]), math.expm1(cs.interval[1])) if on_log else cs.interval
            low = low if absolute else max(low, -1.0)  # a lift cannot fall below -100%
            records.append(
                {
                    "metric": r.metric,
                    "control": r.control,
                    "treatment": r.treatment,
                    "scale": "absolute" if absolute else "relative",
                    "estimate": estimate,
                    "cs_low": low,
                    "cs_high": high,
                    "always_valid_p": cs.p_value,
                    "n": cs.n,
                }
            )
        columns = ["metric", "control", "treatment", "scale", "estimate", "cs_low", "cs_high", "always_valid_p", "n"]
        return _frame(records, columns, backend)

    def chart(self) -> Any:
        """Forest plot of the relative lifts with their intervals (Altair)."""
        from ..viz.charts import forest_plot

        return forest_plot(self.to_frame(backend="polars"), correction=self.correction)

    def _short_names(self) -> dict[str, str]:
        """Each group label -> its displayed form, distinct for distinct labels (``… #2`` where two start alike)."""
        return short_labels(label for r in self.rows for label in (r.control, r.treatment))

    def _shorter(self, text: str, names: dict[str, str]) -> str:
        """``text`` (a verdict or note) with each long group label in its short form (the table's tooltips and
        :meth:`to_frame` have them whole); longest first, so a label that starts another never cuts into it."""
        for name in sorted(names, key=len, reverse=True):
            if len(name) > SHOWN_LENGTH:
                text = text.replace(name, names[name])
        return text

    def _repr_html_(self) -> str:
        level = f"{(1 - self.alpha) * 100:.4g}%"
        label = correction_name(self.correction)
        headers = (
            "metric",
            "control",
            "treatment",
            "tweets (control / treatment)",
            "control value",
            "treatment value",
            f"lift [{level} CI]",
            "p",
            "p (no correction)" if self.correction == "none" else f"p ({label})",
            "design effect",
        )
        head = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in headers) + "</tr>"
        names = self._short_names()
        body = []
        for r in self.rows:
            cells = (
                r.metric,
                f"{r.n_control} / {r.n_treatment}",
                format_value(r.control_value, r.metric),
                format_value(r.treatment_value, r.metric),
                f"{percent(r.rel_lift)} [{percent(r.rel_ci_low)}, {percent(r.rel_ci_high)}]",
                p_number(r.p_value),
                p_number(r.p_adjusted),
                "" if math.isnan(r.deff) else f"{r.deff:.1f}",
            )
            shown = [escape(str(c)) for c in cells]
            # long labels: short (and distinct), whole in the tooltip
            shown[1:1] = [
                html_label(r.control, short=names[r.control]),
                html_label(r.treatment, short=names[r.treatment]),
            ]
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in shown) + "</tr>")
        verdicts = "".join(f"<li>{escape(self._shorter(v, names))}</li>" for v in self.verdicts())
        if self.unadjusted is not None:
            verdicts += "".join(
                f"<li><small>unadjusted: {escape(self._shorter(v, names))}</small></li>"
                for v in self.unadjusted.verdicts()
            )
        verdicts += "".join(
            f"<li><small>{html_label(r.treatment, short=names[r.treatment])} vs "
            f"{html_label(r.control, short=names[r.control])}: {escape(self._shorter(note.text, names))}</small></li>"
            for r in self.rows
            for note in r.notes
            if note.code in SHOWN_NOTES
        )
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
class Summary(HtmlDisplay):
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

    def to_csv(self, path: str | Path | None = None) -> str | None:
        """The groups (:meth:`to_frame`'s columns) as CSV: written to ``path``, or returned when no path is given."""
        return _write_csv(self.to_frame(), path)

    def to_excel(self, path: str | Path) -> Path:
        """The groups as an .xlsx sheet; needs openpyxl (``pip install 'engagement-lab[excel]'``)."""
        return _write_excel(self.to_frame(), path, "summary")

    def __str__(self) -> str:
        """A short text table for ``print(summary)``: each group's tweets, estimate and interval."""
        level = f"{(1 - self.alpha) * 100:.4g}%"
        rows = [
            (r.group, f"{r.n:,}", format_value(r.value, r.metric),
             f"[{format_value(r.ci_low, r.metric)}, {format_value(r.ci_high, r.metric)}]")
            for r in self.rows
        ]  # fmt: skip
        what = f"{self.rows[0].metric} by {self.rows[0].by}" if self.rows else "no groups"
        return f"Summary of {what}\n" + _text_table(("group", "tweets", "estimate", f"{level} interval"), rows)

    __repr__ = __str__

    def chart(self) -> Any:
        """Per-group estimates with intervals (Altair)."""
        from ..viz.charts import estimates_plot

        return estimates_plot(self.to_frame(backend="polars"))

    def _repr_html_(self) -> str:
        names = short_labels(r.group for r in self.rows)
        rows = "".join(
            f"<tr><td>{html_label(r.group, short=names[r.group])}</td><td>{r.n}</td>"
            f"<td>{format_value(r.value, r.metric)}</td>"
            f"<td>[{format_value(r.ci_low, r.metric)}, {format_value(r.ci_high, r.metric)}]</td></tr>"
            for r in self.rows
        )
        metric = escape(self.rows[0].metric) if self.rows else ""
        return (
            f"<div><strong>Summary of {metric}</strong> ({int((1 - self.alpha) * 100)}% intervals)<table>"
            f"<tr><th>group</th><th>tweets</th><th>estimate</th><th>interval</th></tr>{rows}</table></div>"
        )
