"""Repeated observations of one number collapse to the latest; cumulative counters are never added; an
observation whose recency is not known is never picked silently.

Two files (exports with overlapping periods, snapshots of the same tweets) can each hold the same bucket of
the same tweet and metric: a lifetime total, a day, an hour. Those are two observations of one quantity, not
two quantities, so one row is kept: the latest. Lifetime totals grow between observations, so differing
totals are expected; differing values for a day or an hour are listed in the load report as conflicts.

What "latest" rests on, per input (a file, or one in-memory payload):

- its time: a fetch time recorded inside it (``__twarc.retrieved_at``, an archive's) or, for an export, the end
  of the period its name gives (:func:`~engagement_lab.sources.exports.periods.export_period_end`; by the
  package's convention an export stands for the end of its period);
- else a lower bound: the newest date inside it (a tweet's creation, a daily row). The file was made after that
  date but maybe long after, so a lower bound orders a file after a *timed* one it exceeds, never one lower
  bound against another (two downloads made after May 3 and after May 9 may have been made in either order);
- its download copy: ``name (1).csv`` was saved after ``name.csv`` in the same folder (the name was taken);
- its position: later JSON Lines of one file are later snapshots.

When two observations of one bucket disagree and none of these says which is later (different inputs with no
time, equal times, or only lower bounds), :func:`combine` refuses with :class:`~engagement_lab.errors.DataError`
naming both inputs, the tweet, the metric and both values, whatever the grain: a day or hour "kept the latest" by
file order would be a guess presented as a fact. ``keep="last"`` accepts the order loading uses (below) and
``keep=<file name>`` makes one file's numbers win.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import PurePath

import polars as pl
import pyarrow as pa

from .. import columns as C
from ..errors import DataError, check_choice
from ..sources.exports.periods import download_copy
from .report import LoadReport

__all__ = ["KEEP_LAST", "ORDER", "Observation", "bucket_keys", "check_keep", "collapse_observations", "combine"]

ORDER = "_order"
"""Private column: the position of the input a row came from, after download copies of one name are put in
copy order (the last tie-breaker but one; the row's line within its input is the last)."""
KEEP_LAST = "last"
"""``keep=`` value: resolve observations of unknown order by the order loading uses."""

# Private per-row columns: the input, the line within it, the time, the lower bound, the download family and
# copy number, and whether the user named the input in keep=.
_PRIVATE = ("_input", "_line", "_after", "_family", "_copy", "_chosen", "_name")
_FILE_OR_INPUT = pl.coalesce(pl.col(C.SOURCE_FILE), pl.format("input #{} (in memory)", pl.col("_input") + 1))


def bucket_keys(columns: list[str]) -> list[str]:
    """The columns (of a frame that went through ``_with_window_keys``) that identify one quantity: tweet,
    metric, grain, the bucket and where it came from.

    A window is part of a day or total bucket (a day at a window's edge is partial; a window total is not a
    lifetime total) but not of an hour, which is the same hour whichever window reported it.
    """
    keys = (C.TWEET_ID, C.ENGAGEMENT_TYPE, C.GRAIN, C.DAY, C.HOUR, C.TIMESTAMP, C.GROUPING, C.SOURCE, C.ENDPOINT)
    return [k for k in (*keys, "_ws", "_we") if k in columns]  # _ws/_we: the window, cleared for hours


def _with_window_keys(frame: pl.DataFrame) -> pl.DataFrame:
    if C.WINDOW_START not in frame.columns:
        return frame
    hour = pl.col(C.GRAIN) == "hour"
    return frame.with_columns(
        _ws=pl.when(hour).then(None).otherwise(pl.col(C.WINDOW_START)),
        _we=pl.when(hour).then(None).otherwise(pl.col(C.WINDOW_END)),
    )


def _with_defaults(frame: pl.DataFrame) -> pl.DataFrame:
    """The private columns a frame not built by :func:`combine` lacks: each ORDER value its own input."""
    order = pl.col(ORDER) if ORDER in frame.columns else pl.lit(0, pl.Int64)
    time = pl.col(C.RETRIEVED_AT) if C.RETRIEVED_AT in frame.columns else pl.lit(None, pl.Datetime("us", "UTC"))
    defaults = {
        ORDER: order,
        "_input": order,
        "_line": pl.lit(0, pl.Int64),
        "_after": pl.lit(None, pl.Datetime("us", "UTC")),
        "_family": pl.lit(None, pl.Int64),
        "_copy": pl.lit(0, pl.Int64),
        "_chosen": pl.lit(False),
    }
    if C.SOURCE_FILE not in frame.columns:
        defaults[C.SOURCE_FILE] = pl.lit(None, pl.String)
    return frame.with_columns(_time=time, **{k: v for k, v in defaults.items() if k not in frame.columns})


def _known_later() -> pl.Expr:
    """Whether the kept row (``_k*`` columns) is known to be later than the row: see the module docstring."""
    kt, rt, k_after = pl.col("_k_time"), pl.col("_time"), pl.col("_k_after")
    terms = (
        pl.col("_k_chosen"),
        pl.col("_k_input") == pl.col("_input"),
        kt > rt,
        (pl.col("_k_family") == pl.col("_family")) & (pl.col("_k_copy") > pl.col("_copy")),
        kt.is_null() & (k_after >= rt),
    )
    known = pl.lit(False)
    for term in terms:  # a null comparison (no time, no family) is "not known", never "unknown -> dropped"
        known = known | term.fill_null(False)
    return known


def collapse_observations(
    frame: pl.DataFrame, *, refuse_unknown: bool = True
) -> tuple[pl.DataFrame, int, tuple[str, ...]]:
    """Keep the latest observation of each bucket.

    Parameters
    ----------
    frame : polars.DataFrame
        Tidy rows with the private columns :func:`combine` adds (a frame without them counts each ``_order``
        value as its own input, ordered by ``retrieved_at`` then ``_order``).
    refuse_unknown : bool
        Raise :class:`DataError` when a bucket's observations disagree and the kept one is not known to be
        later than each disagreeing one (``False``: keep the last by the loading order, ``keep="last"``).

    Returns
    -------
    frame, superseded, conflicts
        The collapsed frame (same columns, without the private ones), how many rows a later observation
        replaced, and one line per day/hour bucket whose observations disagreed.
    """
    frame = _with_defaults(_with_window_keys(frame))
    keys = bucket_keys(frame.columns)
    after = pl.col("_after")
    ordered = frame.with_columns(
        _eff=pl.coalesce(pl.col("_time"), after), _bound=pl.col("_time").is_null() & after.is_not_null()
    ).sort(["_chosen", "_eff", "_bound", ORDER, "_line"], nulls_last=False, maintain_order=True)
    is_last = pl.int_range(pl.len()).over(keys) == pl.len().over(keys) - 1
    marked = ordered.with_columns(_last=is_last, _distinct=pl.col(C.VALUE).n_unique().over(keys))
    if refuse_unknown:
        disputed = marked.filter(pl.col("_distinct") > 1)  # usually few rows: the window functions run on these
        if disputed.height:
            disputed = disputed.with_columns(_name=_FILE_OR_INPUT)  # names only where a message may need them
            kept_cols = ("_input", "_time", "_after", "_family", "_copy", "_chosen", "_name", C.VALUE)
            disputed = disputed.with_columns(**{f"_k{c}": pl.col(c).last().over(keys) for c in kept_cols})
            unknown = disputed.filter((pl.col(C.VALUE) != pl.col(f"_k{C.VALUE}")) & ~_known_later())
            if unknown.height:
                raise DataError(_unknown_order_message(unknown, keys))
    kept = marked.filter("_last")
    conflicts = kept.filter((pl.col("_distinct") > 1) & (pl.col(C.GRAIN) != "total"))
    lines = tuple(_describe(marked, conflicts, keys))
    private = ("_time", "_eff", "_bound", "_last", "_distinct", ORDER, "_ws", "_we", *_PRIVATE)
    return kept.drop(*private, strict=False), frame.height - kept.height, lines


def _what(row: dict[str, object]) -> str:
    tweet = f"tweet {row[C.TWEET_ID]}" if row.get(C.TWEET_ID) is not None else "the account"
    grain = row.get(C.GRAIN)
    when = row.get(C.TIMESTAMP) or row.get(C.DAY)
    bucket = "lifetime total" if grain == "total" else f"{grain} {when}"
    source = f", {row[C.SOURCE]}" if row.get(C.SOURCE) else ""
    return f"{tweet}'s {row[C.ENGAGEMENT_TYPE]} ({bucket}{source})"


def _knows(time: object, after: object) -> str:
    if isinstance(time, datetime):
        return f"observed {time:%Y-%m-%d %H:%M} UTC"
    if isinstance(after, datetime):
        return f"no time in its name or content; only its newest date, {after:%Y-%m-%d}, which it was made after"
    return "no time in its name or content"


def _unknown_order_message(unknown: pl.DataFrame, keys: list[str]) -> str:
    row = unknown.row(0, named=True)
    one, other = str(row["_name"]), str(row["_k_name"])
    more = unknown.select(keys).unique().height - 1
    pairs = unknown.select("_name", "_k_name").unique().height
    tail = f" ({more} more value{'s disagree' if more > 1 else ' disagrees'}, between {pairs} pair(s) of inputs)"
    csv = any(n.lower().endswith((".csv", ".csv.gz")) for n in (one, other))
    rename = (
        "; or keep X's export names, which carry the period (..._YYYYMMDD_YYYYMMDD_en.csv, "
        "..._YYYY-MM-DD_YYYY-MM-DD.csv)"
        if csv
        else ""
    )
    return (
        f"{one} and {other} disagree on {_what(row)}: {row[C.VALUE]} vs {row[f'_k{C.VALUE}']}{tail if more else ''}, "
        f"and neither is known to be the later observation ({one}: {_knows(row['_time'], row['_after'])}; {other}: "
        f"{_knows(row['_k_time'], row['_k_after'])}). Two observations of one number are never added, and picking "
        f"one by file order could keep the older. Pass keep={KEEP_LAST!r} to keep the one that comes last in the "
        "loading order (a file's time, else its newest date inside, then the order given), or "
        f"keep={PurePath(other).name!r} (or another file's name) to keep that file's numbers{rename}."
    )


def _describe(marked: pl.DataFrame, conflicts: pl.DataFrame, keys: list[str]) -> list[str]:
    if not conflicts.height:
        return []
    file_col = pl.col(C.SOURCE_FILE) if C.SOURCE_FILE in marked.columns else pl.lit(None, pl.String)
    detail = (
        marked.join(conflicts.select(keys), on=keys, nulls_equal=True)
        .with_columns(_file=file_col.fill_null("<payload>"))
        .group_by(keys, maintain_order=True)
        .agg(pl.col(C.VALUE), pl.col("_file"))
    )
    lines = []
    for row in detail.iter_rows(named=True):
        when = row.get(C.TIMESTAMP) or row.get(C.DAY)
        seen = ", ".join(f"{v} ({f})" for v, f in zip(row[C.VALUE], row["_file"], strict=True))
        lines.append(f"tweet {row[C.TWEET_ID]} {row[C.ENGAGEMENT_TYPE]} {row[C.GRAIN]} {when}: {seen}; kept the latest")
    return lines


_TS = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Observation:
    """Rows read from one input (or one document of it), with where and when they were observed."""

    table: pa.Table
    report: LoadReport
    file: str | None
    order: int
    """The input's position among the inputs of one load (several observations of one input share it)."""
    retrieved_at: datetime | None = None
    """When the rows were observed: a recorded fetch time, or an export's period end; ``None`` when unknown
    (a ``retrieved_at`` column already in ``table`` is kept, row by row)."""
    window: tuple[datetime | None, datetime | None] | None = None
    """The window a response covered (``/28hr``, ``/historical``); ``None`` to add no window columns."""
    line: int = 0
    """The position within the input (later JSON Lines of one file are later snapshots)."""
    after: datetime | None = None
    """A lower bound on when the input was made (its newest date inside), used only where ``retrieved_at`` is
    unknown; give every observation of one input the same bound, so that positions decide within it."""


def _column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table if name in table.column_names else table.append_column(name, values)


@dataclass
class _Input:
    """What one input's rows are sorted and compared by (see :func:`_inputs`)."""

    slot: int
    after: datetime | None
    family: int | None
    copy: int


def _provenance(obs: Observation, about: _Input, chosen: bool) -> pa.Table:
    n = obs.table.num_rows
    table = obs.table
    if obs.window is not None:
        table = _column(table, C.WINDOW_START, pa.array([obs.window[0]] * n, _TS))
        table = _column(table, C.WINDOW_END, pa.array([obs.window[1]] * n, _TS))
    table = _column(table, C.SOURCE_FILE, pa.array([obs.file] * n, pa.string()))
    table = _column(table, C.RETRIEVED_AT, pa.array([obs.retrieved_at] * n, _TS))
    private = {
        ORDER: pa.array([about.slot] * n, pa.int64()),
        "_input": pa.array([obs.order] * n, pa.int64()),
        "_line": pa.array([obs.line] * n, pa.int64()),
        "_after": pa.array([about.after] * n, _TS),
        "_family": pa.array([about.family] * n, pa.int64()),
        "_copy": pa.array([about.copy] * n, pa.int64()),
        "_chosen": pa.array([chosen] * n, pa.bool_()),
    }
    for column, values in private.items():
        table = table.append_column(column, values)
    return table


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return max((t for t in (a, b) if t is not None), default=None)


def _inputs(observations: list[Observation]) -> dict[int, _Input]:
    """Each input (by ``order``): its sort slot, lower bound, download family and copy number. Download copies
    of one name take their family's slots in copy order, and a copy inherits the lower bounds of the copies
    before it (it was saved after them)."""
    found: dict[int, _Input] = {}
    families: dict[str, int] = {}
    for obs in observations:
        if obs.order in found:
            found[obs.order].after = _later(found[obs.order].after, obs.after)
            continue
        original, copy = download_copy(obs.file)
        family = None if original is None else families.setdefault(original, len(families))
        found[obs.order] = _Input(obs.order, obs.after, family, copy)
    members: dict[int, list[_Input]] = {}
    for about in found.values():
        if about.family is not None:
            members.setdefault(about.family, []).append(about)
    for group in members.values():
        slots = sorted(m.slot for m in group)
        running: datetime | None = None
        for about, slot in zip(sorted(group, key=lambda m: (m.copy, m.slot)), slots, strict=True):
            about.slot = slot
            running = about.after = _later(running, about.after)
    return found


def check_keep(keep: str | None, files: tuple[str, ...]) -> str | None:
    """Validate ``keep=``: ``None``, ``"last"``, or the name (or path) of one of ``files``; return the file."""
    if keep is None or keep == KEEP_LAST:
        return None
    if not isinstance(keep, str):
        raise DataError(f"keep={keep!r} is not an option; give None, {KEEP_LAST!r} or the name of a file loaded")
    matches = [f for f in files if keep in (f, PurePath(f).name)]
    if not matches:
        names = list(dict.fromkeys(PurePath(f).name for f in files))
        check_choice("keep", keep, [KEEP_LAST, *names], DataError)
    if len(set(matches)) > 1:
        raise DataError(f"keep={keep!r} names {len(set(matches))} files ({', '.join(matches)}); give the path")
    return matches[0]


def combine(observations: list[Observation], *, keep: str | None = None) -> tuple[pa.Table, LoadReport]:
    """Concatenate, then keep the latest observation of every bucket (:func:`collapse_observations`).

    ``keep`` settles observations whose order is unknown: ``None`` refuses them, ``"last"`` keeps the last by
    the loading order (time, else newest date inside; then download copy; then the order given), a file's name
    (or path) keeps that file's values wherever it has one (disagreements it is not part of are still refused).
    """
    report = LoadReport()
    for obs in observations:
        report += obs.report
    files = tuple(dict.fromkeys(o.file for o in observations if o.file is not None))
    chosen = check_keep(keep, files)
    inputs = _inputs(observations)
    tables = [_provenance(o, inputs[o.order], o.file is not None and o.file == chosen) for o in observations]
    frame = pl.from_arrow(pa.concat_tables(tables, promote_options="permissive"))
    assert isinstance(frame, pl.DataFrame)
    collapsed, superseded, conflicts = collapse_observations(frame, refuse_unknown=keep != KEEP_LAST)
    report = replace(report, files=files, superseded=superseded, conflicts=conflicts, n_rows=collapsed.height)
    return collapsed.to_arrow(), report
