"""The tidy schema as Arrow types: every parser builds its tables with it, so every loader, the archive and the
compacted Parquet dataset agree column for column (names in :mod:`engagement_lab.columns`)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from .. import columns as C
from .frames import repeated

__all__ = ["SOURCED_SCHEMA", "TIDY_SCHEMA", "sourced_table"]

TIDY_SCHEMA = pa.schema(
    [
        (C.TWEET_ID, pa.string()),
        (C.ENGAGEMENT_TYPE, pa.string()),
        (C.GRAIN, pa.string()),
        (C.DAY, pa.date32()),
        (C.HOUR, pa.int8()),
        (C.TIMESTAMP, pa.timestamp("us", tz="UTC")),
        (C.VALUE, pa.int64()),
        (C.GROUPING, pa.string()),
    ]
)


SOURCED_SCHEMA = TIDY_SCHEMA.append(pa.field(C.SOURCE, pa.string()))
"""The tidy schema plus ``source``, for rows that come from another product than the Engagement API."""


def sourced_table(rows: dict[str, list[Any]], *, grain: str, grouping: str) -> pa.Table:
    """Rows of ``tweet_id``, ``engagement_type``, ``value``, ``source`` (and optionally ``day``) as a tidy table."""
    n = len(rows[C.VALUE])
    days = rows.get(C.DAY)
    return pa.table(
        {
            C.TWEET_ID: pa.array(rows[C.TWEET_ID], pa.string()),
            C.ENGAGEMENT_TYPE: pa.array(rows[C.ENGAGEMENT_TYPE], pa.string()),
            C.GRAIN: repeated(grain, n),
            C.DAY: pa.array(days, pa.date32()) if days is not None else pa.nulls(n, pa.date32()),
            C.HOUR: pa.nulls(n, pa.int8()),
            C.TIMESTAMP: pa.nulls(n, pa.timestamp("us", tz="UTC")),
            C.VALUE: pa.array(rows[C.VALUE], pa.int64()),
            C.GROUPING: repeated(grouping, n),
            C.SOURCE: pa.array(rows[C.SOURCE], pa.string()),
        },
        schema=SOURCED_SCHEMA,
    )
