"""Tables read from several inputs -> one frame with provenance, repeated observations collapsed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import polars as pl
import pyarrow as pa

from .. import columns as C
from .observations import ORDER, collapse_observations
from .report import LoadReport

__all__ = ["Observation", "combine"]

_TS = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Observation:
    """Rows read from one input, with where and when they were observed."""

    table: pa.Table
    report: LoadReport
    file: str | None
    order: int
    retrieved_at: datetime | None = None
    window: tuple[datetime | None, datetime | None] | None = None
    """The window a response covered (``/28hr``, ``/historical``); ``None`` to add no window columns."""


def _provenance(obs: Observation) -> pa.Table:
    n = obs.table.num_rows
    table = obs.table
    if obs.window is not None:
        table = table.append_column(C.WINDOW_START, pa.array([obs.window[0]] * n, _TS))
        table = table.append_column(C.WINDOW_END, pa.array([obs.window[1]] * n, _TS))
    return (
        table.append_column(C.SOURCE_FILE, pa.array([obs.file] * n, pa.string()))
        .append_column(C.RETRIEVED_AT, pa.array([obs.retrieved_at] * n, _TS))
        .append_column(ORDER, pa.array([obs.order] * n, pa.int64()))
    )


def combine(observations: list[Observation]) -> tuple[pa.Table, LoadReport]:
    """Concatenate, then keep the latest observation of every bucket (see :mod:`.observations`)."""
    report = LoadReport()
    for obs in observations:
        report += obs.report
    files = tuple(dict.fromkeys(o.file for o in observations if o.file is not None))
    tables = [_provenance(o) for o in observations]
    frame = pl.from_arrow(pa.concat_tables(tables, promote_options="default"))
    assert isinstance(frame, pl.DataFrame)
    collapsed, superseded, conflicts = collapse_observations(frame)
    report = replace(report, files=files, superseded=superseded, conflicts=conflicts, n_rows=collapsed.height)
    return collapsed.to_arrow(), report
