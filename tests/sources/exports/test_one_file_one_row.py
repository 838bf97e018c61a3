"""Review round on #29: a tweet (or day) twice in one export, and a dotted thousand in a comma-separated file."""

from __future__ import annotations

from pathlib import Path

import pytest

from engagement_lab import DataError
from engagement_lab.load import load_analytics_csv

from .test_strict_numbers import OVERVIEW_COLUMNS, PREMIUM_COLUMNS, csv_text, premium_row, write


def test_a_tweet_twice_in_one_export_is_refused_naming_both_lines(tmp_path: Path) -> None:
    """Two pasted exports without the second header: which row is later is unknown, so neither is taken."""
    rows = [
        PREMIUM_COLUMNS,
        premium_row(Impressions="100"),
        premium_row("1798000000000000002"),
        premium_row(Impressions="200"),
    ]
    with pytest.raises(DataError, match=r"content.csv, line 4: tweet '1798000000000000001' is also on line 2"):
        load_analytics_csv(write(tmp_path, "content.csv", csv_text(rows, quote_all=False)))


def test_a_day_twice_in_one_overview_is_refused(tmp_path: Path) -> None:
    day = ["Fri, Jun 5, 2026", "12,000", "50", "300", "4", "2", "6", "1", "9", "8", "20", "3", "700", "900"]
    with pytest.raises(DataError, match=r"line 3: day '2026-06-05' is also on line 2"):
        load_analytics_csv(write(tmp_path, "overview.csv", csv_text([OVERVIEW_COLUMNS, day, day], quote_all=False)))


@pytest.mark.parametrize("cell", ["1.000", "12.000", "1.000.000"])
def test_a_dotted_thousand_is_refused_in_a_comma_separated_file_too(tmp_path: Path, cell: str) -> None:
    rows = [PREMIUM_COLUMNS, premium_row(Impressions=cell)]
    with pytest.raises(
        DataError, match=r"column 'Impressions': '[0-9.]+' is not a count \(it has a European thousands"
    ):
        load_analytics_csv(write(tmp_path, "content.csv", csv_text(rows, quote_all=False)))


def test_float_formatted_counts_x_writes_still_load(tmp_path: Path) -> None:
    rows = [PREMIUM_COLUMNS, premium_row(Impressions="3423.0", Likes="7.00")]
    frame = load_analytics_csv(write(tmp_path, "content.csv", csv_text(rows, quote_all=False)))
    values = dict(zip(frame["engagement_type"], frame["value"], strict=True))
    assert (values["impressions"], values["favorites"]) == (3423, 7)
