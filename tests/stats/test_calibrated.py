"""The calibrated default for rates (``method="delta-hc3"``) by hand, and the defects found while calibrating it:
each test here failed on the code before (the delta method's HC0 variance, the sums' cancellation, the ρ of the
one-sided sequence...)."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest
from scipy import stats as sps

from engagement_lab import compare
from engagement_lab.metrics import Ratio
from engagement_lab.stats import GroupStats, group_stats
from engagement_lab.stats.effects import contrast, flat_reason
from engagement_lab.stats.sufficient import SERIES_SHARE
from engagement_lab.stats.views import bayesian_lift, bayesian_lift_on_log

RATE = Ratio("engagements", "impressions")


def skewed(n: int = 40, seed: int = 3, lift: float = 0.0) -> pd.DataFrame:
    """Tweets of two variants whose impressions have the skew of real accounts (lognormal, sigma 1.3)."""
    rng = np.random.default_rng(seed)
    impressions = np.round(np.exp(np.log(2000) + 1.3 * rng.standard_normal(2 * n))).clip(1).astype(int)
    rate = 0.02 * np.exp(0.5 * rng.standard_normal(2 * n) - 0.125) * np.r_[np.ones(n), np.full(n, 1 + lift)]
    engagements = np.minimum(rng.poisson(impressions * rate), impressions)
    return pd.DataFrame({"variant": ["A"] * n + ["B"] * n, "impressions": impressions, "engagements": engagements})


def by_hand(m: np.ndarray, d: np.ndarray) -> tuple[float, float, float]:
    """An arm's rate, its leverage-corrected (HC3) variance and its degrees of freedom, from raw rows."""
    total = d.sum()
    r = m.sum() / total
    u = d / total
    e = m - r * d
    variance = float(((e / (1 - u)) ** 2).sum() / total**2)
    df = 1 / ((u * u / (1 - u)).sum() ** 2 + (u * u * (1 - 2 * u) / (1 - u) ** 2).sum())
    return r, variance, float(df)


def welch(a: float, b: float, df_a: float, df_b: float) -> float:
    return (a + b) ** 2 / (a * a / df_a + b * b / df_b)


def test_the_default_for_rates_matches_a_hand_computation() -> None:
    df = skewed(lift=0.3)
    row = compare(df, metric="engagement_rate", by="variant").rows[0]
    arms = {g: (x.engagements.to_numpy(float), x.impressions.to_numpy(float)) for g, x in df.groupby("variant")}
    (r_a, v_a, df_a), (r_b, v_b, df_b) = by_hand(*arms["A"]), by_hand(*arms["B"])
    assert row.method.startswith("delta method, leverage-corrected (HC3)")
    log_a, log_b = v_a / r_a**2, v_b / r_b**2
    log_se, log_df = math.sqrt(log_a + log_b), welch(log_b, log_a, df_b, df_a)
    estimate = math.log(r_b / r_a)
    assert row.rel_lift == pytest.approx(r_b / r_a - 1, rel=1e-12)
    assert row.p_value == pytest.approx(2 * sps.t.sf(abs(estimate) / log_se, log_df), rel=1e-9)
    q = sps.t.ppf(0.975, log_df)
    assert (row.rel_ci_low, row.rel_ci_high) == pytest.approx(
        (math.expm1(estimate - q * log_se), math.expm1(estimate + q * log_se)), rel=1e-9
    )
    abs_df = welch(v_b, v_a, df_b, df_a)
    half = sps.t.ppf(0.975, abs_df) * math.sqrt(v_a + v_b)
    assert (row.abs_ci_low, row.abs_ci_high) == pytest.approx((r_b - r_a - half, r_b - r_a + half), rel=1e-9)
    assert row.p_value_abs == pytest.approx(2 * sps.t.sf(abs(r_b - r_a) / math.sqrt(v_a + v_b), abs_df), rel=1e-9)
    peer = compare(df, metric="engagement_rate", by="variant", method="delta").rows[0]
    assert row.rel_ci_high - row.rel_ci_low > peer.rel_ci_high - peer.rel_ci_low  # HC0 is too narrow here


def test_equal_impressions_give_welchs_degrees_of_freedom() -> None:
    """With every tweet seen as often, the leverage df is n - 1 (Welch's), and HC3 is HC0 scaled by (n/(n-1))^2."""
    m, d = np.array([3.0, 9, 1, 4, 7]), np.full(5, 100.0)
    g = GroupStats.from_arrays(m, d)
    assert g.df_leverage == pytest.approx(4, rel=1e-12)
    assert g.variance_hc3 == pytest.approx(g.variance * 5 / 4, rel=1e-12)


