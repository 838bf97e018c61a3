"""compare reads a lazy input once (#35): each question to a lazy plan runs all of it again (per_tweet of a Parquet
scan reads and pivots every file), and a comparison asks several (checks, sums, leverages), so the columns it needs
are read once into memory. A polars IO source counts the reads; the numbers equal the eager comparison's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest
from polars.io.plugins import register_io_source

from engagement_lab.errors import StatsInputError
from engagement_lab.stats import compare


def _tweets(n: int = 400, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    impressions = np.round(rng.lognormal(6, 1.2, n)) + 1  # a few tweets hold much of an arm: the exact leverages
    return pl.DataFrame({
        "tweet_id": [str(10**18 + i) for i in range(n)],
        "variant": rng.choice(["A", "B", "C"], n),
        "impressions": impressions,
        "engagements": rng.binomial(impressions.astype(np.int64), 0.03).astype(float),
        "unused": rng.random(n),
    })  # fmt: skip


def counted_source(frame: pl.DataFrame, reads: list[int]) -> pl.LazyFrame:
    """``frame`` as a lazy source that records each time it is read."""

    def read(
        with_columns: list[str] | None, predicate: Any, n_rows: int | None, batch_size: int | None
    ) -> Iterator[pl.DataFrame]:
        reads.append(1)
        out = frame.select(with_columns) if with_columns else frame
        yield out.filter(predicate) if predicate is not None else out

    return register_io_source(read, schema=frame.schema)


@pytest.mark.parametrize("pairs", ["control", "all"])
def test_a_lazy_input_is_read_once(pairs: str) -> None:
    frame, reads = _tweets(), []
    options: dict[str, Any] = {"metric": "engagement_rate", "by": "variant", "pairs": pairs}
    lazy = compare(counted_source(frame, reads), **options).to_frame()
    assert len(reads) == 1, f"the lazy input was read {len(reads)} times"
    pd.testing.assert_frame_equal(lazy, compare(frame, **options).to_frame())


def test_a_duckdb_relation_gives_the_eager_numbers() -> None:
    frame = _tweets(seed=2)
    con = duckdb.connect()
    con.register("tweets", frame.to_arrow())
    relation = con.sql("SELECT * FROM tweets")
    options: dict[str, Any] = {"metric": "engagement_rate", "by": "variant"}
    pd.testing.assert_frame_equal(compare(relation, **options).to_frame(), compare(frame, **options).to_frame())


def test_a_group_column_named_population_is_read_once_too() -> None:
    """``by="population"`` on a lazy frame: the column is both needed and the one-population check's (it was
    selected twice, a raw DuplicateError)."""
    frame = _tweets(seed=3).rename({"variant": "population"})
    options: dict[str, Any] = {"metric": "engagement_rate", "by": "population"}
    with pytest.raises(StatsInputError, match="the tweets count different populations"):
        compare(frame, **options)
    with pytest.raises(StatsInputError, match="the tweets count different populations"):
        compare(frame.lazy(), **options)
