"""Sample data regenerates byte for byte; the report renders to one self-contained HTML file; the demo runs."""

from __future__ import annotations

import filecmp
import re
from collections.abc import Callable
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from engagement_lab import ConfigError, DataError, load_archive, per_tweet
from engagement_lab.cli import main
from engagement_lab.datasets import SAMPLE_DIR, load_sample, write_sample
from engagement_lab.demo import run_demo
from engagement_lab.report.render import render_report


def _same_tree(a: Path, b: Path) -> list[str]:
    diff = filecmp.dircmp(a, b)
    problems = [*diff.left_only, *diff.right_only, *diff.diff_files, *diff.funny_files]
    for name in diff.common_dirs:
        problems += _same_tree(a / name, b / name)
    return problems


def test_sample_data_regenerates_byte_for_byte(tmp_path: Path) -> None:
    result = write_sample(tmp_path / "sample")
    assert result.ok
    assert (tmp_path / "sample" / "archive" / "manifest.jsonl").exists()
    assert _same_tree(SAMPLE_DIR, tmp_path / "sample") == []


def test_sample_loads_with_string_ids() -> None:
    sample = load_sample(backend="polars")
    assert sample.tidy.schema["tweet_id"] == pl.String
    assert sample.metadata.schema["tweet_id"] == pl.String
    assert sample.ground_truth["ab_campaign"]["true_lift"] == 0.2
    assert set(sample.tidy["grain"].unique()) == {"total", "hour"}
    assert sum(p.stat().st_size for p in SAMPLE_DIR.rglob("*") if p.is_file()) < 5_000_000  # small enough for git


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of the sample's A/B campaign, rendered once for the tests that read it."""
    return render_report(
        archive=SAMPLE_DIR / "archive",
        metadata=SAMPLE_DIR / "tweets.csv",
        by="variant",
        control="A",
        where="campaign=spring_launch",
        out=tmp_path_factory.mktemp("sample_report") / "report.html",
    )


@pytest.fixture(scope="module")
def engagement_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, list[str]]:
    """One run of the demo against the Engagement API sandbox, and the lines it printed (two tests read it)."""
    lines: list[str] = []
    run = run_demo(tmp_path_factory.mktemp("demo") / "demo", echo=lines.append, progress=False)
    return run, lines


HEADLINE = (
    "Variant B got 11% more engagements per impression than A (95% interval: 0.3% fewer to 24% more); "
    "we can't rule out no difference (p = 0.057)."
)


class Page(HTMLParser):
    """Tables (their header rows), images (their alt text) and scripts of a rendered report."""

    def __init__(self) -> None:
        super().__init__()
        self.headers: list[list[str]] = []
        self.alts: list[str | None] = []
        self.scripts = 0
        self._in_th = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.headers.append([])
        elif tag == "th":
            self._in_th = True
            self.headers[-1].append("")
        elif tag == "img":
            self.alts.append(dict(attrs).get("alt"))
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "th":
            self._in_th = False

    def handle_data(self, data: str) -> None:
        if self._in_th:
            self.headers[-1][-1] += data