def test_leverage_sums_agree_across_engines_and_with_the_first_order_path() -> None:
    df = skewed(n=300)
    expected = {g: GroupStats.from_arrays(x.engagements.to_numpy(float), x.impressions.to_numpy(float))
                for g, x in df.groupby("variant")}  # fmt: skip
    for frame in (df, pl.from_pandas(df), pl.from_pandas(df).lazy(), duckdb.from_df(df)):
        found = group_stats(frame, RATE, "variant")
        for g, want in expected.items():
            got = found[g]
            for name in ("ss_res", "ss_hc3", "lev_a", "lev_b", "max_d"):
                assert getattr(got, name) == pytest.approx(getattr(want, name), rel=1e-9), (type(frame), name)
    big = pd.DataFrame(
        {"variant": "A", "impressions": np.full(200_000, 500), "engagements": 10 + np.arange(200_000) % 7}
    )
    exact = GroupStats.from_arrays(big.engagements.to_numpy(float), big.impressions.to_numpy(float))
    series = group_stats(big, RATE, "variant")["A"]  # every share below 1e-3: read off the power sums
    assert series.ss_hc3 == pytest.approx(exact.ss_hc3, rel=1e-8)
    assert series.df_leverage == pytest.approx(exact.df_leverage, rel=1e-8)


def test_first_order_leverages_hold_their_stated_bound_just_below_the_threshold_share() -> None:
    """Below SERIES_SHARE the leverage sums come off the power sums to first order: the leverage-corrected variance
    short of the exact one by at most 3u² of itself (3e-6 at u = 0.1%), the degrees of freedom within 2.1e-6. The
    largest tweet here holds 0.0999% of its group's impressions and most of the residual, near the worst case."""
    rng = np.random.default_rng(3)
    impressions = rng.integers(900, 1100, 2000).astype(float)
    impressions[0] = SERIES_SHARE * 0.999 * (impressions[1:].sum()) / (1 - SERIES_SHARE * 0.999)
    engagements = rng.binomial(impressions[1:].astype(int), 0.02).astype(float)
    engagements = np.r_[round(0.2 * impressions[0]), engagements]
    frame = pd.DataFrame({"variant": "A", "impressions": impressions, "engagements": engagements})
    exact = GroupStats.from_arrays(engagements, impressions)
    series = group_stats(frame, RATE, "variant")["A"]
    assert exact.largest_share == pytest.approx(SERIES_SHARE * 0.999)
    shortfall = 1 - series.variance_hc3 / exact.variance_hc3
    assert 0 <= shortfall <= 3e-6
    assert shortfall > 1e-7  # the first order is what was used (the exact pass would give 1e-16)
    assert series.df_leverage == pytest.approx(exact.df_leverage, rel=2.1e-6)
    assert series.ss_res == pytest.approx(exact.ss_res, rel=1e-12)


def test_equal_rates_are_no_variation_whatever_the_rounding() -> None:
    """[1, 2, 3, 4] / [100, 200, 300, 400]: every rate is exactly 1%. From the sums the variance was 1e-21 and
    counted as variation; from the centred residuals it is 0."""
    g = group_stats(pd.DataFrame({"engagements": [1, 2, 3, 4], "impressions": [100, 200, 300, 400]}), RATE)["all"]
    assert g.ss_res == 0.0
    assert flat_reason("control", g) is not None
    both = pd.DataFrame({"variant": ["A"] * 4 + ["B"] * 4, "engagements": [1, 2, 3, 4, 2, 4, 6, 8],
                         "impressions": [100, 200, 300, 400] * 2})  # fmt: skip
    verdict = compare(both, metric="engagement_rate", by="variant", method="delta").verdicts()[0]
    assert verdict.startswith("cannot tell on engagement_rate: B vs A: control has no variation between tweets")


def test_an_arm_without_engagements_gets_a_verdict_when_the_evidence_is_overwhelming() -> None:
    """200 tweets, 0 of about 200k impressions, against 2%: was "cannot tell ... every tweet has 0"."""
    rng = np.random.default_rng(5)
    impressions = rng.integers(500, 1500, 400)
    engagements = np.r_[np.zeros(200, int), rng.binomial(impressions[200:], 0.02)]
    df = pd.DataFrame({"variant": ["A"] * 200 + ["B"] * 200, "impressions": impressions, "engagements": engagements})
    row = compare(df, metric="engagement_rate", by="variant").rows[0]
    assert row.testable
    assert row.p_value < 0.002
    assert row.abs_ci_low > 0.015  # B's rate less the most A's pooled count allows
    assert "rate is bounded exactly by its pooled count (0 in" in row.warnings
    one_sided = compare(df, metric="engagement_rate", by="variant", alternative="greater").rows[0]
    assert one_sided.p_value < 0.002
    wrong_way = compare(df, metric="engagement_rate", by="variant", alternative="less").rows[0]
    assert wrong_way.p_value == 1.0


def test_an_arm_too_small_to_bound_still_cannot_tell() -> None:
    df = pd.DataFrame({"variant": ["A"] * 3 + ["B"] * 3, "impressions": [10, 12, 8, 100, 120, 80],
                       "engagements": [0, 0, 0, 2, 3, 1]})  # fmt: skip
    verdict = compare(df, metric="engagement_rate", by="variant").verdicts()[0]
    assert "control has no variation between tweets and only 30 in its denominator: too few to bound" in verdict
    assert verdict.startswith("cannot tell")


