"""Everything we write into HTML is escaped: hostile titles and group labels stay text in the report, in saved
charts and in notebook reprs; no injected element or handler survives (checked by parsing, and in headless
Chromium where it is installed)."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import altair as alt
import pandas as pd
import polars as pl
import pytest

from engagement_lab import compare, save_chart, summarize
from engagement_lab.datasets import SAMPLE_DIR
from engagement_lab.report.render import render_report

HOSTILE_A = "<img src=x onerror=alert(1)>"
HOSTILE_B = "</script><script>alert(2)</script>"
HOSTILE_TITLE = "<script>alert(3)</script> & <b onmouseover=alert(4)>"


class Elements(HTMLParser):
    """Every start tag with its attributes, as a browser's tokenizer would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    return parser


def assert_inert(page: Elements) -> None:
    handlers = [(tag, name) for tag, attrs in page.tags for name in attrs if name.startswith("on")]
    assert handlers == []
    images = [attrs.get("src") or "" for tag, attrs in page.tags if tag == "img"]
    assert all(src.startswith("data:image/svg+xml") for src in images), images


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    meta = pl.read_csv(SAMPLE_DIR / "tweets.csv", schema_overrides={"tweet_id": pl.String}, infer_schema_length=10_000)
    meta = meta.with_columns(pl.col("variant").replace({"A": HOSTILE_A, "B": HOSTILE_B}))
    meta.write_csv(folder / "tweets.csv")
    return render_report(
        archive=SAMPLE_DIR / "archive",
        metadata=folder / "tweets.csv",
        by="variant",
        control=HOSTILE_A,
        where="campaign=spring_launch",
        title=HOSTILE_TITLE,
        out=folder / "report.html",
    )


def test_the_report_keeps_hostile_titles_and_labels_as_text(hostile_report: Path) -> None:
    html = hostile_report.read_text()
    page = parse(html)
    assert [tag for tag, _ in page.tags if tag == "script"] == []
    assert_inert(page)
    text = "".join(page.text)
    assert HOSTILE_TITLE in text  # shown to the reader, literally
    assert f"{HOSTILE_B} vs {HOSTILE_A}" in text  # in the verdict line
    assert f"{HOSTILE_B} against {HOSTILE_A}: not clear yet" in text  # in the bottom line
    assert f"planned from the 113 {HOSTILE_A} tweets" in text
    assert "<title>&lt;script&gt;alert(3)&lt;/script&gt; &amp; &lt;b onmouseover=alert(4)&gt;</title>" in html


def test_the_report_runs_no_injected_code_in_chromium(
    hostile_report: Path, headless_chromium: Callable[..., str]
) -> None:
    dom = headless_chromium(hostile_report, "--dump-dom")
    page = parse(dom)
    assert [tag for tag, _ in page.tags if tag == "script"] == []
    assert_inert(page)


def test_a_saved_html_chart_cannot_be_broken_out_of(tmp_path: Path) -> None:
    def saved(labels: list[str], name: str) -> str:
        frame = pd.DataFrame({"group": labels, "value": [1, 2]})
        chart = alt.Chart(frame, title=labels[1]).mark_bar().encode(x="group", y="value", tooltip=["group"])
        return save_chart(chart, tmp_path / name).read_text()

    benign, hostile = saved(["a", "b"], "benign.html"), saved([HOSTILE_A, HOSTILE_B], "hostile.html")
    count = lambda html: sum(tag == "script" for tag, _ in parse(html).tags)  # noqa: E731
    assert count(hostile) == count(benign)  # the label did not close the spec's <script> and open another
    assert [tag for tag, _ in parse(hostile).tags if tag == "img"] == []
    assert "</script><script>alert(2)" not in hostile
    assert "\\u003c/script\\u003e\\u003cscript\\u003ealert(2)" in hostile  # kept, as JSON escapes of the same text


def test_notebook_reprs_escape_labels() -> None:
    frame = pd.DataFrame(
        {"g": [HOSTILE_A] * 6 + [HOSTILE_B] * 6, "engagements": [3, 5, 4, 6, 2, 5] * 2, "impressions": [100] * 12}
    )
    for html in (
        compare(frame, metric="engagement_rate", by="g")._repr_html_(),
        summarize(frame, metric="engagement_rate", by="g")._repr_html_(),
    ):
        page = parse(html)
        assert [tag for tag, _ in page.tags if tag in ("img", "script")] == []
        assert HOSTILE_A in "".join(page.text)
