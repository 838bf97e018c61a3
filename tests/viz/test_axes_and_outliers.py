"""Issue #31, item 3 (charts): every axis of every chart has a title, and one huge outlier never squeezes the
per-tweet strip (the axis ends at a far-out fence, the subtitle counts the tweets drawn at the edge)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
import vl_convert

from engagement_lab import compare, summarize
from engagement_lab.stats import GroupStats, power_curve
from engagement_lab.viz import (
    age_curves_plot,
    balance_plot,
    distribution_plot,
    funnel_plot,
    heatmap_plot,
    plan_plot,
    power_curve_plot,
    timeseries_plot,
)
from engagement_lab.viz.charts import OUTLIER_IQRS

from .test_charts import TWEETS  # the same fifteen tweets the chart tests draw

_PILOT = GroupStats.from_arrays(TWEETS.engagements.to_numpy(float), TWEETS.impressions.to_numpy(float))
CHARTS: dict[str, Callable[[], Any]] = {
    "forest": lambda: compare(TWEETS, metric="engagement_rate", by="content_type", pairs="all").chart(),
    "estimates": lambda: summarize(TWEETS, metric="engagement_rate", by="content_type").chart(),
    "distribution": lambda: distribution_plot(TWEETS, metric="impressions", by="content_type"),
    "funnel": lambda: funnel_plot(TWEETS, by="content_type"),
    "power_curve": lambda: power_curve_plot(power_curve(_PILOT, [0.1, 0.2])),
    "heatmap": lambda: heatmap_plot(pl.DataFrame({"weekday": ["Mon", "Tue"], "hour": [1, 2], "value": [3, 4]})),
    "timeseries": lambda: timeseries_plot(
        pl.DataFrame({"timestamp": pd.date_range("2026-05-01", periods=4, freq="h", tz="UTC"), "value": [1, 2, 3, 4]})
    ),
    "age_curves": lambda: age_curves_plot(pl.DataFrame({"age_hours": [0, 1, 2], "share": [0.5, 0.8, 1.0]})),
    "plan": lambda: plan_plot(
        pl.DataFrame({"n_per_arm": [10, 100], "power": [0.2, 0.9]}), target=0.8, lift=0.1, needed=50
    ),
    "balance": lambda: balance_plot(
        pl.DataFrame({"covariate": ["a", "b"], "group": ["x", "x"], "level": ["", ""], "smd": [0.05, 0.3]})
    ),
}


def _axis_titles(chart: Any) -> list[str]:
    """The axis titles the drawn SVG carries (what a reader sees)."""
    svg = vl_convert.vegalite_to_svg(chart.to_json())
    return [t.strip() for t in re.findall(r'role-axis-title"[^>]*>.*?<text[^>]*>(.*?)</text>', svg, re.S)]


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_every_axis_is_labelled(name: str) -> None:
    titles = _axis_titles(CHARTS[name]())
    assert len(titles) == 2, f"{name}: axis titles {titles}"
    assert all(titles), f"{name}: an empty axis title in {titles}"


def test_the_forest_plot_names_its_rows() -> None:
    assert "comparison (treatment vs control)" in _axis_titles(CHARTS["forest"]())


def _strip(outlier: float | None, n: int = 60) -> pl.DataFrame:
    rng = np.random.default_rng(31)
    values = rng.normal(0.03, 0.005, size=2 * n).clip(0.0, None)
    if outlier is not None:
        values[7] = outlier
    return pl.DataFrame({"variant": ["A"] * n + ["B"] * n, "engagement_rate": values})


def _x_scale(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["layer"][1]["encoding"]["x"].get("scale", {})


def test_one_huge_outlier_is_drawn_at_the_edge_with_a_note() -> None:
    data = _strip(outlier=5.0)  # one tweet at 500% beside ~3%: a linear axis would crush the others to a line
    spec = distribution_plot(data, metric="engagement_rate", by="variant").to_dict()
    domain = _x_scale(spec)["domain"]
    values = data["engagement_rate"]
    q1, q3 = values.quantile(0.25, "linear"), values.quantile(0.75, "linear")
    q99 = values.quantile(0.99, "higher")
    assert domain[1] == pytest.approx(max(q3 + OUTLIER_IQRS * (q3 - q1), q99))  # Tukey's far-out fence
    assert domain[1] < 0.1  # the axis ends near the data, not at 5.0
    assert domain[0] == pytest.approx(values.min())  # nothing far out below: the data's own end
    subtitle = spec["title"]["subtitle"]
    assert "1 tweet above" in subtitle
    assert "right edge" in subtitle
    layer = spec["layer"][1]
    rows = spec["datasets"][spec["data"]["name"]]
    drawn = layer["encoding"]["x"]["field"]
    far = [r for r in rows if r["engagement_rate"] == 5.0]
    assert len(far) == 1
    assert far[0][drawn] == pytest.approx(domain[1])
    assert {"field": "engagement_rate", "format": ",.4g", "type": "quantitative"} in layer["encoding"]["tooltip"]
    assert "1 tweet above" in spec["description"]  # ...counted for screen readers too


def test_no_outlier_no_clipping() -> None:
    spec = distribution_plot(_strip(outlier=None), metric="engagement_rate", by="variant").to_dict()
    assert "domain" not in _x_scale(spec)
    assert spec["layer"][1]["encoding"]["x"]["field"] == "engagement_rate"
    assert isinstance(spec["title"], str)  # no subtitle when every tweet is drawn where it is


def test_mostly_tied_values_keep_the_whole_axis() -> None:
    """Fences that would collapse the axis (nearly every tweet at 0) leave the data's own range."""
    values = [0.0] * 199 + [0.9]
    data = pl.DataFrame({"variant": ["A", "B"] * 100, "engagement_rate": values})
    spec = distribution_plot(data, metric="engagement_rate", by="variant").to_dict()
    assert "domain" not in _x_scale(spec)


def test_log_scale_draws_every_positive_value() -> None:
    spec = distribution_plot(_strip(outlier=5.0), metric="engagement_rate", by="variant", log=True).to_dict()
    assert _x_scale(spec)["type"] == "log"
    assert "domain" not in _x_scale(spec)
    assert isinstance(spec["title"], str)
