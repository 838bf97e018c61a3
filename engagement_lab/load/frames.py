"""Arrow tables -> pandas or polars frames. The one place backend dtypes are chosen.

pandas: strings are ``string[pyarrow]``, ``day`` is ``date32[pyarrow]``, ``hour`` is nullable ``Int8``,
timestamps are ``datetime64[us, UTC]``, values ``int64``. polars: ``String``, ``Date``, ``Int8``,
``Datetime("us", "UTC")``, ``Int64``. Tweet ids are strings in both.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from functools import reduce
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa

from ..errors import DataError
from ..options import Backend, check_backend

__all__ = [
    "Backend",
    "Frame",
    "check_backend",
    "import_duckdb",
    "repeat_parts",
    "repeated",
    "repeats_query",
    "to_arrow",
    "to_frame",
    "to_pandas",
    "to_polars",
]

Frame: TypeAlias = pd.DataFrame | pl.DataFrame


def _pandas_type(t: pa.DataType) -> Any:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pd.StringDtype("pyarrow")
    if pa.types.is_date32(t):
        return pd.ArrowDtype(pa.date32())
    if pa.types.is_int8(t):
        return pd.Int8Dtype()
    return None


def to_frame(table: pa.Table, backend: Backend) -> Frame:
    """Convert an Arrow table to the chosen backend with the package's dtypes."""
    if check_backend(backend) == "polars":
        return _polars(table)
    return to_pandas(table)


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """An Arrow table as pandas with the package's dtypes. Each column is its own block (``split_blocks``), so a
    column of one chunk is taken without a copy, and none is copied again to consolidate (about half the time of a
    consolidated conversion: ``benchmarks/load.py``)."""
    converted: pd.DataFrame = table.to_pandas(types_mapper=_pandas_type, split_blocks=True)
    return converted


def repeated(text: str, n: int) -> pa.Array:
    """``text`` ``n`` times as an Arrow string array, built from its two buffers (evenly spaced offsets and the
    bytes repeated): an order of magnitude cheaper than ``pa.repeat`` or a decoded dictionary."""
    data = text.encode()
    if len(data) * n >= 2**31:  # beyond 32-bit offsets
        return pa.repeat(text, n).cast(pa.string())
    offsets = np.arange(0, (n + 1) * len(data), len(data), dtype=np.int32) if data else np.zeros(n + 1, np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data * n))


def _polars(table: pa.Table) -> pl.DataFrame:
    """An Arrow table as polars, its strings cast to Arrow string views first: the layout polars keeps, which it
    then takes without a copy. The cast costs less than polars' own conversion of plain strings."""
    views = [
        pa.field(f.name, pa.string_view()) if f.type in (pa.string(), pa.large_string()) else f for f in table.schema
    ]
    frame = pl.from_arrow(table.cast(pa.schema(views)))
    assert isinstance(frame, pl.DataFrame)
    return frame


def to_arrow(frame: Any) -> pa.Table:
    """A pandas or polars frame (or Arrow table) as an Arrow table."""
    if isinstance(frame, pa.Table):
        return frame
    if isinstance(frame, pl.DataFrame):
        return frame.to_arrow()
    if isinstance(frame, pd.DataFrame):
        bare = frame.copy(deep=False)
        bare.attrs = {}  # a LoadReport in attrs is for people, not for Parquet metadata
        return pa.Table.from_pandas(bare, preserve_index=False)
    raise DataError(f"expected a pandas or polars DataFrame, got {type(frame).__name__}")


def to_polars(frame: Any, what: str = "frame") -> pl.DataFrame:
    """A pandas, polars (eager or lazy) or Arrow frame, or a list of row dicts, as a polars DataFrame."""
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    if isinstance(frame, pl.DataFrame):  # already polars: no round trip through Arrow
        return frame
    if isinstance(frame, list):
        return pl.DataFrame(frame)
    try:
        table = to_arrow(frame)
    except DataError:
        raise DataError(f"{what} must be a pandas or polars DataFrame, got {type(frame).__name__}") from None
    return _polars(table)


REPEAT_PASS_ROWS = 20_000_000
"""Rows whose key hashes one repeat-check pass sorts (160 MB of hashes): larger inputs take several passes."""


def repeats_query(
    frame: pl.DataFrame | pl.LazyFrame, keys: Sequence[str], part: int = 0, parts: int = 1
) -> pl.LazyFrame:
    """A one-row query: ``repeats`` is False when no two rows share ``keys``.

    The keys are hashed (one 64-bit hash per column, a seed each, combined by xor), sorted, and compared with
    their neighbours: cheaper than grouping or counting distinct values. Distinct hashes prove distinct keys;
    an equal pair means a repeat or, rarely, a collision, so a True sends the caller its exact way.

    With ``parts`` > 1 the query looks only at the rows whose hash falls in ``part`` (equal keys hash alike, so
    the parts together decide the whole): memory is bounded by one part's hashes, not by the data."""
    return _neighbours(_in_part(key_hashes(frame, keys), part, parts))


def _in_part(hashes: pl.LazyFrame, part: int, parts: int) -> pl.LazyFrame:
    """The ``_h`` hashes that fall in hash part ``part`` of ``parts`` (all of them for one part)."""
    return hashes.filter(pl.col("_h") % parts == part) if parts > 1 else hashes


def _neighbours(hashes: pl.LazyFrame) -> pl.LazyFrame:
    """A one-row query: ``repeats`` is True when two of the ``_h`` hashes are equal (sorted, then each compared
    with the one before it)."""
    ordered = hashes.select(pl.col("_h").sort())
    return ordered.select(repeats=(pl.col("_h") == pl.col("_h").shift(1)).any())


def key_hashes(frame: pl.DataFrame | pl.LazyFrame, keys: Sequence[str]) -> pl.LazyFrame:
    """One 64-bit hash per row of ``keys`` (a column ``_h``), as :func:`repeats_query` compares them: hashes of
    several frames, concatenated, can be checked as one (``repeats_query(hashes, ["_h"])`` would hash again)."""
    return frame.lazy().select(_h=key_hash(keys))


def key_hash(keys: Sequence[str]) -> pl.Expr:
    """The expression :func:`key_hashes` selects: a seeded 64-bit hash per column, combined by xor."""
    return reduce(operator.xor, [pl.col(k).hash(seed) for seed, k in enumerate(keys, start=1)])


def hashes_repeat(hashes: pl.DataFrame | pl.LazyFrame, parts: int = 1) -> bool:
    """Whether two of the ``_h`` hashes from :func:`key_hashes` are equal (a repeat or, rarely, a collision).
    With ``parts`` > 1 they are sorted one hash part after another (equal hashes fall in one part), stopping at
    the first repeat, so memory holds one part."""
    lazy = hashes.lazy()
    return any(_neighbours(_in_part(lazy, part, parts)).collect(engine="streaming").item() for part in range(parts))


def repeat_parts(rows: int) -> int:
    """How many hash parts keep each repeat-check pass within :data:`REPEAT_PASS_ROWS` rows."""
    return max(1, -(-rows // REPEAT_PASS_ROWS))


def import_duckdb() -> Any:
    """The duckdb module (an optional dependency), or a DataError saying how to install it."""
    try:
        import duckdb
    except ImportError:
        raise DataError("backend='duckdb' needs the duckdb package: pip install duckdb") from None
    return duckdb
