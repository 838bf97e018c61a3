"""An export's lines as whole rows: the separator, the header line, and every row checked to be complete.

A download that stopped early, two exports pasted into one file, a spreadsheet's total or formula line and a
header sorted away from the top all used to load as rows with missing, added or made-up values. Each is
refused here with the line it is on and what to do about it, before any value is read.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ...errors import DataError
from .headers import KEY_COLUMNS, TEXT_COLUMNS, is_export_header

__all__ = ["ExportRows", "Row", "read_export"]

_SEPARATORS = {",": "','", ";": "';'", "\t": "tab"}
_TOTAL = re.compile(r"(?:grand\s+|sub\s*)?totals?:?|sum|summe|gesamt|total g[ée]n[ée]ral", re.IGNORECASE)
_REDOWNLOAD = "Download the export again from X"


@dataclass(frozen=True)
class Row:
    """One CSV record and the line of the file it starts on (records may span lines: tweet texts hold line
    breaks)."""

    line: int
    cells: list[str]


@dataclass(frozen=True)
class ExportRows:
    """An export's header (names stripped), its separator and its data rows, every one as long as the header."""

    header: list[str]
    delimiter: str
    rows: list[Row]


def read_export(text: str, name: str) -> ExportRows:
    """Split an export's text into its header and whole rows, or refuse it naming the line and the fix.

    Parameters
    ----------
    text : str
        The file's content.
    name : str
        The file's name, put at the front of error messages.

    Raises
    ------
    DataError
        The file is empty, has no export header on its first line, was cut, or holds a line that is not a
        row of the export (a repeated header, a total, a formula, too few or too many fields).

    Examples
    --------
    >>> read_export("Date;Impressions\\n2026-06-05;12\\n", "overview.csv").rows
    [Row(line=2, cells=['2026-06-05', '12'])]
    """
    if not text.strip():
        raise DataError(f"{name} is empty: expected an analytics export with a header line. {_REDOWNLOAD}.")
    delimiter = _delimiter(text)
    records = _records(text, name, delimiter)
    # The file's last record is "open" when no line break follows it: it may end where a download stopped.
    open_record = records[-1] if not text.endswith(("\n", "\r")) else None
    records = [r for r in records if any(c.strip() for c in r.cells)]  # blank lines hold no value
    if not records or not is_export_header(records[0].cells):
        raise _no_header(name, records, delimiter, text)
    first, rows = records[0], records[1:]
    header = [c.strip() for c in first.cells]
    if first is open_record:
        raise DataError(
            f"{name} ends in its header line (line {first.line}) with no line break and no rows: the download "
            f"was cut. {_REDOWNLOAD}."
        )
    layout = _Layout.of(header, name, delimiter)
    for row in rows:
        is_open, is_last = row is open_record, row is rows[-1]
        _check_row(row, layout, is_open=is_open, is_last=is_last, ends_quoted=text.endswith('"'))
    return ExportRows(header, delimiter, rows)


def _delimiter(text: str) -> str:
    """The separator of a file: the one of ``,``, ``;`` and tab that occurs most (outside quotes) in its first
    non-blank line. A spreadsheet re-save in a European locale writes ``;``; X writes ``,``."""
    line = next((ln for ln in io.StringIO(text, newline="") if ln.strip()), "")
    counts = dict.fromkeys(_SEPARATORS, 0)
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else ","


