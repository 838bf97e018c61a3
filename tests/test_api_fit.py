"""The API as a user meets it: a tidy frame pointed to per_tweet, --where with its did-you-mean and the values
present, the modules reachable from ``el`` without loading Altair, results that print as text and export to CSV,
and every command-line option with help text that states its default."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

import engagement_lab as el
from engagement_lab import StatsInputError
from engagement_lab.cli import build_parser, main


def _tweets() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "tweet_id": [str(1790000000000000000 + i) for i in range(15)],
            "variant": ["A"] * 5 + ["B"] * 5 + ["C"] * 5,
            "campaign": ["spring"] * 10 + ["fall"] * 5,
            "engagements": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 3, 3, 3, 3, 4],
            "impressions": [100] * 15,
        }
    )


def test_compare_on_tidy_rows_points_to_per_tweet() -> None:
    from engagement_lab.datasets import load_sample

    sample = load_sample(backend="polars")
    tidy = sample.tidy
    for call in (
        lambda: el.compare(tidy, metric="engagement_rate", by="variant"),
        lambda: el.compare(tidy.to_pandas(), metric=["engagement_rate"], by="engagement_type"),
        lambda: el.summarize(tidy, metric="engagement_rate", by="variant"),
    ):
        with pytest.raises(StatsInputError, match=r"tidy \(long\) rows") as info:
            call()
        assert "engagement_lab.per_tweet(frame" in str(info.value)
        assert "did you mean" not in str(info.value)
    # the step it names works, and a per-tweet frame is compared as given
    tweets = el.per_tweet(tidy, metadata=sample.metadata)
    with pytest.warns(UserWarning, match="with no 'variant' value were left out"):
        assert el.compare(tweets, metric="engagement_rate", by="variant").rows


def test_report_data_where_suggests_a_column_and_lists_the_values(tmp_path: Path) -> None:
    table = tmp_path / "tweets.csv"
    _tweets().write_csv(table)
    from engagement_lab.report.parts import report_data

    with pytest.raises(el.ConfigError, match=r"no column 'campain' \(did you mean 'campaign'\?\)"):
        report_data(archive="", metadata="", table=str(table), metric="engagement_rate", where_column="campain",
                    where_value="spring")  # fmt: skip
    with pytest.raises(el.DataError) as info:
        report_data(archive="", metadata="", table=str(table), metric="engagement_rate", where_column="campaign",
                    where_value="sprin")  # fmt: skip
    message = str(info.value)
    assert "no tweets match (did you mean 'spring'?)" in message
    assert "campaign values present (tweets): spring (10), fall (5)" in message


def test_where_errors_reach_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = tmp_path / "tweets.csv"
    _tweets().write_csv(table)
    assert main(["plan", "--table", str(table), "--splits", "50", "--where", "campain=spring"]) == 1
    assert "did you mean 'campaign'?" in capsys.readouterr().err
    assert main(["plan", "--table", str(table), "--splits", "50", "--where", "campaign=winter"]) == 1
    assert "values present (tweets): spring (10), fall (5)" in capsys.readouterr().err


def test_modules_and_render_report_are_reachable_lazily_without_altair() -> None:
    code = (
        "import sys\n"
        "import polars as pl\n"
        "import engagement_lab as el\n"
        "names = dir(el)\n"
        "assert all(n in names for n in ['render_report', 'stats', 'timeseries', 'viz']), names\n"
        "t = pl.DataFrame({'variant': ['A'] * 3 + ['B'] * 3, 'engagements': [1, 2, 3, 4, 5, 6],\n"
        "                  'impressions': [100] * 6})\n"
        "el.compare(t, metric='engagement_rate', by='variant')\n"
        "el.summarize(t, metric='engagement_rate', by='variant')\n"
        "print('altair' in sys.modules)\n"
        "import engagement_lab.report\n"
        "assert el.render_report is engagement_lab.report.render_report\n"
        "assert el.stats.compare is el.compare\n"
        "assert el.timeseries.__name__ == 'engagement_lab.timeseries'\n"
        "assert el.viz.__name__ == 'engagement_lab.viz'\n"
        "print('altair' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split() == ["False", "True"]  # Altair loads with viz, not with compare


def test_results_print_as_short_text() -> None:
    result = el.compare(_tweets(), metric="engagement_rate", by="variant")
    text = str(result)
    assert repr(result) == text
    assert "ContrastRow(" not in text
    assert text.splitlines()[0].startswith("Comparison of engagement_rate by variant")
    assert "B vs A" in text
    assert "+166.7% [" in text
    assert "p (Holm)" in text
    assert "verdicts:\n  - B beats A by +166.7%" in text
    assert len(text.splitlines()) < 12
    summary = el.summarize(_tweets(), metric="engagement_rate", by="variant")
    assert str(summary).splitlines()[0] == "Summary of engagement_rate by variant"
    assert "SummaryRow(" not in repr(summary)
    assert "8.00%" in str(summary)
    test = el.stats.classic.welch_ttest([1.0, 2, 3, 4], [2.0, 3, 4, 5, 9])
    assert str(test).startswith("Welch t: statistic -1.533, df 5.962, p = 0.176")


def test_comparison_to_csv_and_to_excel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = el.compare(_tweets(), metric="engagement_rate", by="variant")
    text = result.to_csv()
    assert text is not None
    assert text.splitlines()[0].startswith("metric,by,control,treatment,n_control")
    path = tmp_path / "comparison.csv"
    assert result.to_csv(path) is None
    back = pd.read_csv(path)
    assert back["treatment"].tolist() == ["B", "C"]
    assert back["rel_lift"].round(4).tolist() == pytest.approx([1.6667, 0.0667])
    summary_csv = el.summarize(_tweets(), metric="engagement_rate", by="variant").to_csv()
    assert summary_csv is not None
    assert summary_csv.splitlines()[1].startswith("engagement_rate,variant,A,5,")
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # as if the extra were not installed
    with pytest.raises(ImportError, match=r"pip install 'engagement-lab\[excel\]'"):
        result.to_excel(tmp_path / "comparison.xlsx")


def test_comparison_to_excel_with_openpyxl(tmp_path: Path) -> None:
    pytest.importorskip("openpyxl", reason="the [excel] extra is not installed")
    result = el.compare(_tweets(), metric="engagement_rate", by="variant")
    path = result.to_excel(tmp_path / "comparison.xlsx")
    back = pd.read_excel(path, sheet_name="comparison")
    assert back["treatment"].tolist() == ["B", "C"]


def _options(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, (*path, name))
        elif not isinstance(action, argparse._HelpAction):
            yield " ".join(path) + " " + ("/".join(action.option_strings) or action.dest), action


def test_every_command_line_option_has_help_that_states_its_default() -> None:
    options = list(_options(build_parser()))
    assert len(options) > 60  # every command's options were walked
    missing = [name for name, action in options if not action.help or action.help == argparse.SUPPRESS]
    assert not missing, f"options without help: {missing}"
    flags = (argparse._StoreTrueAction, argparse._StoreFalseAction)
    silent = [
        name
        for name, action in options
        if not isinstance(action, flags)
        and action.default not in (None, [], argparse.SUPPRESS)
        and "default" not in str(action.help)
    ]
    assert not silent, f"options whose help does not say their default: {silent}"