def test_the_log_interval_takes_its_degrees_of_freedom_from_the_log_scale() -> None:
    df = skewed(n=12, lift=0.4)
    row = compare(df, metric="engagement_rate", by="variant", method="delta", relative_ci="log").rows[0]
    arms = {g: (x.engagements.to_numpy(float), x.impressions.to_numpy(float)) for g, x in df.groupby("variant")}
    (r_a, _, _), (r_b, _, _) = by_hand(*arms["A"]), by_hand(*arms["B"])
    v_a, v_b = (GroupStats.from_arrays(*arms[g]).variance for g in ("A", "B"))
    a, b = v_a / r_a**2, v_b / r_b**2
    log_df = welch(b, a, 11, 11)
    assert log_df != pytest.approx(welch(v_b, v_a, 11, 11), rel=1e-3)  # the two scales' df differ here
    estimate, se = math.log(r_b / r_a), math.sqrt(a + b)
    assert row.p_value_rel == pytest.approx(2 * sps.t.sf(abs(estimate) / se, log_df), rel=1e-9)
    assert row.rel_ci_low == pytest.approx(math.expm1(estimate - sps.t.ppf(0.975, log_df) * se), rel=1e-9)


def test_the_association_caveat_only_when_the_groups_were_not_randomised() -> None:
    df = skewed()
    caveat = "show association, not cause"
    assert not any(caveat in note for note in compare(df, metric="engagement_rate", by="variant").notes)
    observational = compare(df, metric="engagement_rate", by="variant", randomised=False)
    assert any(caveat in note for note in observational.notes)
    with pytest.raises(Exception, match="randomised must be True or False"):
        compare(df, metric="engagement_rate", by="variant", randomised="no")


def test_a_few_tweets_carrying_the_impressions_are_named() -> None:
    df = skewed(n=40)
    df.loc[0, "impressions"] = int(df.impressions.sum())  # one of A's tweets as seen as all the others together
    df.loc[0, "engagements"] = int(df.loc[0, "impressions"] * 0.02)
    row = compare(df, metric="engagement_rate", by="variant").rows[0]
    assert "A's impressions sit on few tweets: its largest carries" in row.warnings
    assert "treat this as a rough indication" in row.warnings
    assert "concentrated" in [note.code for note in row.notes]
    even = skewed(n=40).assign(impressions=100_000)
    assert "sit on few tweets" not in compare(even, metric="engagement_rate", by="variant").rows[0].warnings


def test_the_bayesian_view_of_a_log_scale_lift() -> None:
    post = bayesian_lift_on_log(math.log(1.2), 0.1)
    on_log = bayesian_lift(math.log(1.2), 0.1)
    assert post.mean == pytest.approx(0.2, rel=1e-12)  # the posterior median of the lift
    assert post.chance_to_win == on_log.chance_to_win
    assert post.credible_interval == pytest.approx(tuple(math.expm1(x) for x in on_log.credible_interval), rel=1e-12)
    draws = np.expm1(np.random.default_rng(0).normal(math.log(1.2), 0.1, 2_000_000))
    assert post.risk_treatment == pytest.approx(np.maximum(-draws, 0).mean(), rel=0.02)
    assert post.risk_control == pytest.approx(np.maximum(draws, 0).mean(), rel=0.002)
    row = compare(skewed(lift=0.3), metric="engagement_rate", by="variant")
    frame = row.bayesian()
    assert frame.lift_mean[0] == pytest.approx(row.rows[0].rel_lift, rel=1e-12)


def test_the_default_contrast_function_is_the_peers_delta_method() -> None:
    """``contrast()`` called directly keeps the peers' HC0 delta method; ``variance="hc3"`` is the new default's."""
    a, b = (GroupStats.from_arrays(*arrays) for arrays in
            ((np.array([3.0, 9, 1, 4]), np.array([100.0, 900, 50, 400])), (np.array([5.0, 2, 8, 1]), np.array([300.0, 100, 600, 90]))))  # fmt: skip
    plain, leveraged = contrast(a, b), contrast(a, b, variance="hc3")
    assert plain.se == pytest.approx(math.sqrt(a.variance + b.variance), rel=1e-12)
    assert leveraged.se == pytest.approx(math.sqrt(a.variance_hc3 + b.variance_hc3), rel=1e-12)
    assert leveraged.rel_scale == "log"
    assert plain.rel_scale == "delta"


def test_the_headline_and_the_html_say_when_a_few_tweets_carry_the_impressions() -> None:
    df = skewed(n=40)
    df.loc[0, "impressions"] = int(df.impressions.sum())
    df.loc[0, "engagements"] = int(df.loc[0, "impressions"] * 0.02)
    result = compare(df, metric="engagement_rate", by="variant")
    headline = result.headlines()[0]
    assert "A's impressions sit on few tweets: its largest carries" in headline
    assert headline.endswith("treat this as a rough indication.")
    assert "sit on few tweets" in result._repr_html_()
