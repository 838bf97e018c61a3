"""A count in an analytics export is the number the file says, or the file is refused naming the cell (#29).

The exports here use the real header layouts: the legacy per-tweet export of analytics.twitter.com (40
columns, every field quoted, float-formatted counts) and X Premium's content and account overview exports
(unquoted, thousands separators). Their helpers are shared by the other export tests of this folder.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from engagement_lab import DataError
from engagement_lab.load import load_analytics_csv

LEGACY_COLUMNS = [
    "Tweet id", "Tweet permalink", "Tweet text", "time", "impressions", "engagements", "engagement rate",
    "retweets", "replies", "likes", "user profile clicks", "url clicks", "hashtag clicks", "detail expands",
    "permalink clicks", "app opens", "app installs", "follows", "email tweet", "dial phone", "media views",
    "media engagements", "promoted impressions", "promoted engagements", "promoted engagement rate",
    "promoted retweets", "promoted replies", "promoted likes", "promoted user profile clicks",
    "promoted url clicks", "promoted hashtag clicks", "promoted detail expands", "promoted permalink clicks",
    "promoted app opens", "promoted app installs", "promoted follows", "promoted email tweet",
    "promoted dial phone", "promoted media views", "promoted media engagements",
]  # fmt: skip
"""analytics.twitter.com's tweet activity export (spec B.1), as in ropensci-org/ropensci-tweets."""
PREMIUM_COLUMNS = [
    "Post id", "Date", "Post text", "Post Link", "Impressions", "Likes", "Engagements", "Bookmarks", "Shares",
    "New follows", "Replies", "Reposts", "Profile visits", "Detail Expands", "URL Clicks", "Hashtag Clicks",
    "Permalink Clicks",
]  # fmt: skip
"""X Premium's content export (spec B.3)."""
OVERVIEW_COLUMNS = [
    "Date", "Impressions", "Likes", "Engagements", "Bookmarks", "Shares", "New follows", "Unfollows", "Replies",
    "Reposts", "Profile visits", "Create Post", "Video views", "Media views",
]  # fmt: skip
"""X Premium's account overview export (spec B.3)."""

TWEET = "1475870580540952577"


def csv_text(rows: list[list[str]], *, quote_all: bool, delimiter: str = ",") -> str:
    """Rows as X writes them: legacy exports quote every field, X Premium only where needed; lines end in \\n."""
    out = io.StringIO()
    quoting = csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
    csv.writer(out, quoting=quoting, lineterminator="\n", delimiter=delimiter).writerows(rows)
    return out.getvalue()


def legacy_row(tweet_id: str = TWEET, text: str = "Join us Tues Jan 4th 9AM PST!", **cells: str) -> list[str]:
    """A real-shaped legacy row (values of ropensci's 2021-12-28 tweet); ``cells`` replace columns by name."""
    organic = ["3423.0", "18.0", "0.0052585451358457495", "3.0", "0.0", "9.0", "3.0", "0.0", "0.0", "2.0", "0.0"]
    organic += ["0", "0", "0", "0", "0", "1", "1"]
    row = [tweet_id, f"https://twitter.com/rOpenSci/status/{tweet_id}", text, "2021-12-28 16:45 +0000", *organic]
    row += ["-"] * 18
    for name, value in cells.items():
        row[LEGACY_COLUMNS.index(name.replace("_", " "))] = value
    return row


def premium_row(post_id: str = "1798000000000000001", **cells: str) -> list[str]:
    """A real-shaped X Premium content row; ``cells`` replace columns by name (``URL_Clicks`` -> 'URL Clicks')."""
    row = [post_id, "Tue, Jun 4, 2024", 'launch, "today"', f"https://x.com/a/status/{post_id}", "1,234", "5"]
    row += ["40", "2", "1", "0", "3", "2", "3", "7", "4", "0", "1"]
    for name, value in cells.items():
        row[PREMIUM_COLUMNS.index(name.replace("_", " "))] = value
    return row


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def values(frame: object) -> dict[tuple[str, str], int]:
    """(engagement_type, source) -> value of a one-tweet or one-day load."""
    rows = frame.to_dict("records")  # type: ignore[attr-defined]
    return {(r["engagement_type"], r["source"]): r["value"] for r in rows}


