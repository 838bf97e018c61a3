"""Charts in a user's own notebook: no setup call, no internet. A fresh kernel executes a plain notebook; its mime
bundles are inspected for anything that would reach the network, and headless Chromium draws the exported page
with its network log recorded."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
import pytest

from engagement_lab.viz.notebook import alt_text, render

PLAIN_NOTEBOOK = [
    "import pandas as pd\nimport engagement_lab as el",
    "tweets = pd.DataFrame({'variant': ['A'] * 6 + ['B'] * 6,\n"
    "    'impressions': [900, 1200, 800, 3000, 1500, 1000, 700, 1100, 900, 1300, 1000, 1200],\n"
    "    'engagements': [40, 50, 30, 120, 60, 20, 10, 25, 18, 30, 30, 33]})\n"
    "el.compare(tweets, metric='engagement_rate', by='variant').chart()",
    "el.summarize(tweets, metric='engagement_rate', by='variant').chart()",
]
URL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|cdn\.|jsdelivr|unpkg|import\s*\(\s*["']https?:""", re.I)


def execute_fresh(tmp_path: Path, cells: list[str], env: dict[str, str] | None = None) -> Any:
    """Run ``cells`` in a new kernel (a fresh Python process: nothing imported or enabled beforehand)."""
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        NotebookClient(
            notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return notebook


def chart_outputs(notebook: Any) -> list[dict[str, Any]]:
    return [
        out["data"]
        for cell in notebook.cells
        for out in cell.get("outputs", [])
        if "image/svg+xml" in out.get("data", {})
    ]


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return execute_fresh(tmp_path_factory.mktemp("plain"), PLAIN_NOTEBOOK, {"ENGAGEMENT_LAB_CHARTS": ""})


def test_a_fresh_kernel_draws_charts_without_setup_or_cdn(plain: Any) -> None:
    charts = chart_outputs(plain)
    assert len(charts) == 2
    for bundle in charts:
        assert set(bundle) == {"text/html", "image/svg+xml", "text/plain"}  # no Vega-Lite v6 mime type nobody draws
        assert "<svg" in bundle["image/svg+xml"][:500]
        assert not URL.search(bundle["text/html"]), URL.search(bundle["text/html"])
        assert 'alt="' in bundle["text/html"]
        assert "ngagement rate" in bundle["text/plain"]
    # The Vega bundle travels once, with the first chart; the second one uses it.
    assert len(charts[0]["text/html"]) > 500_000 > len(charts[1]["text/html"])
    assert "window.__engagementLabVega" in charts[1]["text/html"]


def test_static_mode_has_no_script(tmp_path: Path) -> None:
    notebook = execute_fresh(tmp_path, PLAIN_NOTEBOOK[:2], {"ENGAGEMENT_LAB_CHARTS": "static"})
    (bundle,) = chart_outputs(notebook)
    assert "<script" not in bundle["text/html"]
    assert "<img" in bundle["text/html"]


def test_a_renderer_the_user_chose_is_kept(tmp_path: Path) -> None:
    notebook = execute_fresh(
        tmp_path,
        ["import altair as alt\nalt.renderers.enable('json')\nimport engagement_lab.viz\nprint(alt.renderers.active)"],
    )
    assert notebook.cells[0].outputs[0]["text"].strip() == "json"


def test_wrong_mode_is_named() -> None:
    from engagement_lab import ConfigError

    with pytest.raises(ConfigError, match="did you mean 'static'"):
        render({"mark": "point"}, mode="statik")


def test_hostile_labels_stay_text() -> None:
    hostile = "</script><img src=x onerror=alert(1)>"
    spec = {
        "title": hostile,
        "data": {"values": [{"label": hostile, "n": 1}]},
        "mark": "bar",
        "encoding": {"x": {"field": "label", "type": "nominal"}, "y": {"field": "n", "type": "quantitative"}},
    }
    html = render(spec, mode="interactive")["text/html"]

    class Tags(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.found: list[tuple[str, list[str]]] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.found.append((tag, [name for name, _ in attrs]))

    parser = Tags()
    parser.feed(html)
    assert [tag for tag, _ in parser.found if tag != "script"] == ["div", "img"]  # ours only: the label is no tag
    assert not [attrs for _, attrs in parser.found if any(a.startswith("on") for a in attrs)]
    assert alt_text(spec) == hostile  # the plain-text alt is the raw title; the HTML attribute is escaped


def test_alt_text_prefers_the_description() -> None:
    assert alt_text({"description": "Lift of B over A", "title": "x"}) == "Lift of B over A"
    assert alt_text({"title": {"text": "Lift", "subtitle": ["95% intervals", "Holm"]}}) == "Lift. 95% intervals. Holm"
    assert alt_text({"mark": "point"}) == "Chart"


def test_the_exported_notebook_draws_interactive_charts_offline(
    plain: Any, tmp_path: Path, headless_chromium: Callable[..., str], requests_from_page: Callable[[Path], list[str]]
) -> None:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="basic").from_notebook_node(plain)  # type: ignore[no-untyped-call]
    page = tmp_path / "plain.html"
    page.write_text(f"<!doctype html><html><head><meta charset='utf-8'></head><body>{body}</body></html>")
    netlog = tmp_path / "net.json"
    dom = headless_chromium(page, "--dump-dom", f"--log-net-log={netlog}")
    # vega-embed replaced both static pictures with live views (tooltips and zoom need the live view).
    assert dom.count('class="vega-embed') == 2, dom[:2000]
    assert 'class="engagement-lab-static"' not in dom
    assert dom.count('class="marks"') == 2
    assert requests_from_page(netlog) == []
    shot = tmp_path / "plain.png"
    headless_chromium(page, f"--screenshot={shot}", "--window-size=900,900")
    assert shot.stat().st_size > 10_000


def test_a_page_without_the_bundle_keeps_the_static_picture(
    plain: Any, tmp_path: Path, headless_chromium: Callable[..., str]
) -> None:
    second = chart_outputs(plain)[1]["text/html"]  # the first chart (with the bundle) was cleared
    page = tmp_path / "second.html"
    page.write_text(f"<!doctype html><html><body>{second}</body></html>")
    dom = headless_chromium(page, "--dump-dom")
    assert 'class="engagement-lab-static"' in dom
    assert 'class="vega-embed' not in dom
    assert 'alt="Engagement rate of each variant with its interval. A: ' in dom
