"""One vocabulary, typed where text was used: compare()'s options as a frozen dataclass, warnings as typed notes
(code decides by their code, the text is written out once), and the old spellings of renamed options, which
still work for one release with a DeprecationWarning naming the new one."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from engagement_lab import StatsInputError
from engagement_lab.stats import GroupStats, adjust_pvalues, balance, compare, contrast, format_p
from engagement_lab.stats.effects import Contrast
from engagement_lab.stats.notes import UNTESTABLE, Note, render
from engagement_lab.stats.options import CompareOptions, check_options


def tweets(seed: int = 1, n: int = 60, lift: float = 0.3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = np.repeat(["A", "B"], n // 2)
    impressions = rng.lognormal(7, 1, n).round().astype(int) + 1
    engagements = rng.binomial(impressions, rng.beta(30, 1000, n) * np.where(arm == "B", 1 + lift, 1))
    return pd.DataFrame(
        {"variant": arm, "impressions": impressions, "engagements": engagements, "account": rng.choice(["x", "y"], n)}
    )


def _no_engagements_in_b() -> pd.DataFrame:
    """B's tweets: no engagements, and only one tweet (a test needs two)."""
    df = tweets()
    df.loc[df.variant == "B", "engagements"] = 0
    return df[(df.variant == "A") | (df.index == df[df.variant == "B"].index[0])]


# --- options ---------------------------------------------------------------------------------------------


def test_options_are_a_frozen_dataclass_checked_with_a_suggestion() -> None:
    options = check_options("auto", "control", 0.05, "holm", "all", "larger", "delta", "relative", 1000, 0)
    assert isinstance(options, CompareOptions)
    assert (options.alternative, options.covariate) == ("greater", None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.alpha = 0.1  # type: ignore[misc]
    with pytest.raises(StatsInputError, match=r"correction='hlm' is not an option \(did you mean 'holm'\?\)"):
        check_options("auto", "control", 0.05, "hlm", "all", "two-sided", "delta", "relative", 1000, 0)


# --- typed notes -----------------------------------------------------------------------------------------


def test_an_untestable_arm_gives_typed_reasons_and_the_same_text() -> None:
    row = compare(_no_engagements_in_b(), metric="engagement_rate", by="variant").rows[0]
    assert [note.code for note in row.reasons] == [UNTESTABLE]
    reason = "treatment has 1 tweet(s): a test needs at least 2 per group"
    assert row.reasons[0].text == reason
    assert row.warnings == render(row.notes) == f"cannot test: {reason}"
    assert row.verdict("holm") == f"cannot tell on engagement_rate: B vs A: {reason}"
    headline = compare(_no_engagements_in_b(), metric="engagement_rate", by="variant").headlines()[0]
    assert headline.endswith(f"on engagements per impression: {reason}.")


def test_a_test_valid_on_degenerate_arms_drops_the_reasons_by_code() -> None:
    hits = pd.DataFrame({"g": ["A"] * 20 + ["B"] * 20, "hit": [False] * 20 + [True] * 12 + [False] * 8})
    fallback = compare(hits, metric="hit", by="g").rows[0]
    assert fallback.testable
    assert fallback.reasons == ()
    assert [note.code for note in fallback.notes] == ["exact_fallback"]
    assert fallback.warnings.startswith("an arm has no variation, so the p-value is Fisher's exact test")
    fisher = compare(hits, metric="hit", by="g", method="fisher").rows[0]
    assert fisher.notes == ()
    assert fisher.warnings == ""


def test_every_row_writes_its_notes_as_its_warnings() -> None:
    frame = tweets()
    for options in ({}, {"method": "naive-z"}, {"method": "mann-whitney"}, {"adjust_for": ["account"]}):
        result = compare(frame, metric="engagement_rate", by="variant", **options)
        for row in result.rows:
            assert row.warnings == "; ".join(str(note) for note in row.notes)
            assert all(isinstance(note, Note) for note in row.notes)
    naive = compare(frame, metric="engagement_rate", by="variant", method="naive-z").rows[0]
    assert [note.code for note in naive.notes] == ["naive"]


def test_contrast_untestable_is_what_contrast_gives_for_a_lone_tweet() -> None:
    lone, arm = GroupStats(1, 1, 1, 10, 100, 10), GroupStats(5, 10, 30, 50, 600, 110)
    reason = "control has 1 tweet(s): a test needs at least 2 per group"
    expected = Contrast.untestable(lone.ratio, arm.ratio, [reason])
    assert contrast(lone, arm) == expected
    assert expected.warnings == (f"cannot test: {reason}",)
    assert not expected.testable
    assert math.isnan(expected.p_value_rel)
    assert expected.rel_lift == pytest.approx(1.0)


# --- p-values print one way ------------------------------------------------------------------------------


def test_verdicts_print_p_values_as_headlines_do() -> None:
    result = compare(tweets(lift=0.0, seed=3), metric="engagement_rate", by="variant")
    p = result.rows[0].p_adjusted
    assert 0.001 < p < 1
    assert result.verdicts()[0].endswith(f", p = {p:.2g} (Holm)")
    assert f"({format_p(p)})" in result.headlines()[0]


# --- deprecated spellings --------------------------------------------------------------------------------


def test_adjust_pvalues_method_is_the_deprecated_name_of_correction() -> None:
    p = [0.01, 0.04, 0.03, 0.005, float("nan")]
    with pytest.warns(DeprecationWarning, match=r"adjust_pvalues\(correction=\.\.\.\)"):
        old = adjust_pvalues(p, method="fdr_bh")
    np.testing.assert_array_equal(old, adjust_pvalues(p, correction="fdr_bh"))
    with pytest.warns(DeprecationWarning, match="deprecated"), pytest.raises(StatsInputError, match="not both"):
        adjust_pvalues(p, correction="bonferroni", method="fdr_bh")


def test_balance_covariates_is_the_deprecated_name_of_adjust_for() -> None:
    frame = tweets()
    with pytest.warns(DeprecationWarning, match=r"balance\(adjust_for=\[\.\.\.\]\)"):
        old = balance(frame, by="variant", covariates=["account", "impressions"])
    new = balance(frame, by="variant", adjust_for=["account", "impressions"])
    pd.testing.assert_frame_equal(old, new)
    pd.testing.assert_frame_equal(balance(frame, by="variant", adjust_for="account"), new.iloc[:2])
    with pytest.raises(StatsInputError, match="needs adjust_for"):
        balance(frame, by="variant")