@pytest.mark.parametrize(
    ("cell", "why"),
    [
        ("100,0", "decimal comma"),  # loaded as 1000 before
        ("3423,0", "decimal comma"),
        ("0x10", "hexadecimal"),
        ("+5", "sign"),
        ("-5", "sign"),
        ("1e3", "scientific notation"),
        ("1.5E+03", "scientific notation"),
        ("12,34", "decimal comma"),
        ("3.5", "fraction"),
        ("1 234", "digit groups"),
        ("\u0661\u0662", "not a count"),  # Arabic-Indic digits: int() reads them, X never writes them
    ],
)
def test_a_count_x_never_writes_is_refused_naming_file_line_column_and_cell(
    tmp_path: Path, cell: str, why: str
) -> None:
    name = "tweet_activity_metrics_rOpenSci_20211201_20220101_en.csv"
    path = write(
        tmp_path,
        name,
        csv_text([LEGACY_COLUMNS, legacy_row(), legacy_row("1473352573927059456", impressions=cell)], quote_all=True),
    )
    with pytest.raises(DataError) as info:
        load_analytics_csv(path)
    message = str(info.value)
    assert f"{name}, line 3, column 'impressions': {cell!r} is not a count" in message
    assert why in message
    assert "Re-export the file from X, or save the CSV with '.' decimals" in message


def test_x_premium_decimal_comma_is_refused_not_read_as_thousands(tmp_path: Path) -> None:
    text = csv_text([PREMIUM_COLUMNS, premium_row(Impressions="100,0")], quote_all=False)
    with pytest.raises(DataError, match=r"content.csv, line 2, column 'Impressions': '100,0' is not a count"):
        load_analytics_csv(write(tmp_path, "content.csv", text))


def test_what_x_writes_is_read_exactly(tmp_path: Path) -> None:
    row = premium_row(Impressions="12,345,678", Likes="3423.00", Engagements="1,234.0", Bookmarks="-", Shares="")
    # a derived ratio is recomputed, never parsed: whatever a spreadsheet made of it is not refused
    legacy = legacy_row(engagement_rate="0,0052585", impressions="3423.0", replies="17")
    premium = load_analytics_csv(write(tmp_path, "content.csv", csv_text([PREMIUM_COLUMNS, row], quote_all=False)))
    got = values(premium)
    assert got[("impressions", "analytics_csv")] == 12_345_678
    assert got[("favorites", "analytics_csv")] == 3423
    assert got[("engagements", "analytics_csv")] == 1234
    assert ("bookmarks", "analytics_csv") not in got
    assert ("shares", "analytics_csv") not in got
    old = values(load_analytics_csv(write(tmp_path, "a.csv", csv_text([LEGACY_COLUMNS, legacy], quote_all=True))))
    assert old[("impressions", "analytics_csv")] == 3423
    assert old[("replies", "analytics_csv")] == 17
    with pytest.raises(DataError, match=r"'12,3456' is not a count"):  # thousands groups are 3 digits
        load_analytics_csv(
            write(tmp_path, "b.csv", csv_text([PREMIUM_COLUMNS, premium_row(Impressions="12,3456")], quote_all=False))
        )


def test_semicolon_resave_is_read_and_its_decimal_commas_refused(tmp_path: Path) -> None:
    # A European spreadsheet's re-save: ';' between fields, ',' as the decimal mark.
    good = csv_text([PREMIUM_COLUMNS, premium_row(Impressions="1234")], quote_all=False, delimiter=";")
    got = values(load_analytics_csv(write(tmp_path, "content.csv", good)))
    assert got[("impressions", "analytics_csv")] == 1234
    assert got[("retweets", "analytics_csv")] == 2
    for cell, why in [("1,234", "is a decimal comma"), ("1.234", "European thousands"), ("100,0", "decimal comma")]:
        bad = csv_text([PREMIUM_COLUMNS, premium_row(Impressions=cell)], quote_all=False, delimiter=";")
        with pytest.raises(DataError, match=rf"content.csv, line 2, column 'Impressions': '{cell}' .*{why}"):
            load_analytics_csv(write(tmp_path, "content.csv", bad))


def test_tab_separated_overview_is_read(tmp_path: Path) -> None:
    day = ["Fri, Jun 5, 2026", "12,000", "50", "300", "4", "2", "6", "1", "9", "8", "20", "3", "700", "900"]
    text = csv_text([OVERVIEW_COLUMNS, day], quote_all=False, delimiter="\t")
    with pytest.raises(DataError, match=r"line 2, column 'Impressions': '12,000' .*decimal comma"):
        load_analytics_csv(write(tmp_path, "account_overview_analytics.csv", text))
    day[1] = "12000"
    text = csv_text([OVERVIEW_COLUMNS, day], quote_all=False, delimiter="\t")
    got = values(load_analytics_csv(write(tmp_path, "account_overview_analytics.csv", text)))
    assert got[("impressions", "analytics_csv")] == 12000
    assert got[("unfollows", "analytics_csv")] == 1
