"""Each group's sufficient statistics at their edges: one tweet, two, no denominator, a flat arm of many tweets,
and the same sums by every path (per-tweet arrays, the exact second pass, the power-sum series)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from engagement_lab.errors import StatsInputError
from engagement_lab.metrics import Mean, Ratio
from engagement_lab.stats import GroupStats, group_stats
from engagement_lab.stats.effects import flat_reason
from engagement_lab.stats.sufficient import SERIES_SHARE, tweet_arrays

RATE = Ratio("engagements", "impressions")
FIELDS = ("n", "sum_m", "sum_mm", "sum_d", "sum_dd", "sum_md", "ss_res", "ss_hc3", "lev_a", "lev_b", "max_d")


def _same(a: GroupStats, b: GroupStats) -> None:
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, rel=1e-12), name


@pytest.mark.parametrize(
    ("engagements", "impressions"),
    [([3], [100]), ([3, 5], [100, 300]), ([0, 0, 0], [0, 0, 0]), ([1, 2, 4], [100, 100, 900])],
    ids=["one tweet", "two tweets", "no impressions", "three tweets"],
)
def test_per_tweet_arrays_and_a_frame_give_the_same_sums(engagements: list[int], impressions: list[int]) -> None:
    """A group of fewer than two tweets, or without impressions, has no second-pass sums (NaN) on every path; its
    largest tweet is still its largest tweet."""
    frame = pd.DataFrame({"variant": "A", "engagements": engagements, "impressions": impressions})
    from_frame = group_stats(frame, RATE, "variant")["A"]
    with np.errstate(all="raise"):  # no division by a zero total on the way
        from_arrays = GroupStats.from_arrays(np.array(engagements), np.array(impressions))
    _same(from_arrays, from_frame)
    assert from_frame.max_d == max(impressions)
    if len(engagements) < 2 or not sum(impressions):
        assert all(math.isnan(getattr(from_frame, k)) for k in ("ss_res", "ss_hc3", "lev_a", "lev_b"))
    else:
        assert from_frame.leveraged


def test_a_group_built_from_its_sums_is_a_count_not_a_proportion() -> None:
    """GroupStats(n, sums...) is the delta method's ratio; only binary=True makes it a proportion."""
    m, d = np.array([1.0, 0, 3, 2]), np.array([10.0, 20, 30, 40])
    sums = {"sum_m": m.sum(), "sum_mm": m @ m, "sum_d": d.sum(), "sum_dd": d @ d, "sum_md": m @ d}
    built = GroupStats(n=4, **sums)
    residuals = m - m.sum() / d.sum() * d
    by_hand = residuals.var(ddof=1) / d.mean() ** 2  # Var_s(M − R·D) / D̄²
    assert built.unit_variance == pytest.approx(by_hand, rel=1e-12)
    assert GroupStats.from_arrays(m, d).unit_variance == pytest.approx(by_hand, rel=1e-12)
    assert built.unit_variance != pytest.approx(built.ratio * (1 - built.ratio))
    two = GroupStats(n=2, sum_m=4.0, sum_mm=10.0, sum_d=40.0, sum_dd=1000.0, sum_md=60.0)  # M = 1, 3; D = 30, 10
    assert two.unit_variance == pytest.approx(np.var([1 - 0.1 * 30, 3 - 0.1 * 10], ddof=1) / 20**2, rel=1e-12)


def test_two_tweets_have_a_residual_variance_and_degrees_of_freedom() -> None:
    m, d = np.array([1.0, 3.0]), np.array([30.0, 10.0])
    g = GroupStats.from_arrays(m, d)
    e = m - m.sum() / d.sum() * d
    u = d / d.sum()
    assert g.residual_variance == pytest.approx(e @ e / 1, rel=1e-12)
    bell_mccaffrey = 1 / ((u * u / (1 - u)).sum() ** 2 + (u * u * (1 - 2 * u) / (1 - u) ** 2).sum())
    assert g.df_leverage == pytest.approx(bell_mccaffrey, rel=1e-12)
    three = GroupStats.from_arrays(np.array([1.0, 3, 2]), np.array([30.0, 10, 20]))
    e3 = np.array([1.0, 3, 2]) - 6 / 60 * np.array([30.0, 10, 20])
    assert three.residual_variance == pytest.approx(e3 @ e3 / 2, rel=1e-12)


def test_a_single_tweet_or_no_denominator_has_no_leverage_variance_whatever_its_sums() -> None:
    """The guards hold on their own, for stats built by hand with second-pass sums filled in."""
    one = GroupStats(1, 3.0, 9.0, 100.0, 1e4, 300.0, ss_res=1.0, ss_hc3=4.0, lev_a=0.5, lev_b=0.5, max_d=100.0)
    assert math.isnan(one.variance_hc3)
    assert math.isnan(one.df_leverage)
    unseen = GroupStats(3, 0.0, 0.0, 0.0, 0.0, 0.0, ss_res=math.nan, ss_hc3=math.nan, lev_a=1.0, lev_b=1.0)
    assert math.isnan(unseen.variance_hc3)  # no ZeroDivisionError
    even = GroupStats(3, 3.0, 9.0, 30.0, 300.0, 30.0, ss_res=1.0, ss_hc3=1.0, lev_a=0.0, lev_b=0.0)
    assert math.isnan(even.df_leverage)  # no shares to bound: no degrees of freedom, not a ZeroDivisionError


def test_kish_n_counts_a_single_unit_denominator_and_refuses_none() -> None:
    assert GroupStats.from_arrays(np.array([0.0]), np.array([1.0])).kish_n == 1
    assert GroupStats.from_arrays(np.array([1.0, 1]), np.array([0.5, 0.5])).kish_n == pytest.approx(2)
    assert math.isnan(GroupStats.from_arrays(np.array([0.0, 0]), np.array([0.0, 0])).kish_n)


def test_a_flat_arm_of_many_tweets_is_flat_on_the_power_sum_path() -> None:
    """2,000 tweets with every rate exactly 1%, none holding 0.1% of the impressions: the residual sum read off the
    power sums is 0 (never a rounding floor), so the arm has no variation to test with."""
    impressions = np.random.default_rng(4).integers(900, 1100, 2000) * 100
    frame = pd.DataFrame({"variant": "A", "impressions": impressions, "engagements": impressions // 100})
    g = group_stats(frame, RATE, "variant")["A"]
    assert g.largest_share < SERIES_SHARE
    assert g.ss_res == 0.0
    assert flat_reason("control", g) is not None


def test_a_declared_proportion_with_a_half_is_refused() -> None:
    """ΣM² = ΣM holds only for 0 and 1 (to rounding): a 0.5 leaves them 0.25 apart."""
    frame = pd.DataFrame({"g": ["A"] * 4 + ["B"] * 4, "hit": [0, 0.5, 1, 1, 0, 1, 1, 0]})
    with pytest.raises(StatsInputError, match="declared a proportion of tweets but group 'A'"):
        group_stats(frame, Mean("hit", proportion=True), "g")


def test_per_tweet_arrays_name_the_label_that_clashes() -> None:
    """The number 1 and the text '1' in one column: the message names '1', not the first label seen."""
    frame = pd.DataFrame({"variant": ["C", 1, "1", "C"], "engagements": [1, 2, 3, 4], "impressions": [10, 20, 30, 40]})
    with pytest.raises(StatsInputError, match="all read '1'"):
        tweet_arrays(frame, RATE, "variant")
