"""Sample data regenerates byte for byte; the report renders to one self-contained HTML file; the demo runs."""

from __future__ import annotations

import filecmp
import re
from collections.abc import Callable
from pathlib import Path

import polars as pl

from engagement_lab.datasets import SAMPLE_DIR, load_sample, write_sample
from engagement_lab.demo import run_demo
from engagement_lab.report import render_report


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


def sample_report(tmp_path: Path) -> Path:
    """The report of the sample's A/B campaign."""
    return render_report(
        archive=SAMPLE_DIR / "archive",
        metadata=SAMPLE_DIR / "tweets.csv",
        by="variant",
        control="A",
        where="campaign=spring_launch",
        out=tmp_path / "report.html",
    )


def test_report_is_self_contained_with_verdicts_first(tmp_path: Path) -> None:
    out = sample_report(tmp_path)
    html = out.read_text()
    assert "<script" not in html
    assert not re.search(r"(src|href)=[\"']https?://", html)  # nothing fetched from the network
    assert html.count('src="data:image/svg+xml') >= 3  # forest, estimates, distribution charts, inline
    verdict = html.index("no clear difference on engagement_rate")
    assert verdict < html.index("The comparison")
    assert "Traceback" not in html
    assert "TqdmWarning" not in html


def test_report_draws_in_headless_chromium(tmp_path: Path, headless_chromium: Callable[..., str]) -> None:
    shot = tmp_path / "report.png"
    headless_chromium(sample_report(tmp_path), f"--screenshot={shot}", "--window-size=1000,1600")
    assert shot.stat().st_size > 50_000  # a page with drawn charts, not a blank one


def test_demo_end_to_end(tmp_path: Path) -> None:
    lines: list[str] = []
    run = run_demo(tmp_path / "demo", echo=lines.append, progress=False)
    assert run.fetch.ok
    assert run.report.exists()
    assert any(line.strip().startswith("spring_launch:") for line in lines)
    assert run.summary.height == 4
    assert (tmp_path / "demo" / "per_tweet.csv").exists()


def test_the_report_says_whether_its_lifts_are_adjusted(tmp_path: Path) -> None:
    plain = sample_report(tmp_path).read_text()
    assert "The lifts are not adjusted for anything: they are causal only if the groups were randomised." in plain
    adjusted = render_report(
        archive=SAMPLE_DIR / "archive",
        metadata=SAMPLE_DIR / "tweets.csv",
        by="content_type",
        control="text",
        where="campaign=always_on",
        adjust_for=["account", "hour_of_day", "weekday"],
        out=tmp_path / "adjusted.html",
    ).read_text()
    assert "The lifts are adjusted for account, hour_of_day, weekday: rate ratios from a Poisson model" in adjusted
    assert "adjusted for account, hour_of_day, weekday" in adjusted  # in the method column of the table too
