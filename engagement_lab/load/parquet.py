"""Tidy data on disk as Parquet, partitioned by endpoint and day, readable lazily by polars."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds

from .. import columns as C
from .frames import to_arrow

__all__ = ["scan", "to_parquet"]


def to_parquet(tidy: Any, root: str | Path) -> Path:
    """Append a tidy frame to a Parquet dataset at ``root`` (hive partitions ``endpoint=…/day=…``).

    Frames without an ``endpoint`` column (plain responses) go under ``endpoint=unknown``. Each call adds
    new files and never rewrites existing ones.
    """
    table = to_arrow(tidy)
    if C.ENDPOINT not in table.column_names:
        table = table.append_column(C.ENDPOINT, pa.repeat("unknown", table.num_rows).cast(pa.string()))
    root = Path(root)
    ds.write_dataset(
        table,
        root,
        format="parquet",
        partitioning=ds.partitioning(pa.schema([(C.ENDPOINT, pa.string()), (C.DAY, pa.date32())]), flavor="hive"),
        basename_template=f"part-{uuid.uuid4().hex}-{{i}}.parquet",
        existing_data_behavior="overwrite_or_ignore",
    )
    return root


def scan(root: str | Path) -> pl.LazyFrame:
    """A lazy polars frame over a dataset written by :func:`to_parquet` (larger than memory is fine)."""
    return pl.scan_parquet(
        str(Path(root) / "**" / "*.parquet"),
        hive_partitioning=True,
        hive_schema={C.ENDPOINT: pl.String, C.DAY: pl.Date},
    )
