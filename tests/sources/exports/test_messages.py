"""A file that is not a clean export says what it is: a total, a formula, a second header, a moved header (#29)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engagement_lab import DataError
from engagement_lab.load import load_analytics_csv

from .test_strict_numbers import (
    LEGACY_COLUMNS,
    OVERVIEW_COLUMNS,
    PREMIUM_COLUMNS,
    csv_text,
    legacy_row,
    premium_row,
    write,
)

LEGACY_NAME = "tweet_activity_metrics_rOpenSci_20211201_20220101_en.csv"


def test_a_grand_total_line_is_named_not_blamed_on_rounded_ids(tmp_path: Path) -> None:
    total = ["Grand Total", "", "", "", "24,690", "10", "80", "4", "2", "0", "6", "4", "6", "14", "8", "0", "2"]
    text = csv_text([PREMIUM_COLUMNS, premium_row(), premium_row("1798000000000000002"), total], quote_all=False)
    with pytest.raises(
        DataError, match=r"content.csv, line 4 is a 'Grand Total' line a spreadsheet added, not a tweet: delete it"
    ) as info:
        load_analytics_csv(write(tmp_path, "content.csv", text))
    assert "rounded" not in str(info.value)


def test_a_total_day_in_an_overview_is_named(tmp_path: Path) -> None:
    day = ["Fri, Jun 5, 2026", "12,000", "50", "300", "4", "2", "6", "1", "9", "8", "20", "3", "700", "900"]
    total = ["Total", "12,000", "50", "300", "4", "2", "6", "1", "9", "8", "20", "3", "700", "900"]
    text = csv_text([OVERVIEW_COLUMNS, day, total], quote_all=False)
    with pytest.raises(DataError, match=r"overview.csv, line 3 is a 'Total' line a spreadsheet added, not a day"):
        load_analytics_csv(write(tmp_path, "overview.csv", text))


def test_an_excel_formula_row_is_named_with_its_line_and_column(tmp_path: Path) -> None:
    formula = ["", "", "", "", "=SUM(E2:E3)", *[""] * 35]
    text = csv_text([LEGACY_COLUMNS, legacy_row(), legacy_row("1473352573927059456"), formula], quote_all=True)
    with pytest.raises(
        DataError,
        match=rf"{LEGACY_NAME}, line 4, column 'impressions': '=SUM\(E2:E3\)' is a spreadsheet formula.*Delete the line",
    ):
        load_analytics_csv(write(tmp_path, LEGACY_NAME, text))
    # a tweet may start with "=": text columns are never read as formulas
    text = csv_text([LEGACY_COLUMNS, legacy_row(text="=> new release")], quote_all=True)
    assert set(load_analytics_csv(write(tmp_path, LEGACY_NAME, text))["tweet_id"]) == {"1475870580540952577"}


def test_a_repeated_header_in_the_middle_is_named(tmp_path: Path) -> None:
    # two downloads pasted into one file; the first tweet's text spans three lines
    first = csv_text([LEGACY_COLUMNS, legacy_row(text="Join us!\n\nTues Jan 4th")], quote_all=True)
    second = csv_text([LEGACY_COLUMNS, legacy_row("1473352573927059456")], quote_all=True)
    with pytest.raises(
        DataError, match=rf"{LEGACY_NAME}, line 5 repeats the header line: exports were pasted together.*separate files"
    ):
        load_analytics_csv(write(tmp_path, LEGACY_NAME, first + second))
    with pytest.raises(DataError, match=rf"{LEGACY_NAME}, line 5 \(the last line\) repeats the header line"):
        load_analytics_csv(write(tmp_path, LEGACY_NAME, first + csv_text([LEGACY_COLUMNS], quote_all=True)))


def test_a_header_on_the_last_line_is_named(tmp_path: Path) -> None:
    rows = [premium_row(), premium_row("1798000000000000002"), PREMIUM_COLUMNS]  # a spreadsheet sorted it down
    with pytest.raises(
        DataError, match=r"content.csv: the header line \(\['Post id', .*\]\) is on line 3, the last line"
    ):
        load_analytics_csv(write(tmp_path, "content.csv", csv_text(rows, quote_all=False)))


def test_a_bad_count_after_a_multi_line_tweet_names_the_line_an_editor_shows(tmp_path: Path) -> None:
    rows = [
        LEGACY_COLUMNS,
        legacy_row(text="Tomorrow.\n\nAll welcome."),
        legacy_row("1473352573927059456", likes="9,0"),
    ]
    with pytest.raises(DataError, match=rf"{LEGACY_NAME}, line 5, column 'likes': '9,0' is not a count"):
        load_analytics_csv(write(tmp_path, LEGACY_NAME, csv_text(rows, quote_all=True)))


def test_not_an_export_says_what_was_found(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"x.csv is not an analytics export.*found line 1 holds 2 ','-separated cells: \['a', 'b'\]"
    ):
        load_analytics_csv(write(tmp_path, "x.csv", "a,b\n1,2\n"))
    with pytest.raises(DataError, match=r"v2.csv is an X API v2 post lookup .*: read it with load_v2\(\.\.\.\)"):
        load_analytics_csv(write(tmp_path, "v2.csv", json.dumps({"data": [{"id": "1", "text": "date"}]})))
    with pytest.raises(DataError, match=r"empty.csv is empty"):
        load_analytics_csv(write(tmp_path, "empty.csv", "\n"))
    # a 'date' column alone is not an export: another program's CSV must not load as no rows
    with pytest.raises(DataError, match=r"weather.csv is not an analytics export.*\['date', 'temperature'\]"):
        load_analytics_csv(write(tmp_path, "weather.csv", "date,temperature\n2026-06-05,21\n"))


def test_two_columns_for_one_count_are_refused_not_one_picked(tmp_path: Path) -> None:
    # X Premium has spelt it "Share" and "Shares"; a file with both holds one count twice
    header = [*PREMIUM_COLUMNS, "Share"]
    text = csv_text([header, [*premium_row(), "9"]], quote_all=False)
    with pytest.raises(DataError, match=r"content.csv: columns 'Shares' and 'Share' both hold shares"):
        load_analytics_csv(write(tmp_path, "content.csv", text))
