"""PySpark (local[2]): per_tweet gives a Spark DataFrame back and compare reads one, agreeing with polars.

Optional: ``pip install 'engagement-lab[spark]'`` and a Java runtime; skipped with the reason otherwise."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest

from engagement_lab import compare, per_tweet

pytestmark = pytest.mark.spark

pyspark = pytest.importorskip("pyspark", reason="PySpark is optional: pip install 'engagement-lab[spark]'")
if shutil.which("java") is None:
    pytest.skip("PySpark needs a Java runtime (none on PATH)", allow_module_level=True)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("OFF")
    yield session
    session.stop()


def test_per_tweet_and_compare_on_a_spark_dataframe(spark: Any, world_totals: tuple[Any, Any]) -> None:
    tidy, metadata = world_totals
    wide = per_tweet(spark.createDataFrame(tidy.to_arrow()), rates=["engagement_rate"])
    assert type(wide).__module__.startswith("pyspark")  # a Spark DataFrame back, evaluated by Spark
    want = per_tweet(tidy, rates=["engagement_rate"])
    got = pl.from_arrow(wide.toArrow())
    assert isinstance(got, pl.DataFrame)
    assert got.cast(dict(want.schema)).equals(want)  # type: ignore[arg-type,union-attr]
    with_meta = want.join(metadata, on="tweet_id")  # type: ignore[union-attr]
    in_spark = compare(spark.createDataFrame(with_meta.to_arrow()), metric="engagement_rate", by="content_type",
                       control="text")  # fmt: skip
    in_polars = compare(with_meta, metric="engagement_rate", by="content_type", control="text")
    for a, b in zip(in_spark.rows, in_polars.rows, strict=True):
        assert (a.treatment, a.n_treatment, a.n_control) == (b.treatment, b.n_treatment, b.n_control)
        assert a.rel_lift == pytest.approx(b.rel_lift, rel=1e-12)
        assert a.p_value == pytest.approx(b.p_value, rel=1e-9)