def _records(text: str, name: str, delimiter: str) -> list[Row]:
    """Every CSV record with the line it starts on; quotes left open at the end of the file are refused."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records: list[Row] = []
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return records
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                raise DataError(
                    f"{name}, line {start}: the file ends inside a quoted value of the row that starts on this "
                    f"line: the download was cut. {_REDOWNLOAD}."
                ) from None
            raise DataError(
                f"{name}, line {reader.line_num}: broken quoting ({exc}): the file was edited by hand or by a "
                "program that does not write CSV. Re-export it from X, or re-save it as CSV from a spreadsheet."
            ) from None
        records.append(Row(start, cells))


def _no_header(name: str, records: list[Row], delimiter: str, text: str) -> DataError:
    """The error for a file whose first line is not an export header: where the header is, or what is there."""
    for row in records[1:]:
        if is_export_header(row.cells):
            where = "the last line" if row is records[-1] else "not line 1"
            return DataError(
                f"{name}: the header line ({_show(row.cells)}) is on line {row.line}, {where}; line "
                f"{records[0].line} is {_show(records[0].cells)}. A spreadsheet sort or paste moved it: move it "
                f"back to the top, or download the export again."
            )
    if text.lstrip().startswith(("{", "[")):
        found = "JSON, not CSV: load it with load_response, load_v2, load_analytics or load"
    elif not records:
        found = "no line with any value"
    else:
        cells = records[0].cells
        found = f"line {records[0].line} holds {len(cells)} {_SEPARATORS[delimiter]}-separated cells: {_show(cells)}"
        if len(records) == 1 and not text.endswith(("\n", "\r")):
            found += f", and the file ends there with no line break (a download cut short? {_REDOWNLOAD})"
    return DataError(
        f"{name} is not an analytics export: expected a first line naming a 'Tweet id', 'Post id' or 'Date' "
        f"column and count columns such as 'impressions'; found {found}"
    )


@dataclass(frozen=True)
class _Layout:
    """What the row checks need to know about the header, worked out once per file."""

    header: list[str]
    name: str
    delimiter: str
    valued: list[int]  # columns that are not free text: a formula or a header name there is not a tweet's words
    keys: list[int]  # the first column and the id or date columns: where a total line puts its label
    about: str  # what a row is: "tweet" or "day"

    @classmethod
    def of(cls, header: list[str], name: str, delimiter: str) -> _Layout:
        lower = [h.lower() for h in header]
        valued = [i for i, h in enumerate(lower) if h not in TEXT_COLUMNS]
        keys = sorted({0, *(i for i, h in enumerate(lower) if h in KEY_COLUMNS)})
        about = "tweet" if {"tweet id", "post id"} & set(lower) else "day"
        return cls(header, name, delimiter, valued, keys, about)


def _check_row(row: Row, layout: _Layout, *, is_open: bool, is_last: bool, ends_quoted: bool) -> None:
    """Refuse a line that is not a whole row of this export, saying what it is."""
    where, header, cells = f"{layout.name}, line {row.line}", layout.header, row.cells
    keys = [cells[i].strip() for i in layout.keys if i < len(cells)]
    # a header line (of this export or another) names a key column where a row has an id or a date
    if any(k.lower() in KEY_COLUMNS for k in keys) and is_export_header(
        [cells[i] for i in layout.valued if i < len(cells)]
    ):
        last = " (the last line)" if is_last else ""
        raise _error(
            f"{where}{last} repeats the header line: exports were pasted together into one file. Load the exports "
            "as the separate files they were (load_analytics_csv([a, b]) keeps each tweet's latest totals, from the "
            "periods in their names)"
        )
    if "=" in "".join(cells):  # rare: only then look for the cell
        beyond = len(header)
        for i, cell in enumerate(cells):
            if cell.strip().startswith("=") and (i >= beyond or i in layout.valued):
                column = header[i] if i < beyond else "(beyond the header)"
                raise _error(
                    f"{where}, column {column!r}: {cell.strip()!r} is a spreadsheet formula, not a value: the line "
                    "was added in a spreadsheet (a total?). Delete the line, or load the files separately as exported"
                )
    label = next((k for k in keys if _TOTAL.fullmatch(k)), None)
    if label is not None:
        raise _error(
            f"{where} is a {label!r} line a spreadsheet added, not a {layout.about}: "
            "delete it (totals are recomputed from the rows), or load the files separately as exported"
        )
    count, wanted = len(cells), len(header)
    if count < wanted and is_open:
        raise _error(
            f"{where} has {count} of the header's {wanted} fields and the file ends there with no line break: "
            f"the download was cut in this row. {_REDOWNLOAD}"
        )
    if count < wanted:
        raise _error(
            f"{where} has {count} of the header's {wanted} fields (it stops after column {header[count - 1]!r}): "
            f"the row was cut short. {_REDOWNLOAD}"
        )
    if count > wanted:
        raise _error(
            f"{where} has {count} fields but the header has {wanted}: a value holds an unquoted "
            f"{_SEPARATORS[layout.delimiter]} or the line comes from another export. Re-export the file from X "
            "instead of editing it"
        )
    # A last line with every field but no line break may still be cut: "1234" cut to "12" leaves a valid
    # number. X's legacy exports quote every field and end with a line break, so a closing quote at the very
    # end proves the value is whole; an unquoted last value (X Premium exports, hand-made files) cannot be
    # told from a cut one, so it is refused. A file that is complete only needs a line break at its end.
    if is_open and not ends_quoted:
        raise _error(
            f"{where} is the last line and has no line break after it, so its last value "
            f"{cells[-1]!r} (column {header[-1]!r}) may be cut short: a download that stopped there looks the "
            f"same. {_REDOWNLOAD}; if the file is complete, add a line break at its end"
        )


def _error(message: str) -> DataError:
    return DataError(message + ".")


def _show(cells: Sequence[str], n: int = 5) -> str:
    """The first ``n`` cells of a line, for a message."""
    shown = ", ".join(repr(c) for c in cells[:n])
    return f"[{shown}{', ...' if len(cells) > n else ''}]"
