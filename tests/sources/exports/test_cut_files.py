"""A download cut at any byte is refused or loads exactly the rows before the cut, never a shortened number (#29)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from engagement_lab import DataError
from engagement_lab.load import load_analytics_csv
from engagement_lab.sources.exports.parse import CSV_METRIC_NAMES

from .test_strict_numbers import LEGACY_COLUMNS, PREMIUM_COLUMNS, csv_text, legacy_row, premium_row, write

Tidy = set[tuple[str, str, str, int]]

_TEXT = st.text(alphabet=st.sampled_from('ab ,"\n;=é🙏-0123'), max_size=25)


def _count_cell(value: int, style: str) -> str:
    """A count as X writes it: ``3423``, ``3423.0`` or ``3,423`` (X Premium's thousands separator)."""
    return {"plain": str(value), "float": f"{value}.0", "grouped": f"{value:,}"}[style]


@st.composite
def exports(draw: Any) -> tuple[bytes, list[str], list[Tidy], list[int]]:
    """A legacy or X Premium content export of 1-20 tweets: its bytes, ids, each row's expected tidy rows and
    the byte offsets where its lines end (after the header, after each row)."""
    legacy = draw(st.booleans())
    columns = LEGACY_COLUMNS if legacy else PREMIUM_COLUMNS
    ids = draw(
        st.lists(st.integers(10**18, 2 * 10**18), min_size=1, max_size=20, unique=True).map(
            lambda v: [str(i) for i in v]
        )
    )
    rng = draw(st.randoms(use_true_random=False))  # the many counts: one draw, not hundreds (the test's time)
    rows, expected = [], []
    for tweet_id in ids:
        row = legacy_row(tweet_id, draw(_TEXT)) if legacy else premium_row(tweet_id)
        if not legacy:
            row[2] = draw(_TEXT)
        promoted = legacy and draw(st.booleans())
        tidy: Tidy = set()
        for i, column in enumerate(columns):
            metric = CSV_METRIC_NAMES.get(column.lower().removeprefix("promoted "))
            if metric is None or (column.startswith("promoted ") and not promoted):
                continue
            value = rng.choice([rng.randrange(10), rng.randrange(10**7)])
            row[i] = _count_cell(value, rng.choice(["plain", "float", "grouped"]))
            source = "analytics_csv.promoted" if column.startswith("promoted ") else "analytics_csv"
            tidy.add((tweet_id, metric, source, value))
        rows.append(row)
        expected.append(tidy)
    newline = draw(st.sampled_from(["\n", "\r\n"]))  # a re-save on Windows ends lines in CRLF
    lines = [(csv_text([row], quote_all=legacy)[:-1] + newline).encode() for row in [columns, *rows]]
    ends = [sum(len(line) for line in lines[: k + 1]) for k in range(len(lines))]
    return b"".join(lines), ids, expected, ends


def _tidy(frame: Any) -> Tidy:
    columns = (frame[c].tolist() for c in ("tweet_id", "engagement_type", "source", "value"))
    return set(zip(*columns, strict=True))


@settings(max_examples=300, deadline=None)
@given(exports(), st.data())
def test_a_cut_file_is_refused_or_loads_exactly_the_rows_before_the_cut(
    export: tuple[bytes, list[str], list[Tidy], list[int]], data: st.DataObject
) -> None:
    content, ids, expected, ends = export
    assert _tidy(load_analytics_csv(io.BytesIO(content))) == set().union(*expected)  # the uncut file, exactly
    # anywhere, next to a line's end, or at one: only a cut at a line's end (or, with every field quoted,
    # just before it) may load, and it must load exactly the rows before it
    near = st.sampled_from(ends).flatmap(lambda end: st.sampled_from([end - 3, end - 2, end - 1, end + 1]))
    anywhere = st.integers(0, len(content))
    cut = data.draw(st.one_of(anywhere, near.map(lambda at: min(at, len(content))), st.sampled_from(ends)), label="cut")
    try:
        frame = load_analytics_csv(io.BytesIO(content[:cut]))
    except DataError:
        event("refused")
        return
    got = _tidy(frame)
    loaded = list(dict.fromkeys(r[0] for r in sorted(got, key=lambda r: ids.index(r[0]))))
    event("loaded all rows" if len(loaded) == len(ids) else "loaded the rows before the cut")
    assert loaded == ids[: len(loaded)], "rows loaded from a cut file must be the rows before the cut"
    assert got == set().union(set(), *expected[: len(loaded)])


def test_a_number_cut_in_the_last_line_is_refused(tmp_path: Path) -> None:
    # "1234" cut to "12" at the end of a download: the last line has every field, but no line break.
    whole = csv_text(
        [PREMIUM_COLUMNS, premium_row(), premium_row("1798000000000000002", Permalink_Clicks="1234")], quote_all=False
    )
    cut = whole[: whole.rindex("1234") + 2]
    with pytest.raises(DataError, match=r"content.csv, line 3 is the last line and has no line break.*'12'.*cut"):
        load_analytics_csv(write(tmp_path, "content.csv", cut))
    # a whole file without its final line break is refused the same way: nothing tells it from a cut one
    with pytest.raises(DataError, match=r"if the file is complete, add a line break at its end"):
        load_analytics_csv(write(tmp_path, "content.csv", whole.rstrip("\n")))


def test_a_legacy_file_cut_in_a_quoted_value_is_refused(tmp_path: Path) -> None:
    name = "tweet_activity_metrics_rOpenSci_20211201_20220101_en.csv"
    whole = csv_text(
        [LEGACY_COLUMNS, legacy_row(), legacy_row("1473352573927059456", impressions="5383.0")], quote_all=True
    )
    with pytest.raises(DataError, match=rf"{name}, line 3: the file ends inside a quoted value.*cut"):
        load_analytics_csv(write(tmp_path, name, whole[: whole.rindex("5383.0") + 2]))
    # every field quoted: a closing quote at the very end shows the last value is whole
    tidy = load_analytics_csv(write(tmp_path, name, whole.rstrip("\n")))
    assert sorted(set(tidy["tweet_id"])) == ["1473352573927059456", "1475870580540952577"]


def test_short_and_long_rows_are_refused_naming_the_line(tmp_path: Path) -> None:
    # a download cut mid-row and glued to the next export: the cut row has 5 of its 13 metrics
    short = premium_row("1798000000000000002")[:9]
    text = csv_text([PREMIUM_COLUMNS, premium_row(), short, premium_row("1798000000000000003")], quote_all=False)
    with pytest.raises(DataError, match=r"content.csv, line 3 has 9 of the header's 17 fields.*'Shares'.*cut short"):
        load_analytics_csv(write(tmp_path, "content.csv", text))
    text = csv_text([PREMIUM_COLUMNS, premium_row(), premium_row("1798000000000000002")[:-2]], quote_all=False)
    with pytest.raises(DataError, match=r"line 3 has 15 of the header's 17 fields"):
        load_analytics_csv(write(tmp_path, "content.csv", text.rstrip("\n")))
    long = [*premium_row("1798000000000000002"), "12"]
    text = csv_text([PREMIUM_COLUMNS, long, premium_row()], quote_all=False)
    with pytest.raises(DataError, match=r"content.csv, line 2 has 18 fields but the header has 17"):
        load_analytics_csv(write(tmp_path, "content.csv", text))
