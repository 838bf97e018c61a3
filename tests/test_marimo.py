"""Front ends beyond JupyterLab (issue #31, item 2): results render in marimo (its ``_mime_`` hook, with no marimo
import in the package) and in VS Code (the Jupyter mime bundle IPython's formatter sends, which VS Code draws).

The export test runs the real ``marimo export html`` on a small notebook over the bundled sample data (about
20 s on a busy 2-core machine, most of it marimo's own start-up and the first chart's SVG)."""

from __future__ import annotations

import ast
import base64
import html
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

import engagement_lab as el
from engagement_lab.datasets import load_sample

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "engagement_lab"
SAMPLE = ROOT / "data" / "sample"


def _html_classes() -> dict[str, list[str]]:
    """Each module's classes that write ``_repr_html_``, with the methods they define (read from the source)."""
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                methods = {f.name for f in node.body if isinstance(f, ast.FunctionDef)}
                protocol = any(isinstance(b, ast.Name) and b.id == "Protocol" for b in node.bases)
                if "_repr_html_" in methods and not protocol:
                    bases = [b.id for b in node.bases if isinstance(b, ast.Name)]
                    found[f"{path.relative_to(ROOT)}:{node.name}"] = bases + sorted(methods)
    return found


def test_every_html_result_answers_marimo() -> None:
    """A result class with ``_repr_html_`` gets ``_mime_`` from the mixin (or defines its own)."""
    classes = _html_classes()
    assert len(classes) >= 8  # Comparison, Summary, AACheck, Plan, TestResult, LoadReport, CompactResult, FetchResult
    missing = [name for name, names in classes.items() if "HtmlDisplay" not in names and "_mime_" not in names]
    assert not missing, f"classes with _repr_html_ but no _mime_ for marimo: {missing}"
    assert "import marimo" not in "".join(p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py"))


@pytest.fixture(scope="module")
def comparison() -> el.Comparison:
    sample = load_sample(backend="polars", path=SAMPLE)
    tweets = el.per_tweet(sample.tidy, metadata=sample.metadata, rates=["engagement_rate"])
    ab = tweets.filter(pl.col("campaign") == "spring_launch")
    return el.compare(ab, metric="engagement_rate", by="variant", control="A")


def test_mime_is_the_html_jupyter_shows(comparison: el.Comparison) -> None:
    summary = el.summarize(comparison_frame(), metric="engagement_rate", by="variant")
    for result in (comparison, summary):
        mime, body = result._mime_()
        assert mime == "text/html"
        assert body == result._repr_html_()
    assert "B vs A" in comparison._mime_()[1]


def comparison_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {"variant": ["A"] * 4 + ["B"] * 4, "impressions": [100, 120, 90, 110] * 2,
         "engagements": [3, 4, 2, 3, 5, 6, 4, 5]}
    )  # fmt: skip


def test_vs_code_gets_html_from_the_jupyter_formatter(comparison: el.Comparison) -> None:
    """VS Code draws the bundle IPython's display formatter builds (the kernel side of every Jupyter front end)."""
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(comparison)
    assert data["text/html"] == comparison._repr_html_()
    assert "B vs A" in data["text/plain"]  # the readable __repr__, not a dataclass dump


NOTEBOOK = """\
import marimo

app = marimo.App()


@app.cell
def _():
    import polars as pl

    import engagement_lab as el
    from engagement_lab.datasets import load_sample

    sample = load_sample(backend="polars", path={sample!r})
    tweets = el.per_tweet(sample.tidy, metadata=sample.metadata, rates=["engagement_rate"])
    ab = tweets.filter(pl.col("campaign") == "spring_launch")
    result = el.compare(ab, metric="engagement_rate", by="variant", control="A")
    result
    return (result,)


@app.cell
def _(result):
    result.chart()
    return


if __name__ == "__main__":
    app.run()
"""


@pytest.mark.timeout(60)
def test_marimo_export_html_shows_the_verdict_and_the_chart(tmp_path: Path, comparison: el.Comparison) -> None:
    pytest.importorskip("marimo", reason="marimo comes with the dev extra: pip install -e '.[dev]'")
    notebook = tmp_path / "compare.py"
    notebook.write_text(textwrap.dedent(NOTEBOOK.format(sample=str(SAMPLE))), encoding="utf-8")
    out = tmp_path / "compare.html"
    marimo = Path(sys.executable).with_name("marimo")
    # static charts: the same picture without the 900 kB interactive bundle (tested in viz/), to stay fast
    env = {**os.environ, "POLARS_MAX_THREADS": "1", "OMP_NUM_THREADS": "1", "ENGAGEMENT_LAB_CHARTS": "static"}
    done = subprocess.run(
        [str(marimo), "export", "html", str(notebook), "-o", str(out)],
        capture_output=True, text=True, timeout=50, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    page = out.read_text(encoding="utf-8")
    # marimo stores each cell's output as JSON inside the page; undo the JSON and HTML escapes to read it
    text = html.unescape(page.encode("utf-8").decode("unicode_escape", errors="replace"))
    verdict = comparison.verdicts()[0]
    assert verdict in text, f"verdict {verdict!r} not in the exported page"
    assert "<strong>Comparison</strong>" in text  # our HTML table, not marimo's generic dataclass view
    picture = re.search(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]{1000,})", text)
    assert picture, "no chart picture in the page"
    svg = base64.b64decode(picture.group(1)).decode("utf-8")
    assert "comparison (treatment vs control)" in svg
    assert "relative lift vs control" in svg
