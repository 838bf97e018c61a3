"""Altair chart builders and offline rendering. Consumes tidy frames; never imports the stats module."""

from __future__ import annotations

from .charts import estimates_plot, forest_plot
from .render import enable_offline, save_chart

__all__ = ["enable_offline", "estimates_plot", "forest_plot", "save_chart"]
