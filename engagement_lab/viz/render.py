"""Offline rendering: charts draw in notebooks without a setup call or internet (the ``engagement_lab`` renderer,
enabled on import unless the user chose a renderer of their own) and save to .svg, .png, .pdf or a
self-contained .html whose JavaScript is inlined."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import altair as alt

from ..errors import ConfigError, DataError, check_choice
from .notebook import RENDERER, ScriptSafeJSON, render
from .theme import config

__all__ = ["RENDERER", "THEME", "enable_offline", "save_chart"]

THEME = "engagement_lab"


@alt.theme.register(THEME, enable=False)
def _theme() -> alt.theme.ThemeConfig:
    return {"config": config()}  # type: ignore[typeddict-item]


alt.renderers.register(RENDERER, render)
# Altair's own default emits the Vega-Lite v6 mime type, which JupyterLab 4, Notebook 7 and nbconvert draw as
# nothing; a renderer or theme the user picked before importing us is theirs and stays.
if alt.renderers.active == "default":
    alt.renderers.enable(RENDERER)
if alt.theme.active == "default":
    alt.theme.enable(THEME)

_RENDERERS = ("interactive", "static", "svg", "png")


def enable_offline(renderer: str = "interactive") -> None:
    """Choose how charts draw in notebooks, without internet either way, and apply the package theme.

    ``"interactive"`` (the default on import: tooltips and zoom where the front end runs JavaScript, a static
    picture elsewhere), ``"static"`` (the same picture without the script: for notebooks committed to git), or
    Altair's ``"svg"``/``"png"`` renderers. Only needed to switch back after choosing another renderer.
    """
    check_choice("renderer", renderer, _RENDERERS, ConfigError)
    if renderer in ("svg", "png"):
        alt.renderers.enable(renderer)
    else:
        alt.renderers.enable(RENDERER, mode=renderer)
    alt.theme.enable(THEME)


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
