"""Chart builders: tidy frames in, Altair charts out (unconfigured, so they compose with ``|``, ``&`` and ``+``;
the package theme applies when rendering). They read frames and never import the stats module."""

from __future__ import annotations

import warnings
from typing import Any

import altair as alt
import polars as pl

from ..load.frames import to_polars
from ..metrics import SHOWN_LENGTH, is_rate, plain_name, short_label, short_labels
from .theme import WIDTH

__all__ = [
    "age_curves_plot",
    "balance_plot",
    "distribution_plot",
    "estimates_plot",
    "forest_plot",
    "funnel_plot",
    "heatmap_plot",
    "plan_plot",
    "power_curve_plot",
    "timeseries_plot",
]

_CORRECTION_NAMES = {
    "holm": "Holm",
    "bonferroni": "Bonferroni",
    "fdr_bh": "Benjamini-Hochberg",
    "fdr_by": "Benjamini-Yekutieli",
    "none": "no",
}


def _finite(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Vega-Lite cannot draw infinities: open-ended interval ends become nulls (drawn as missing)."""
    return frame.with_columns(
        [pl.when(pl.col(c).is_infinite()).then(None).otherwise(pl.col(c)).alias(c) for c in columns]
    )


def _shown(data: pl.DataFrame, column: str, into: str) -> tuple[pl.DataFrame, str]:
    """``data`` and the column to draw for ``column``'s labels: itself when every label is short, else ``into``
    holding a short form of each (distinct labels stay distinct); tooltips keep the full ``column``."""
    labels = data[column].cast(pl.String).drop_nulls().unique().to_list()
    if all(len(label) <= SHOWN_LENGTH for label in labels):
        return data, column
    mapping = short_labels(sorted(labels))
    return data.with_columns(pl.col(column).cast(pl.String).replace_strict(mapping, default=None).alias(into)), into


def _described(shown: str, column: str) -> dict[str, str]:
    """When labels were shortened, what a screen reader (and the SVG's aria-label) says of each mark: the short
    label, not the default list of every field, which would repeat the whole label once per mark."""
    return {} if shown == column else {"description": f"{shown}:N"}


def _title(name: str) -> str:
    """A column name as an axis or legend title (shortened: a title is drawn text too)."""
    return short_label(name.replace("_", " "), 2 * SHOWN_LENGTH)


def forest_plot(comparison: Any, *, correction: str = "holm") -> alt.LayerChart:
    """Relative lift of each contrast with its interval, a zero line, and the correction named.

    ``comparison`` is the frame of ``Comparison.to_frame()`` (either backend).
    """
    data = _finite(to_polars(comparison), ["rel_lift", "rel_ci_low", "rel_ci_high"])
    short = short_labels(sorted({*data["treatment"].to_list(), *data["control"].to_list()}))
    data = data.with_columns(
        contrast=pl.col("treatment") + " vs " + pl.col("control"),
        shown=pl.col("treatment").replace_strict(short) + " vs " + pl.col("control").replace_strict(short),
        significant=pl.when(pl.col("p_adjusted") < pl.col("alpha"))
        .then(pl.lit("significant"))
        .otherwise(pl.lit("not significant")),
    )
    shown = "shown" if any(len(label) > SHOWN_LENGTH for label in short) else "contrast"
    y = alt.Y(f"{shown}:N", title="comparison (treatment vs control)", sort=None)
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
        **_described(shown, "contrast"),
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
    metrics = sorted(set(data["metric"].to_list()))
    metric = ", ".join(plain_name(m)[0].lower() for m in metrics)
    named = _CORRECTION_NAMES.get(correction, correction)
    level = f"{(1 - data['alpha'][0]) * 100:.4g}%"
    subtitle = f"{level} intervals; p-values adjusted by {named}"
    described = "; ".join(
        f"{r['shown']}: {_pct(r['rel_lift'])} ({_pct(r['rel_ci_low'])} to {_pct(r['rel_ci_high'])})"
        for r in data.iter_rows(named=True)
    )
    chart: alt.LayerChart = (zero + rule + point).properties(
        width=WIDTH,
        height=max(60, 36 * data.height),
        title=alt.Title(f"Lift in {metric}", subtitle=subtitle),
        description=f"Relative lift in {metric} against the control, with {level} intervals. {described}.",
    )
    return chart


def _pct(x: float | None) -> str:
    return "no bound" if x is None else f"{x * 100:+.1f}%"


def _value(x: float, metric: str) -> str:
    return f"{x * 100:.2f}%" if is_rate(metric) else f"{x:,.4g}"


def estimates_plot(summary: Any) -> alt.LayerChart:
    """Per-group estimates with intervals (``Summary.to_frame()``)."""
    data, shown = _shown(to_polars(summary), "group", "shown")
    metric, by = data["metric"][0], data["by"][0]
    title = plain_name(metric)[0]
    base = alt.Chart(data.to_pandas())
    y = alt.Y(f"{shown}:N", title=_title(by), sort=None)
    axis = alt.Axis(format="%") if is_rate(metric) else alt.Axis()
    rule = base.mark_rule(strokeWidth=2, color="#0072B2").encode(
        x=alt.X("ci_low:Q", title=title, axis=axis), x2="ci_high:Q", y=y
    )
    point = base.mark_point(filled=True, size=80, color="#0072B2").encode(
        x="value:Q",
        y=y,
        **_described(shown, "group"),
        tooltip=[
            "group:N",
            "n:Q",
            alt.Tooltip("value:Q", format=".4g"),
            alt.Tooltip("ci_low:Q", format=".4g"),
            alt.Tooltip("ci_high:Q", format=".4g"),
        ],
    )
    described = "; ".join(
        f"{r[shown]}: {_value(r['value'], metric)} ({_value(r['ci_low'], metric)} to {_value(r['ci_high'], metric)})"
        for r in data.iter_rows(named=True)
    )
    chart: alt.LayerChart = (rule + point).properties(
        width=WIDTH,
        height=max(60, 36 * data.height),
        title=f"{title} by {_title(by)}",
        description=f"{title} of each {_title(by)} with its interval. {described}.",
    )
    return chart


OUTLIER_IQRS = 3.0
"""A per-tweet axis ends at most this many interquartile ranges beyond the quartiles (Tukey's "far out")..."""
OUTLIER_QUANTILE = 0.99
"""...but never inside the 1st/99th percentiles: at most about 1% of tweets on each side are drawn at an edge."""


def _axis_limits(values: pl.Series) -> tuple[float, float, int, int]:
    """The drawn range of ``values`` and how many lie below / above it: the data's own ends, or Tukey's far-out
    fences widened to the 1st/99th percentiles when far-out values would squeeze every other tweet into a corner.
    Fences that would collapse the axis (most values tied, e.g. zeros) leave it whole."""
    low, high = float(values.min()), float(values.max())  # type: ignore[arg-type]
    q1, q3 = (float(values.quantile(q, "linear")) for q in (0.25, 0.75))  # type: ignore[arg-type]
    spread = OUTLIER_IQRS * (q3 - q1)
    # the percentile fences are tweets' own values (nearest rank, rounded outwards), so a fence never lands
    # between a pile of ties and the one tweet past it
    upper = max(q3 + spread, float(values.quantile(OUTLIER_QUANTILE, "higher")))  # type: ignore[arg-type]
    lower = min(q1 - spread, float(values.quantile(1 - OUTLIER_QUANTILE, "lower")))  # type: ignore[arg-type]
    lower, upper = max(lower, low), min(upper, high)
    if upper <= lower:
        return low, high, 0, 0
    return lower, upper, int((values < lower).sum()), int((values > upper).sum())


def _beyond(below: int, above: int, lower: str, upper: str) -> str:
    """The subtitle naming the tweets drawn at an edge of a clipped axis ("" when none are)."""
    sides = ((above, "above", upper, "right"), (below, "below", lower, "left"))
    parts = [
        f"{n} tweet{'s' if n != 1 else ''} {side} {at} drawn at the {edge} edge" for n, side, at, edge in sides if n
    ]
    return "; ".join(parts) + " (hover for their values)" if parts else ""


def distribution_plot(per_tweet: Any, *, metric: str, by: str, log: bool = False) -> alt.LayerChart:
    """Per-tweet values of ``metric`` by group: a box per group with every tweet as a jittered point.

    Outliers never squeeze the chart: on a linear axis (``log=False``) tweets far beyond the quartiles (over
    ``OUTLIER_IQRS`` interquartile ranges, and beyond the 1st/99th percentiles) are drawn at the axis's edge and
    counted in the subtitle; their tooltips keep the real value. ``log=True`` draws every positive value instead.
    """
    data = to_polars(per_tweet).select(by, metric).drop_nulls()
    if log:
        data = data.filter(pl.col(metric) > 0)
    # a deterministic, evenly spread jitter (golden-ratio sequence), so saved charts are reproducible
    data = data.with_columns(jitter=(pl.int_range(pl.len()) * 0.6180339887) % 1.0)
    data, shown = _shown(data, by, f"{by} (shown)")
    drawn, note = metric, ""
    scale = alt.Scale(type="log") if log else alt.Scale(zero=False)
    if not log and data.height:
        lower, upper, below, above = _axis_limits(data[metric].cast(pl.Float64))
        if below or above:
            drawn = f"{metric} (drawn)"
            data = data.with_columns(pl.col(metric).cast(pl.Float64).clip(lower, upper).alias(drawn))
            scale = alt.Scale(zero=False, domain=[lower, upper], nice=False)
            note = _beyond(below, above, _value(lower, metric), _value(upper, metric))
    title = plain_name(metric)[0].removesuffix(" per tweet")  # each dot is one tweet already
    base = alt.Chart(data.to_pandas())
    axis = alt.Axis(format="%") if is_rate(metric) else alt.Axis()
    x = alt.X(f"{drawn}:Q", title=title + (" (log scale)" if log else ""), scale=scale, axis=axis)
    y = alt.Y(f"{shown}:N", title=_title(by))
    box = base.mark_boxplot(extent="min-max", opacity=0.35, color="#0072B2").encode(x=x, y=y)
    points = base.mark_circle(size=14, opacity=0.55, color="#0072B2").encode(
        x=x,
        y=y,
        yOffset=alt.YOffset("jitter:Q"),
        tooltip=[f"{by}:N", alt.Tooltip(f"{metric}:Q", format=",.4g")],
        **_described(shown, by),
    )
    groups = data.group_by(shown).len().sort(shown)
    counts = ", ".join(f"{g}: {n} tweets" for g, n in groups.iter_rows())
    heading = f"{title} of each tweet, by {_title(by)}"
    chart: alt.LayerChart = (box + points).properties(
        width=WIDTH,
        height=max(90, 50 * data[by].n_unique()),
        title=alt.Title(heading, subtitle=note) if note else heading,
        description=f"Every tweet's {title.lower()} by {_title(by)}: a box per group and each tweet as "
        f"a dot ({counts}){'; ' + note if note else ''}.",
    )
    return chart


def _by(function: str, by: str | None, group: str | None) -> str | None:
    """The group column: ``by``, or its deprecated old name ``group`` (with a warning)."""
    if group is None:
        return by
    warnings.warn(
        f"{function}(group=...) is deprecated; use {function}(by=...), the name the group column has everywhere",
        DeprecationWarning,
        stacklevel=3,
    )
    if by is not None:
        raise ValueError(f"give {function}(by=...) only: group= is its old name")
    return group


def timeseries_plot(
    series: Any,
    *,
    x: str = "timestamp",
    value: str = "value",
    by: str | None = None,
    title: str = "",
    group: str | None = None,
) -> alt.Chart:
    """A line per group over time (hourly ``timestamp`` or daily ``day``), from a tidy or daily frame.

    ``by`` is the group column (one line for all when None); ``group=`` is its old name, deprecated (it still
    works, with a ``DeprecationWarning``, for one release).
    """
    by = _by("timeseries_plot", by, group)
    data = to_polars(series)
    keys = [x, *([by] if by else [])]
    summed = data.group_by(keys).agg(pl.col(value).sum()).sort(keys)
    encoding: dict[str, Any] = {
        "x": alt.X(f"{x}:T", title=x),
        "y": alt.Y(f"{value}:Q", title=value),
        "tooltip": [alt.Tooltip(f"{x}:T"), alt.Tooltip(f"{value}:Q", format=",")],
    }
    if by:
        summed, shown = _shown(summed, by, f"{by} (shown)")
        encoding["color"] = alt.Color(f"{shown}:N", title=_title(by))
        encoding["tooltip"] = [*encoding["tooltip"], alt.Tooltip(f"{by}:N")]
    chart: alt.Chart = alt.Chart(summed.to_pandas()).mark_line(interpolate="monotone").encode(**encoding)
    return chart.properties(width=WIDTH, height=220, title=title or f"{value} over time")


def age_curves_plot(
    curves: Any, *, by: str | None = None, value: str = "share", max_hours: int = 168, group: str | None = None
) -> alt.LayerChart:
    """Median curve by tweet age with an interquartile band, per group (``by_age`` output joined to ``by``).

    ``by`` is a column of ``curves`` or None for all tweets together; ``group=`` is its old name, deprecated (it
    still works, with a ``DeprecationWarning``, for one release).
    """
    by = _by("age_curves_plot", by, group)
    data = to_polars(curves).filter(pl.col("age_hours") < max_hours)
    keys = ["age_hours", *([by] if by else [])]
    summary = (
        data.group_by(keys)
        .agg(
            pl.col(value).median().alias("median"),
            pl.col(value).quantile(0.25).alias("q25"),
            pl.col(value).quantile(0.75).alias("q75"),
        )
        .sort(keys)
    )
    shown = by
    if by:
        summary, shown = _shown(summary, by, f"{by} (shown)")
    base = alt.Chart(summary.to_pandas())
    # one colour encoding for both layers: Vega-Lite merges them into one legend (a layer with legend=None would
    # switch the merged legend off)
    color = alt.Color(f"{shown}:N", title=_title(by)) if by else alt.value("#0072B2")
    last = summary.select(pl.col("age_hours").max().cast(pl.Float64)).item() if summary.height else float(max_hours)
    x = alt.X("age_hours:Q", title="hours since posting", scale=alt.Scale(domain=[0, last], nice=False))
    band = base.mark_area(opacity=0.2).encode(
        x=x, y=alt.Y("q25:Q", title=f"{value} (median, IQR band)"), y2="q75:Q", color=color
    )
    line = base.mark_line().encode(
        x=x, y="median:Q", color=color, tooltip=[*keys, alt.Tooltip("median:Q", format=".3g")]
    )
    chart: alt.LayerChart = (band + line).properties(width=WIDTH, height=240, title=f"{value} by tweet age")
    return chart


def heatmap_plot(profile: Any, *, value: str = "value") -> alt.Chart:
    """Hour-of-day by weekday heatmap (``hour_weekday_profile`` output), titled with its metric and time zone."""
    data = to_polars(profile)
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    metric = data["metric"][0] if "metric" in data.columns and data.height else value
    zone = f" ({data['tz'][0]})" if "tz" in data.columns and data.height else ""
    label = metric if value == "value" else f"{metric} {value}"
    chart: alt.Chart = (
        alt.Chart(data.to_pandas())
        .mark_rect()
        .encode(
            x=alt.X("hour:O", title=f"hour of day{zone}"),
            y=alt.Y("weekday:N", sort=days, title="weekday"),
            color=alt.Color(f"{value}:Q", title=label, scale=alt.Scale(scheme="blues")),
            tooltip=["weekday:N", "hour:O", alt.Tooltip(f"{value}:Q", format=",")],
        )
        .properties(width=WIDTH, height=180, title=f"{label} by weekday and hour{zone}")
    )
    return chart


def funnel_plot(
    per_tweet: Any, *, steps: tuple[str, ...] = ("impressions", "engagements", "url_clicks"), by: str | None = None
) -> alt.Chart:
    """Totals along a metric funnel (impressions -> engagements -> clicks), with each step's share of the first."""
    data = to_polars(per_tweet)
    present = [s for s in steps if s in data.columns]
    if not present:
        raise ValueError(f"none of the funnel steps {steps} are columns of the frame")
    keys = [by] if by else []
    totals = (
        data.group_by(keys).agg([pl.col(s).sum() for s in present])
        if keys
        else data.select([pl.col(s).sum() for s in present])
    )
    long = totals.unpivot(index=keys, on=present, variable_name="step", value_name="total")
    first = pl.col("total").first().over(by) if by else pl.col("total").first()
    long = long.with_columns(share=pl.col("total") / first)
    encoding: dict[str, Any] = {
        "x": alt.X("total:Q", title="total", scale=alt.Scale(type="log")),
        "y": alt.Y("step:N", sort=present, title="funnel step"),
        "tooltip": ["step:N", alt.Tooltip("total:Q", format=","), alt.Tooltip("share:Q", format=".2%")],
    }
    if by:
        encoding["color"] = alt.Color(f"{by}:N", title=_title(by))
        encoding["yOffset"] = alt.YOffset(f"{by}:N")
    chart: alt.Chart = alt.Chart(long.to_pandas()).mark_bar().encode(**encoding)
    return chart.properties(width=WIDTH, height=60 * len(present), title="funnel (log scale)")


def power_curve_plot(curve: Any) -> alt.Chart:
    """Tweets per arm needed against the relative lift to detect (a frame with ``lift`` and ``n_per_arm``)."""
    data = to_polars(curve)
    chart: alt.Chart = (
        alt.Chart(data.to_pandas())
        .mark_line(point=True)
        .encode(
            x=alt.X("lift:Q", title="relative lift to detect", axis=alt.Axis(format="+%")),
            y=alt.Y("n_per_arm:Q", title="tweets per arm", scale=alt.Scale(type="log")),
            tooltip=[alt.Tooltip("lift:Q", format="+.0%"), alt.Tooltip("n_per_arm:Q", format=",.0f")],
        )
        .properties(width=WIDTH, height=240, title="tweets needed per arm")
    )
    return chart


def plan_plot(curve: Any, *, target: float, lift: float, needed: float | None = None) -> alt.LayerChart:
    """Power against tweets per arm (a frame with ``n_per_arm`` and ``power``, e.g. ``Plan.to_frame()``), with the
    target power as a dashed line and, when given, the tweets per arm that reach it."""
    data = to_polars(curve)
    x = alt.X("n_per_arm:Q", title="tweets per arm", scale=alt.Scale(type="log"))
    line = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y("power:Q", title="power", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            tooltip=[alt.Tooltip("n_per_arm:Q", format=",.0f"), alt.Tooltip("power:Q", format=".0%")],
        )
    )
    target_rule = alt.Chart(pl.DataFrame({"power": [target]})).mark_rule(strokeDash=[4, 3], color="#999")
    layers = line + target_rule.encode(y="power:Q")
    if needed is not None and needed == needed and needed != float("inf"):
        answer = alt.Chart(pl.DataFrame({"n_per_arm": [needed]})).mark_rule(color="#d62728")
        layers = layers + answer.encode(x=x, tooltip=[alt.Tooltip("n_per_arm:Q", format=",.0f")])
    chart: alt.LayerChart = layers.properties(width=WIDTH, height=240, title=f"power to tell a {lift:+.0%} lift")
    return chart


def balance_plot(balance: Any, *, threshold: float = 0.1) -> alt.LayerChart:
    """The largest |standardised mean difference| of each covariate per group (from ``stats.balance``), with the
    usual 0.1 line: covariates past it are ones a raw comparison mixes in."""
    data = to_polars(balance).with_columns(abs_smd=pl.col("smd").abs().clip(upper_bound=5.0))
    worst = (
        data.group_by("covariate", "group")
        .agg(pl.col("abs_smd").max(), pl.col("level").sort_by("abs_smd").last())
        .sort("covariate", "group")  # a stable order: the same chart every time
    )
    worst, covariate = _shown(worst, "covariate", "covariate (shown)")
    worst, group = _shown(worst, "group", "group (shown)")
    points = (
        alt.Chart(worst)
        .mark_circle(size=90)
        .encode(
            x=alt.X("abs_smd:Q", title="largest |standardised mean difference| vs control"),
            y=alt.Y(f"{covariate}:N", title="covariate"),
            color=alt.Color(f"{group}:N", title="group"),
            tooltip=["covariate", "group", "level", alt.Tooltip("abs_smd:Q", format=".2f")],
        )
    )
    rule = alt.Chart(pl.DataFrame({"x": [threshold]})).mark_rule(strokeDash=[4, 3], color="#999").encode(x="x:Q")
    chart: alt.LayerChart = (rule + points).properties(width=WIDTH, title="Covariate balance between groups")
    return chart
