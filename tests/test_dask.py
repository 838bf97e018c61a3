"""Dask: per_tweet gives a Dask DataFrame back and compare/summarize read one, agreeing with polars.

Dask is reached through narwhals. narwhals is moving its Dask support into a separate ``narwhals-dask`` package
and warns (FutureWarning) until it is installed; that package is not on the registry this project installs from,
so these tests run on narwhals' built-in Dask backend and accept its warning. Optional:
``pip install 'engagement-lab[dask]'``; skipped with the reason otherwise."""

from __future__ import annotations

import warnings
from typing import Any

import polars as pl
import pytest

from engagement_lab import compare, per_tweet, summarize

pytestmark = pytest.mark.dask

dd = pytest.importorskip("dask.dataframe", reason="Dask is optional: pip install 'engagement-lab[dask]'")


def _dask(frame: pl.DataFrame, arrow: bool) -> Any:
    return dd.from_pandas(frame.to_pandas(use_pyarrow_extension_array=arrow), npartitions=3)


@pytest.fixture(autouse=True)
def _narwhals_dask_notice() -> Any:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Dask support is moving out of Narwhals", category=FutureWarning)
        yield


@pytest.mark.parametrize("arrow", [False, True], ids=["numpy-backed", "arrow-backed"])
def test_per_tweet_compare_and_summarize_on_a_dask_dataframe(world_totals: tuple[Any, Any], arrow: bool) -> None:
    tidy, metadata = world_totals
    wide = per_tweet(_dask(tidy, arrow), rates=["engagement_rate"])
    assert type(wide).__module__.startswith("dask")  # a Dask DataFrame back, evaluated by Dask
    want = per_tweet(tidy, rates=["engagement_rate"])
    got = pl.from_pandas(wide.compute()).sort("tweet_id")
    assert got.cast(dict(want.schema)).equals(want)  # type: ignore[arg-type,union-attr]
    with_meta = want.join(metadata, on="tweet_id")  # type: ignore[union-attr]
    in_dask = compare(_dask(with_meta, arrow), metric="engagement_rate", by="content_type", control="text")
    in_polars = compare(with_meta, metric="engagement_rate", by="content_type", control="text")
    for a, b in zip(in_dask.rows, in_polars.rows, strict=True):
        assert (a.treatment, a.n_treatment, a.n_control) == (b.treatment, b.n_treatment, b.n_control)
        assert a.rel_lift == pytest.approx(b.rel_lift, rel=1e-12)
        assert a.p_value == pytest.approx(b.p_value, rel=1e-9)
    dask_summary = summarize(_dask(with_meta, arrow), metric="engagement_rate", by="variant").to_frame()
    polars_summary = summarize(with_meta, metric="engagement_rate", by="variant").to_frame()
    assert dask_summary.equals(polars_summary)
