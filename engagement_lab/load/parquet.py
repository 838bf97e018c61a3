"""Tidy data on disk as Parquet, partitioned by endpoint and day, readable lazily by polars."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Literal

import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds

from .. import columns as C
from ..errors import DataError, check_choice
from ..options import check_lazy_backend
from .archive_format import RESPONSES
from .compaction import COMPACTION, DATASET, scan_compacted
from .frames import import_duckdb, repeated, to_arrow

__all__ = ["scan", "to_parquet"]


def to_parquet(tidy: Any, root: str | Path) -> Path:
    """Append a tidy frame to a Parquet dataset at ``root`` (hive partitions ``endpoint=…/day=…``).

    Frames without an ``endpoint`` column (plain responses) go under ``endpoint=unknown``. Each call adds
    new files and never rewrites existing ones.
    """
    table = to_arrow(tidy)
    if C.ENDPOINT not in table.column_names:
        table = table.append_column(C.ENDPOINT, repeated("unknown", table.num_rows))
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


def scan(
    root: str | Path,
    *,
    backend: Literal["polars", "duckdb"] = "polars",
    on_conflict: Literal["raise", "latest"] = "raise",
) -> Any:
    """A lazy frame over a Parquet dataset: a polars LazyFrame, or a DuckDB relation with ``backend="duckdb"``.

    ``root`` is a dataset written by :func:`to_parquet`, one written by :func:`engagement_lab.compact`, or a
    fetch archive that was compacted (its ``parquet/`` folder is read). A compacted archive is read with the
    archive's rules (see :func:`engagement_lab.load_archive`; ``on_conflict`` as there). Larger than memory
    is fine: nothing is read until the frame is collected.
    """
    check_lazy_backend(backend)
    check_choice("on_conflict", on_conflict, ("raise", "latest"), DataError)
    root = Path(root)
    if (root / RESPONSES).is_dir():
        if not (root / DATASET / COMPACTION).is_file():
            raise DataError(
                f"{str(root)!r} is a fetch archive that was not compacted yet; run engagement_lab.compact(archive) "
                "(or engagement-lab compact ARCHIVE) first, or load it eagerly with load_archive"
            )
        root = root / DATASET
    if (root / COMPACTION).is_file():
        return scan_compacted(root, backend=backend, on_conflict=on_conflict)
    if not any(root.glob("**/*.parquet")):
        raise DataError(f"{str(root)!r} holds no Parquet files; write one with to_parquet(tidy, root)")
    pattern = str(root / "**" / "*.parquet")
    if backend == "duckdb":
        escaped = pattern.replace("'", "''")
        return import_duckdb().sql(f"SELECT * FROM read_parquet('{escaped}', hive_partitioning = true)")
    return pl.scan_parquet(pattern, hive_partitioning=True, hive_schema={C.ENDPOINT: pl.String, C.DAY: pl.Date})
