"""The notebook renderer: charts that draw without internet in JupyterLab, Notebook, VS Code and nbconvert.

Altair 6 emits the Vega-Lite v6 mime type, which today's front ends do not render, and its ``html`` renderer loads
Vega from a CDN. This renderer answers with three representations of one chart:

* ``text/html``: the static SVG as an image (drawn even where scripts never run: untrusted notebooks, e-mail,
  GitHub) plus a script that swaps it for the interactive Vega view (tooltips, zoom). The Vega bundle comes from
  vl-convert, which is installed with us; it travels inside the first chart a Python process draws, and every
  later chart finds it in the page. A chart whose page has no bundle (the first chart's output was cleared and
  the notebook reopened) keeps its static picture: never an error box, never a network request.
* ``image/svg+xml``: the same static SVG, for PDFs, nbval and tools that skip HTML.
* ``text/plain``: the chart's description (its alt text) for terminals and screen readers.

``static`` mode (``ENGAGEMENT_LAB_CHARTS=static`` or ``mode="static"``) leaves out the script: for notebooks
committed to git and for the report, which carries no scripts.

Written here rather than taken from Altair because Altair's offline options either need a widget (JupyterChart:
blank in exported HTML and in reopened notebooks without a kernel) or inline the 900 kB bundle into every chart.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from functools import cache
from html import escape
from typing import Any, Final

from ..errors import ConfigError, check_choice

__all__ = ["CHARTS_ENV", "RENDERER", "alt_text", "render"]

RENDERER: Final = "engagement_lab"
CHARTS_ENV: Final = "ENGAGEMENT_LAB_CHARTS"
"""``interactive`` (default) or ``static``: static omits the script (for notebooks committed to git)."""
_MODES: Final = ("interactive", "static")
_WAIT_MS: Final = 10_000  # how long a chart waits for an earlier output's bundle before staying static

_state = {"bundle_sent": False}


class ScriptSafeJSON(json.JSONEncoder):
    """JSON that cannot end the ``<script>`` it is embedded in: ``<``, ``>`` and ``&`` inside strings become
    ``\\u003c``-style escapes (the decoded value is unchanged), so a label such as ``</script><img onerror=…>``
    stays text in a chart's HTML."""

    def encode(self, o: Any) -> str:
        return super().encode(o).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@cache
def _vl_version() -> str:
    from altair.utils._importers import vl_version_for_vl_convert

    return str(vl_version_for_vl_convert())


@cache
def _bundle() -> str:
    import vl_convert

    bundle = str(vl_convert.javascript_bundle(vl_version=_vl_version()))  # type: ignore[call-arg]
    if "</script" in bundle.lower():  # cannot be embedded in a <script> element as it is
        raise ConfigError("the installed vl-convert's JavaScript bundle cannot be inlined; upgrade vl-convert")
    return bundle


def svg(spec: dict[str, Any]) -> str:
    """The chart as SVG, drawn by vl-convert (no browser, no network)."""
    import vl_convert

    return str(vl_convert.vegalite_to_svg(spec, vl_version=_vl_version()))


def alt_text(spec: dict[str, Any]) -> str:
    """What the chart shows, in words: its ``description`` when it has one, else its title and subtitle."""
    if isinstance(spec.get("description"), str) and spec["description"].strip():
        return str(spec["description"]).strip()
    title = spec.get("title")
    parts: list[str] = []
    if isinstance(title, str):
        parts.append(title)
    elif isinstance(title, list):
        parts.extend(str(t) for t in title)
    elif isinstance(title, dict):
        for key in ("text", "subtitle"):
            value = title.get(key)
            parts.extend([str(v) for v in value] if isinstance(value, list) else [str(value)] if value else [])
    return ". ".join(p.strip() for p in parts if p and p.strip()) or "Chart"


# The bundle declares top-level ``const``s, so a second evaluation in one page throws ("Identifier 'Ti' has
# already been declared"). That happens whenever a page sees a second kernel's first chart: after Restart Kernel
# and Run All, or with two notebooks open in one JupyterLab page. So the bundle runs inside a function (its
# declarations stay local), and only when the page has no copy yet; a page that has one keeps using it. The
# vega/vegaEmbed globals another renderer may have put on the page are kept and put back after the bundle ran.
_BUNDLE_BEFORE: Final = (
    "<script>(function(){if(window.__engagementLabVega)return;"
    "var saved={vegaEmbed:window.vegaEmbed,vega:window.vega,vegaLite:window.vegaLite};"
    "(function(){\n"
)
_BUNDLE_AFTER: Final = (
    "\n})();window.__engagementLabVega={embed:window.vegaEmbed};"
    "window.vegaEmbed=saved.vegaEmbed;window.vega=saved.vega;window.vegaLite=saved.vegaLite;})();</script>"
)
_DRAW_JS = """(function () {
  var host = document.getElementById("%(id)s"), spec = %(spec)s, waited = 0;
  function draw() {
    var lib = window.__engagementLabVega;
    if (!lib) { if ((waited += 100) <= %(wait)d) { setTimeout(draw, 100); } return; }
    var target = document.createElement("div");
    host.appendChild(target);
    lib.embed(target, spec, {renderer: "svg", actions: {export: true, source: false, compiled: false, editor: false}})
      .then(function () { var still = host.querySelector(".engagement-lab-static"); if (still) still.remove(); })
      .catch(function (error) { target.remove(); console.warn("engagement_lab: chart stays static:", error); });
  }
  draw();
})();"""


def render(spec: dict[str, Any], **options: Any) -> dict[str, str]:
    """Altair renderer: ``text/html`` (static image + interactive upgrade), ``image/svg+xml`` and ``text/plain``.

    Options (``alt.renderers.enable("engagement_lab", mode="static")``): ``mode`` is ``"interactive"`` or
    ``"static"``; by default the ``ENGAGEMENT_LAB_CHARTS`` environment variable, else ``"interactive"``.
    """
    mode = options.get("mode") or os.environ.get(CHARTS_ENV, "").strip() or "interactive"
    check_choice(f"chart mode ({CHARTS_ENV} or mode=)", mode, _MODES, ConfigError)
    picture = svg(spec)
    text = alt_text(spec)
    chart_id = f"engagement-lab-chart-{uuid.uuid4().hex}"
    image = base64.b64encode(picture.encode("utf-8")).decode("ascii")
    html = (
        f'<div class="engagement-lab-chart" id="{chart_id}">'
        f'<img class="engagement-lab-static" alt="{escape(text)}" src="data:image/svg+xml;base64,{image}"></div>'
    )
    if mode == "interactive":
        if not _state["bundle_sent"]:
            html += _BUNDLE_BEFORE + _bundle() + _BUNDLE_AFTER
            _state["bundle_sent"] = True
        spec_json = json.dumps(spec, cls=ScriptSafeJSON)
        html += "<script>" + _DRAW_JS % {"id": chart_id, "spec": spec_json, "wait": _WAIT_MS} + "</script>"
    return {"text/html": html, "image/svg+xml": picture, "text/plain": text}
