"""Errors clustered on few clusters are too narrow (Cameron & Miller 2015): under 30 clusters the adjusted row's
warnings say so, with the count and the way out; 30 or more say nothing."""

from __future__ import annotations

import pytest

from engagement_lab.stats import compare
from tests.stats.test_adjusted_scale import tweets


@pytest.mark.parametrize(("accounts", "noted"), [(8, True), (40, False)])
def test_clustering_on_few_clusters_is_said(accounts: int, noted: bool) -> None:
    data = tweets(3_000, accounts, seed=3)
    result = compare(data, metric="engagement_rate", by="content_type", control="text",
                     adjust_for=["account", "weekday"], cluster="account", randomised=False)  # fmt: skip
    said = f"errors clustered on 'account' rest on {accounts} clusters; with fewer than 30 they are too narrow"
    assert all((said in row.warnings) == noted for row in result.rows), [row.warnings for row in result.rows]
    assert "leave cluster= out for robust (HC3) errors" in result.rows[0].warnings or not noted
    assert (f"rest on {accounts} clusters" in result._repr_html_()) == noted


def test_no_cluster_no_note() -> None:
    result = compare(tweets(2_000, 8, seed=4), metric="engagement_rate", by="content_type", control="text",
                     adjust_for=["account"], randomised=False)  # fmt: skip
    assert not any("clusters" in row.warnings for row in result.rows)


def test_the_way_out_names_the_models_own_robust_errors() -> None:
    result = compare(tweets(2_000, 8, seed=5), metric="engagement_rate", by="content_type", control="text",
                     adjust_for=["account"], cluster="account", adjust_model="negbin", randomised=False)  # fmt: skip
    assert "leave cluster= out for robust (HC1) errors" in result.rows[0].warnings
