"""analytics.twitter.com and X Premium CSV exports -> the tidy schema.

Per-tweet exports (``Tweet id`` in the legacy export, ``Post id`` in X Premium's content export) give lifetime
totals (grain ``total``) and the post's creation time (``created_at``). Account-level exports (the legacy daily
summary, X Premium's account overview) give one row per day with no tweet id (grain ``day``). Both header eras
are read (``favorites`` before 2016, ``likes`` after); float-formatted counts (``"3423.0"``) and thousands
separators (``"1,234"``) become integers; ``-`` in promoted columns means "not promoted" and gives no row.
Any other count (a decimal comma, a sign, an exponent, a formula) is refused naming its cell, and so is a file
that was cut, pasted together or given a spreadsheet's total line (see :mod:`.rows` and :mod:`.cells`).
Columns that are neither a metric nor a known attribute are listed in the load report, never dropped silently.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from ... import columns as C
from ...errors import DataError
from ...ids import MAX_TWEET_ID, rounded_ids, rounded_ids_error, tweet_created_at
from ...load.inputs import Item, item_text
from ...load.report import LoadReport
from ...load.schema import sourced_table
from .cells import parse_count
from .headers import ATTRIBUTE_COLUMNS, CSV_METRIC_NAMES, DERIVED_COLUMNS, metric_name
from .rows import read_export

__all__ = ["CSV_METRIC_NAMES", "parse_analytics_csv"]


def _day(text: str, where: str) -> date:
    text = text.strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        pass
    try:
        return datetime.strptime(text, "%a, %b %d, %Y").date()
    except ValueError:
        pass
    raise DataError(f"{where}: {text!r} is not a date (expected YYYY-MM-DD or 'Fri, Jun 5, 2026')")


def _created_at(row: dict[str, str], tweet_id: str, where: str) -> datetime:
    """The legacy ``time`` column (minute precision, UTC). X Premium's ``Date`` has no time of day (and its
    zone is the account's), so there the id's snowflake time is used: exact, and what hour-of-day needs."""
    if row.get("time", "").strip():
        try:
            return datetime.strptime(row["time"].strip(), "%Y-%m-%d %H:%M %z").astimezone(UTC)
        except ValueError:
            raise DataError(f"{where}: time {row['time']!r} is not like '2021-12-28 16:45 +0000'") from None
    return tweet_created_at(tweet_id)


def _header(header: list[str]) -> tuple[str | None, list[str]]:
    """The id column (None for account-level exports, which have ``Date``) and the columns not loaded."""
    lower = [h.lower() for h in header]
    id_column = "tweet id" if "tweet id" in lower else "post id" if "post id" in lower else None
    unknown = [
        h
        for h, low in zip(header, lower, strict=True)
        if low not in ATTRIBUTE_COLUMNS and low not in DERIVED_COLUMNS and metric_name(low) is None
    ]
    return id_column, unknown


def _tweet_id(row: dict[str, str], id_column: str, where: str) -> str:
    tweet_id = row[id_column].strip()
    if not tweet_id:
        raise DataError(f"{where}: the {id_column!r} cell is empty; every row of a per-tweet export names its tweet")
    if not (tweet_id.isascii() and tweet_id.isdigit()):
        sci = " in scientific notation" if "e+" in tweet_id.lower() else ""
        raise DataError(
            f"{where}: tweet id {tweet_id!r} is not digits{sci}: a spreadsheet re-saved the file and rounded "
            "the ids. Re-export it from X, or import the id column as Text."
        )
    if len(tweet_id.lstrip("0")) > len(str(MAX_TWEET_ID)) or int(tweet_id) > MAX_TWEET_ID:
        shown = tweet_id if len(tweet_id) <= 40 else tweet_id[:40] + "..."
        raise DataError(
            f"{where}: tweet id {shown!r} is larger than any tweet id (at most 2**63 - 1): the cell is damaged. "
            "Re-export the file from X."
        )
    return tweet_id


def parse_analytics_csv(item: Item) -> tuple[pa.Table, LoadReport]:
    """One export -> a tidy table (plus ``source`` and ``created_at``) and what was not loaded.

    The file is read whole or refused (:func:`.rows.read_export`): ``,``-, ``;``- and tab-separated files are
    read, and a cut, a pasted-in header, a total or a formula line is refused naming its line. Every count is
    the number the cell says or a refusal naming the cell (:func:`.cells.parse_count`); in ``;``- and
    tab-separated files ``,`` is a decimal comma, never a thousands separator.
    """
    name = item.name or "the export"
    export = read_export(item_text(item), name)
    id_column, unknown = _header(export.header)
    lower = [h.lower() for h in export.header]
    named = [(i, metric_name(low), low.startswith("promoted ")) for i, low in enumerate(lower)]
    counted = [(i, metric, promoted) for i, metric, promoted in named if metric is not None]
    seen: dict[tuple[str, bool], str] = {}
    for i, metric, promoted in counted:
        if (metric, promoted) in seen:  # two columns, one count: which one is right is not ours to guess
            raise DataError(
                f"{name}: columns {seen[metric, promoted]!r} and {export.header[i]!r} both hold {metric}; an export "
                "has one column per count. Delete the column that does not belong, or re-export the file from X"
            )
        seen[metric, promoted] = export.header[i]
    out: dict[str, list[Any]] = {k: [] for k in (C.TWEET_ID, C.ENGAGEMENT_TYPE, C.DAY, C.VALUE, C.SOURCE)}
    created: list[datetime | None] = []
    ids: list[str] = []
    lines_of: dict[object, int] = {}  # each tweet (or day) and the line it is on
    for line in export.rows:
        row = dict(zip(lower, line.cells, strict=True))
        where = f"{name}, line {line.line}"
        tweet_id = _tweet_id(row, id_column, where) if id_column else None
        if tweet_id is not None:
            ids.append(tweet_id)
        day = None if tweet_id is not None else _day(row["date"], where)
        key = tweet_id if tweet_id is not None else day
        if key in lines_of:  # an export lists each tweet (day) once: two rows are two files pasted together
            raise DataError(
                f"{where}: {'tweet' if tweet_id is not None else 'day'} {str(key)!r} is also on line {lines_of[key]}; "
                "an export lists each once, so this file holds two exports pasted together and which row is the "
                "later is not known. Load the original files (together, in one call) instead"
            )
        lines_of[key] = line.line
        made = _created_at(row, tweet_id, where) if tweet_id is not None else None
        for i, metric, promoted in counted:
            where_cell = f"{where}, column {export.header[i]!r}"
            count = parse_count(line.cells[i], where_cell, comma_groups=export.delimiter == ",")
            if count is None:
                continue
            out[C.TWEET_ID].append(tweet_id)
            out[C.ENGAGEMENT_TYPE].append(metric)
            out[C.DAY].append(day)
            out[C.VALUE].append(count)
            out[C.SOURCE].append("analytics_csv.promoted" if promoted else "analytics_csv")
            created.append(made)
    rounded = rounded_ids(ids)
    if rounded:
        raise rounded_ids_error(name, rounded)
    table = sourced_table(out, grain="day" if id_column is None else "total", grouping="analytics_csv")
    table = table.append_column(C.CREATED_AT, pa.array(created, pa.timestamp("us", tz="UTC")))
    return table, LoadReport(unrecognised_columns=tuple(unknown), n_rows=table.num_rows)
