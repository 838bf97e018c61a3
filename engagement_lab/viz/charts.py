"""Chart builders: tidy frames in, Altair charts out (unconfigured, so they compose with ``|``, ``&`` and ``+``;
the package theme applies when rendering). They read frames and never import the stats module."""

from __future__ import annotations

from typing import Any

import altair as alt
import polars as pl

from .theme import WIDTH

__all__ = ["estimates_plot", "forest_plot"]

_CORRECTION_NAMES = {
    "holm": "Holm",
    "bonferroni": "Bonferroni",
    "fdr_bh": "Benjamini-Hochberg",
    "fdr_by": "Benjamini-Yekutieli",
    "none": "no",
}


def _polars(frame: Any) -> pl.DataFrame:
    if isinstance(frame, pl.DataFrame):
        return frame
    return pl.from_pandas(frame) if hasattr(frame, "to_dict") else pl.DataFrame(frame)


def _finite(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Vega-Lite cannot draw infinities: open-ended interval ends become nulls (drawn as missing)."""
    return frame.with_columns(
        [pl.when(pl.col(c).is_infinite()).then(None).otherwise(pl.col(c)).alias(c) for c in columns]
    )


def forest_plot(comparison: Any, *, correction: str = "holm") -> alt.LayerChart:
    """Relative lift of each contrast with its interval, a zero line, and the correction named.

    ``comparison`` is the frame of ``Comparison.to_frame()`` (either backend).
    """
    data = _finite(_polars(comparison), ["rel_lift", "rel_ci_low", "rel_ci_high"]).with_columns(
        contrast=pl.col("treatment") + " vs " + pl.col("control"),
        significant=pl.when(pl.col("p_adjusted") < pl.col("alpha"))
        .then(pl.lit("significant"))
        .otherwise(pl.lit("not significant")),
    )
    y = alt.Y("contrast:N", title=None, sort=None)
    base = alt.Chart(data.to_pandas())
    rule = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("rel_ci_low:Q", title="relative lift vs control", axis=alt.Axis(format="+%")),
        x2="rel_ci_high:Q",
        y=y,
        color=alt.Color(
            "significant:N",
            title=None,
            scale=alt.Scale(domain=["significant", "not significant"], range=["#0072B2", "#999999"]),
        ),
    )
    point = base.mark_point(filled=True, size=80).encode(
        x="rel_lift:Q",
        y=y,
        color="significant:N",
        tooltip=[
            alt.Tooltip("contrast:N"),
            alt.Tooltip("metric:N"),
            alt.Tooltip("rel_lift:Q", format="+.1%"),
            alt.Tooltip("rel_ci_low:Q", format="+.1%", title="CI low"),
            alt.Tooltip("rel_ci_high:Q", format="+.1%", title="CI high"),
            alt.Tooltip("p_adjusted:Q", format=".3g", title="adjusted p"),
            alt.Tooltip("n_control:Q"),
            alt.Tooltip("n_treatment:Q"),
        ],
    )
    zero = alt.Chart(pl.DataFrame({"x": [0.0]}).to_pandas()).mark_rule(strokeDash=[4, 4], color="#333").encode(x="x:Q")
    metric = ", ".join(sorted(set(data["metric"].to_list())))
    named = _CORRECTION_NAMES.get(correction, correction)
    subtitle = f"{int((1 - data['alpha'][0]) * 100)}% intervals; p-values adjusted by {named}"
    chart: alt.LayerChart = (zero + rule + point).properties(
        width=WIDTH, height=max(60, 36 * data.height), title=alt.Title(f"Lift in {metric}", subtitle=subtitle)
    )
    return chart


def estimates_plot(summary: Any) -> alt.LayerChart:
    """Per-group estimates with intervals (``Summary.to_frame()``)."""
    data = _polars(summary)
    base = alt.Chart(data.to_pandas())
    y = alt.Y("group:N", title=data["by"][0], sort=None)
    rule = base.mark_rule(strokeWidth=2, color="#0072B2").encode(
        x=alt.X("ci_low:Q", title=data["metric"][0]), x2="ci_high:Q", y=y
    )
    point = base.mark_point(filled=True, size=80, color="#0072B2").encode(
        x="value:Q",
        y=y,
        tooltip=[
            "group:N",
            "n:Q",
            alt.Tooltip("value:Q", format=".4g"),
            alt.Tooltip("ci_low:Q", format=".4g"),
            alt.Tooltip("ci_high:Q", format=".4g"),
        ],
    )
    chart: alt.LayerChart = (rule + point).properties(
        width=WIDTH, height=max(60, 36 * data.height), title=f"{data['metric'][0]} by {data['by'][0]}"
    )
    return chart
