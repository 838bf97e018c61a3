"""Altair chart builders and offline rendering. Consumes tidy frames; never imports the stats module."""

from __future__ import annotations

from .charts import (
    age_curves_plot,
    balance_plot,
    distribution_plot,
    estimates_plot,
    forest_plot,
    funnel_plot,
    heatmap_plot,
    plan_plot,
    power_curve_plot,
    timeseries_plot,
)
from .render import enable_offline, save_chart

__all__ = [
    "age_curves_plot",
    "balance_plot",
    "distribution_plot",
    "enable_offline",
    "estimates_plot",
    "forest_plot",
    "funnel_plot",
    "heatmap_plot",
    "plan_plot",
    "power_curve_plot",
    "save_chart",
    "timeseries_plot",
]
