"""One small, consistent look: colour-blind-safe palette (Okabe–Ito), readable fonts, titles."""

from __future__ import annotations

from typing import Any, Final

PALETTE: Final = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
"""Okabe & Ito (2008), distinguishable with every common colour-vision deficiency."""
WIDTH: Final = 520


def config() -> dict[str, Any]:
    """Altair/Vega-Lite config applied to every chart built here."""
    return {
        "font": "Helvetica, Arial, sans-serif",
        "range": {"category": list(PALETTE)},
        # Labels that would touch are dropped (greedy) rather than printed over each other ("-20%-15%").
        "axis": {
            "labelFontSize": 11,
            "titleFontSize": 12,
            "gridColor": "#e6e6e6",
            "labelOverlap": "greedy",
            "labelSeparation": 6,
        },
        "title": {"fontSize": 14, "anchor": "start", "subtitleFontSize": 11, "subtitleColor": "#555"},
        "view": {"stroke": None},
    }
