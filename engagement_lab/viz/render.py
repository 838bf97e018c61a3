"""Offline rendering: charts as SVG/PNG in notebooks (vl-convert, no CDN) and saved to .svg, .png, .pdf or a
self-contained .html whose JavaScript is inlined."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import altair as alt

from ..errors import DataError
from .theme import config

__all__ = ["THEME", "enable_offline", "save_chart"]

THEME = "engagement_lab"


@alt.theme.register(THEME, enable=False)
def _theme() -> alt.theme.ThemeConfig:
    return {"config": config()}  # type: ignore[typeddict-item]


def enable_offline(renderer: str = "svg") -> None:
    """Render charts in notebooks without internet: the ``svg`` (default) or ``png`` renderer, via vl-convert,
    and the package theme. Altair's default renderer loads Vega from a CDN and shows nothing offline."""
    if renderer not in ("svg", "png"):
        raise DataError(f"renderer must be 'svg' or 'png' (offline), got {renderer!r}")
    alt.renderers.enable(renderer)
    alt.theme.enable(THEME)


class ScriptSafeJSON(json.JSONEncoder):
    """JSON that cannot end the ``<script>`` it is embedded in: ``<``, ``>`` and ``&`` inside strings become
    ``\\u003c``-style escapes (the decoded value is unchanged), so a label such as ``</script><img onerror=…>``
    stays text in a saved HTML chart."""

    def encode(self, o: Any) -> str:
        return super().encode(o).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def save_chart(chart: Any, path: str | Path, *, scale: float = 2.0) -> Path:
    """Save a chart to ``.svg``, ``.png``, ``.pdf`` or a self-contained ``.html`` (inline JS, no CDN)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".svg", ".png", ".pdf", ".html"):
        raise DataError(f"save_chart writes .svg, .png, .pdf or .html, got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with alt.theme.enable(THEME):
        if suffix == ".html":
            chart.save(str(path), inline=True, json_kwds={"cls": ScriptSafeJSON})
        elif suffix == ".png":
            chart.save(str(path), scale_factor=scale)
        else:
            chart.save(str(path))
    return path