def parsed(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


def test_report_is_self_contained_with_the_headline_first(sample_report: Path) -> None:
    out = sample_report
    html = out.read_text()
    page = parsed(html)
    assert page.scripts == 0
    assert not re.search(r"(src|href)=[\"']https?://", html)  # nothing fetched from the network
    assert html.count('src="data:image/svg+xml') == 3  # forest, estimates, distribution charts, inline
    assert unescape(html).index(HEADLINE) < html.index("The bottom line") < html.index("The comparison")
    assert re.search(
        r"B against A: not clear yet; about [\d,]+ more tweets per arm would tell a \+10% lift", unescape(html)
    )
    assert "Traceback" not in html
    assert "TqdmWarning" not in html
    # unique headers in every table, every picture described
    assert len(page.headers) == 2
    assert all(len(set(h)) == len(h) for h in page.headers), page.headers
    assert len(page.alts) == 3
    assert all(alt and len(alt) > 20 and "No description" not in alt for alt in page.alts), page.alts
    assert "Relative lift in engagement rate against the control" in page.alts[0]
    # in words and percentages, with the design effect explained; a randomised test gets no causal caveat
    assert "chance of beating A" in unescape(html)
    assert "2.79%" in html
    assert "Design effect" in html
    assert "A design effect of 4 means" in unescape(html)
    assert "Not a randomised test" not in html
    assert "show association, not cause" not in html
    assert "snake_case" not in html
    assert "engagement_rate" not in html.replace("engagement_rate by", "")


def test_report_draws_in_headless_chromium(
    sample_report: Path, tmp_path: Path, headless_chromium: Callable[..., str]
) -> None:
    shot = tmp_path / "report.png"
    headless_chromium(sample_report, f"--screenshot={shot}", "--window-size=1000,1600")
    assert shot.stat().st_size > 50_000  # a page with drawn charts, not a blank one


def test_demo_end_to_end(engagement_demo: tuple[Any, list[str]]) -> None:
    run, lines = engagement_demo
    assert run.fetch.ok
    assert run.report is not None
    assert run.report.exists()
    assert any(line.strip().startswith("spring_launch:") for line in lines)
    planned = "(to tell a +10% lift 80% of the time: about 339 tweets per arm, resampled from the 113 A tweets)"
    assert planned in [line.strip() for line in lines]  # the README shows this line
    assert run.summary.height == 4
    assert (run.out / "per_tweet.csv").exists()


def test_the_v2_demo_reaches_the_same_numbers(tmp_path: Path, engagement_demo: tuple[Any, list[str]]) -> None:
    """Every campaign tweet is owned, so X API v2 totals give the Engagement API demo's table and verdicts."""
    lines: list[str] = []
    v2 = run_demo(tmp_path / "v2", echo=lines.append, progress=False, api="x-v2", report=False)  # rendered above
    engagement, engagement_lines = engagement_demo
    assert v2.fetch.ok
    assert v2.fetch.api == "x-v2"
    assert v2.summary.equals(engagement.summary)
    assert any("X API v2 post analytics for the 603 tweets" in line for line in lines)

    def verdicts(printed: list[str]) -> list[str]:
        start = next(i for i, line in enumerate(printed) if line.lstrip().startswith("verdicts ("))
        return [line for line in printed[start:] if not line.lstrip().startswith("report:")]

    assert verdicts(lines) == verdicts(engagement_lines)  # the same verdicts, naive tests and plans
    # what the report's kernel reads from a v2 archive (its rendering is the engagement demo's, tested above)
    from engagement_lab.report.parts import report_data

    options = {"table": "", "metric": "engagement_rate", "where_column": "campaign", "where_value": "spring_launch"}
    data = report_data(archive=str(v2.out / "archive"), metadata=str(v2.out / "tweets.csv"), **options)
    assert "X API v2" in data.source
    assert data.tweets.height == v2.per_tweet.filter(pl.col("campaign") == "spring_launch").height


def test_the_report_says_whether_its_lifts_are_adjusted(tmp_path: Path) -> None:
    adjusted = render_report(
        archive=SAMPLE_DIR / "archive",
        metadata=SAMPLE_DIR / "tweets.csv",
        by="content_type",
        control="text",
        where="campaign=always_on",
        adjust_for=["account", "hour_of_day", "weekday"],
        randomised=False,
        out=tmp_path / "adjusted.html",
    ).read_text()
    assert (
        "The lifts hold account, hour_of_day, weekday fixed; anything not measured can still explain them." in adjusted
    )
    assert (
        "Poisson GLM of counts with a log-exposure offset and account, hour_of_day, weekday as covariates" in adjusted
    )


def per_tweet_table(path: Path) -> Path:
    """What a user brings: one row per tweet with counts and a group column, ids as 19-digit numbers."""
    tweets = per_tweet(load_archive(SAMPLE_DIR / "archive", backend="polars"), metadata=SAMPLE_DIR / "tweets.csv")
    mine = tweets.filter(pl.col("campaign") == "always_on").select(
        pl.col("tweet_id").cast(pl.Int64), "content_type", "impressions", "engagements"
    )
    if path.suffix == ".csv":
        mine.write_csv(path)
    else:
        mine.write_parquet(path)
    return path


def test_the_report_from_a_users_csv_is_observational_when_told_and_draws_offline(
    tmp_path: Path, headless_chromium: Callable[..., str], requests_from_page: Callable[[Path], list[str]]
) -> None:
    """One render from the command line (a CSV of the user's own per-tweet rows), read as text and drawn in
    headless Chromium with every request logged."""
    table = per_tweet_table(tmp_path / "mine.csv")
    out = tmp_path / "mine.html"
    code = main(["report", "--table", str(table), "--by", "content_type", "--control", "text",
                 "--observational", "--out", str(out)])  # fmt: skip
    assert code == 0
    html = unescape(out.read_text())
    assert "Content type poll got 92% more engagements per impression than text" in html
    assert "Not a randomised test." in html
    assert "140 tweets compared; observational groups (not randomised)" in html
    assert all(len(set(h)) == len(h) for h in parsed(html).headers)
    shot, netlog = tmp_path / "mine.png", tmp_path / "net.json"
    headless_chromium(out, f"--screenshot={shot}", "--window-size=1000,2400", f"--log-net-log={netlog}")
    assert shot.stat().st_size > 80_000  # headline, tables and three drawn charts, not a blank page
    assert requests_from_page(netlog) == []


def test_a_parquet_table_gives_the_report_the_rows_a_csv_gives(tmp_path: Path) -> None:
    """What the report's kernel reads from a table: a Parquet file (ids as 19-digit numbers) and a CSV give the same
    rows, ids as text (the rendering is tested from the CSV above)."""
    from engagement_lab.report.parts import report_data

    options = {"archive": "", "metadata": "", "metric": "engagement_rate", "where_column": "", "where_value": ""}
    from_csv = report_data(table=str(per_tweet_table(tmp_path / "mine.csv")), **options).tweets
    from_parquet = report_data(table=str(per_tweet_table(tmp_path / "mine.parquet")), **options).tweets
    assert from_parquet.schema["tweet_id"] == pl.String
    assert from_parquet.height == 140
    assert from_parquet.equals(from_csv)


def test_the_report_takes_a_dataframe_and_refuses_what_cannot_be_right(tmp_path: Path) -> None:
    table = pl.read_parquet(per_tweet_table(tmp_path / "mine.parquet"))
    out = render_report(table=table.to_pandas(), by="content_type", control="text", out=tmp_path / "df.html")
    html = unescape(out.read_text())
    assert "Not a randomised test" not in html
    assert "Content type poll got 92% more engagements per impression than text" in html
    twice = pl.concat([table, table.head(2)])
    twice.write_csv(tmp_path / "twice.csv")
    with pytest.raises(DataError, match=r"twice.csv has more than one row for tweets .*never add up lifetime"):
        render_report(table=tmp_path / "twice.csv", by="content_type", out=tmp_path / "x.html")
    with pytest.raises(ConfigError, match="either a table"):
        render_report(table=table, archive=SAMPLE_DIR / "archive", by="content_type", out=tmp_path / "x.html")
    with pytest.raises(ConfigError, match="did you mean 'holm'"):
        render_report(table=table, by="content_type", correction="hlom", out=tmp_path / "x.html")
    with pytest.raises(ConfigError, match=r"\.csv or \.parquet"):
        render_report(table=tmp_path / "df.html", by="content_type", out=tmp_path / "y.html")


def test_the_report_kernels_stderr_goes_to_its_log_not_to_the_caller(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A library's noise in the kernel (ZeroMQ prints assertion messages as a kernel dies under load) must not reach
    the command's stderr, where the report's own error comes first; it is kept in a log for a kernel that dies.
    The kernel starts as the report starts it, skipping jsonschema's slow optional IRI checker."""
    import asyncio

    from engagement_lab.report.render import _clean_ipython_profile, _kernel_manager

    log = tmp_path / "kernel-stderr.log"
    printed: list[str] = []

    def output(message: dict[str, Any]) -> None:
        if message["msg_type"] == "stream":
            printed.append(message["content"]["text"])

    async def run() -> None:
        manager = _kernel_manager(log)(kernel_name="python3")
        await manager.start_kernel()
        client = manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)
            await client.execute_interactive("import os; os.write(2, b'noise from the kernel\\n')", timeout=60)
            code = "import sys, jsonschema; print('checker', sys.modules.get('rfc3987_syntax', 'absent'))"
            await client.execute_interactive(code, timeout=60, output_hook=output)
        finally:
            client.stop_channels()
            await manager.shutdown_kernel(now=True)

    with _clean_ipython_profile():
        asyncio.run(run())
    assert "noise from the kernel" not in capfd.readouterr().err
    assert "noise from the kernel" in log.read_text()
    assert "".join(printed).strip() == "checker None"  # marked absent by the start-up file, installed or not


def test_what_a_dying_report_kernel_wrote_is_added_to_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import papermill

    from engagement_lab.report.render import run_report_notebook

    def dies(*args: object, kernel_manager_class: Any, **kwargs: object) -> None:
        kernel_manager_class.stderr_log.write_text("Assertion failed: something (lib.cpp:1)\n")
        raise RuntimeError("Kernel died before replying to kernel_info")

    monkeypatch.setattr(papermill, "execute_notebook", dies)
    with pytest.raises(RuntimeError, match="Kernel died") as caught:
        run_report_notebook({}, tmp_path / "out.ipynb")
    assert caught.value.__notes__ == ["the report's kernel wrote on stderr:\nAssertion failed: something (lib.cpp:1)"]
