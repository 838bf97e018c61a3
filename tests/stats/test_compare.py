"""compare(), summarize() and the building blocks, checked against independent computations from raw rows."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from scipy import stats as sps

from engagement_lab import Mean, Ratio, StatsInputError, columns
from engagement_lab.stats import (
    GroupStats,
    bayesian_lift,
    bootstrap_test,
    cluster_bootstrap,
    compare,
    confidence_sequence,
    format_p,
    mde,
    omnibus,
    permutation_test,
    power_ratio,
    sample_size_ratio,
    srm_check,
    summarize,
)


def tweets(seed: int = 1, n: int = 120, lift: float = 0.3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = np.repeat(["A", "B"], n // 2)
    impressions = rng.lognormal(7, 1, n).round().astype(int) + 1
    p = rng.beta(30, 1000, n) * np.where(arm == "B", 1 + lift, 1)
    engagements = rng.binomial(impressions, np.minimum(p, 1))
    return pd.DataFrame(
        {"variant": arm, "impressions": impressions, "engagements": engagements, "favorites": rng.poisson(5, n)}
    )


def delta_by_hand(m: np.ndarray, d: np.ndarray) -> tuple[float, float]:
    r = m.sum() / d.sum()
    return r, np.var(m - r * d, ddof=1) / (len(m) * d.mean() ** 2)


def test_ratio_contrast_matches_a_hand_computation_from_raw_rows() -> None:
    df = tweets()
    row = compare(df, metric="engagement_rate", by="variant", method="delta").rows[0]
    a, b = df[df.variant == "A"], df[df.variant == "B"]
    r_a, v_a = delta_by_hand(a.engagements.to_numpy(float), a.impressions.to_numpy(float))
    r_b, v_b = delta_by_hand(b.engagements.to_numpy(float), b.impressions.to_numpy(float))
    assert (row.control_value, row.treatment_value) == pytest.approx((r_a, r_b), rel=1e-12)
    assert row.abs_diff == pytest.approx(r_b - r_a, rel=1e-12)
    rel_se = math.sqrt(v_b / r_a**2 + r_b**2 * v_a / r_a**4)
    df_w = (v_a + v_b) ** 2 / (v_a**2 / (len(a) - 1) + v_b**2 / (len(b) - 1))
    assert row.p_value == pytest.approx(2 * sps.t.sf(abs((r_b / r_a - 1) / rel_se), df_w), rel=1e-9)
    half = sps.t.ppf(0.975, df_w) * math.sqrt(v_a + v_b)
    assert (row.abs_ci_low, row.abs_ci_high) == pytest.approx((r_b - r_a - half, r_b - r_a + half), rel=1e-9)
    naive = r_a * (1 - r_a) / a.impressions.sum() + r_b * (1 - r_b) / b.impressions.sum()
    assert row.deff == pytest.approx((v_a + v_b) / naive, rel=1e-9)
    assert row.deff > 2  # clustered data: the naive test is far too confident


def test_fieller_p_is_exactly_welchs_test_on_per_tweet_means() -> None:
    df = tweets()
    row = compare(df, metric="favorites", by="variant", relative_ci="fieller").rows[0]
    welch = sps.ttest_ind(df[df.variant == "B"].favorites, df[df.variant == "A"].favorites, equal_var=False)
    assert row.p_value == pytest.approx(welch.pvalue, rel=1e-10)
    assert row.method == "Welch t; fieller lift interval"
    assert math.isnan(row.deff)


def test_pandas_polars_and_lazy_agree() -> None:
    df = tweets()
    a = compare(df, metric="engagement_rate", by="variant").to_frame()
    b = compare(pl.from_pandas(df), metric="engagement_rate", by="variant").to_frame(backend="polars")
    c = compare(pl.from_pandas(df).lazy(), metric="engagement_rate", by="variant").to_frame()
    assert list(a.columns) == list(columns.COMPARISON) == b.columns
    assert a.iloc[0]["p_value"] == pytest.approx(b["p_value"][0], rel=1e-12) == pytest.approx(c.iloc[0]["p_value"])


def test_relative_interval_methods_and_consistent_verdicts() -> None:
    df = tweets(lift=0.5)
    rows = {
        m: compare(df, metric="engagement_rate", by="variant", relative_ci=m).rows[0]
        for m in ("delta", "log", "fieller")
    }
    for method, row in rows.items():
        inside = row.rel_ci_low <= 0 <= row.rel_ci_high
        assert inside == (row.p_value >= 0.05), method
    assert rows["log"].rel_ci_low > -1


def test_all_pairs_holm_and_family() -> None:
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"kind": rng.choice(list("abcd"), 400), "impressions": rng.integers(100, 5000, 400)})
    df["engagements"] = rng.binomial(df.impressions, 0.02)
    result = compare(df, metric=["engagement_rate", "impressions"], by="kind", pairs="all")
    frame = result.to_frame()
    assert len(frame) == 2 * 6
    ranked = frame.sort_values("p_value")
    assert (ranked.p_adjusted.to_numpy() >= ranked.p_value.to_numpy()).all()
    within = compare(df, metric=["engagement_rate", "impressions"], by="kind", pairs="all", family="metric").to_frame()
    assert (within.p_adjusted <= frame.p_adjusted + 1e-12).all()


def test_verdict_and_html() -> None:
    df = tweets(lift=0.6)
    result = compare(df, metric="engagement_rate", by="variant")
    verdict = result.verdicts()[0]
    assert verdict.startswith("B beats A by +")
    assert verdict.endswith(f", {format_p(result.rows[0].p_adjusted)} (Holm)")  # p printed as in the headlines
    html = result._repr_html_()
    assert "<table>" in html
    assert "B beats A" in html
    assert "design effect" in html


def test_naive_method_is_labelled_and_overconfident() -> None:
    df = tweets(lift=0.0, seed=5)
    naive = compare(df, metric="engagement_rate", by="variant", method="naive-z").rows[0]
    correct = compare(df, metric="engagement_rate", by="variant").rows[0]
    assert "NAIVE" in naive.method
    assert naive.p_value < correct.p_value
    assert "independent" in naive.warnings


def test_bootstrap_method_and_mann_whitney() -> None:
    df = tweets(lift=0.4)
    boot = compare(df, metric="engagement_rate", by="variant", method="bootstrap", n_resamples=2000).rows[0]
    delta = compare(df, metric="engagement_rate", by="variant").rows[0]
    assert boot.abs_ci_low == pytest.approx(delta.abs_ci_low, rel=0.35)
    assert boot.p_value < 0.05
    mw = compare(df, metric="engagement_rate", by="variant", method="mann-whitney").rows[0]
    assert "different estimand" in mw.warnings


def test_thin_and_degenerate_data_give_nan_and_warnings_not_exceptions() -> None:
    df = pd.DataFrame({"g": ["A", "B", "B"], "impressions": [100, 100, 120], "engagements": [5, 6, 9]})
    row = compare(df, metric="engagement_rate", by="g").rows[0]
    assert math.isnan(row.p_value)
    assert "1 tweet(s)" in row.warnings
    assert row.verdict("holm").startswith("cannot tell on engagement_rate: B vs A: control has 1 tweet(s)")
    more = pd.DataFrame({"g": ["A", "A", "B", "B"], "impressions": [100, 90, 100, 120], "engagements": [5, 3, 6, 9]})
    thin = compare(more, metric="engagement_rate", by="g").rows[0]
    assert "fewer than 10" in thin.warnings


@pytest.mark.parametrize(
    ("kwargs", "phrase"),
    [
        ({"metric": "engagement_rat", "by": "variant"}, "did you mean 'engagement_rate'"),
        ({"metric": "engagement_rate", "by": "varaint"}, "did you mean 'variant'"),
        ({"metric": "engagement_rate", "by": "variant", "control": "C"}, "control 'C'"),
        ({"metric": "engagement_rate", "by": "variant", "method": "ttest"}, "method='ttest' is not an option"),
        ({"metric": "engagement_rate", "by": "variant", "correction": "sidak"}, "correction='sidak' is not an option"),
        ({"metric": [], "by": "variant"}, "at least one metric"),
    ],
)
def test_bad_arguments_are_explained(kwargs: dict[str, object], phrase: str) -> None:
    with pytest.raises(StatsInputError, match=phrase):
        compare(tweets(), **kwargs)  # type: ignore[arg-type]


def test_cuped_reduces_variance_and_keeps_the_estimate_unbiased() -> None:
    rng = np.random.default_rng(11)
    n = 400
    pre = rng.gamma(2, 10, n)
    arm = np.where(rng.random(n) < 0.5, "A", "B")
    post = pre * 1.2 + rng.normal(0, 5, n) + np.where(arm == "B", 2.0, 0.0)
    df = pd.DataFrame({"arm": arm, "post": post, "pre": pre})
    plain = compare(df, metric="post", by="arm").rows[0]
    adjusted = compare(df, metric="post", by="arm", covariate="pre").rows[0]
    assert adjusted.se < plain.se / 2
    assert adjusted.abs_diff == pytest.approx(2.0, abs=3 * adjusted.se)
    assert "CUPED on pre" in adjusted.method


def test_summarize_and_omnibus() -> None:
    df = tweets()
    summary = summarize(df, metric="engagement_rate", by="variant")
    frame = summary.to_frame()
    assert list(frame.group) == ["A", "B"]
    assert (frame.ci_low < frame.value).all()
    assert (frame.value < frame.ci_high).all()
    assert "Summary of engagement_rate" in summary._repr_html_()
    wald = omnibus(df, metric="engagement_rate", by="variant")
    two_sided = compare(df, metric="engagement_rate", by="variant", method="delta", relative_ci="fieller").rows[0]
    assert wald.df == 1
    assert wald.statistic == pytest.approx((two_sided.abs_diff / two_sided.se) ** 2, rel=1e-9)
    assert omnibus(df, metric="favorites", by="variant", method="kruskal").method == "Kruskal-Wallis"


def test_bootstrap_matches_scipy_within_monte_carlo_error() -> None:
    df = tweets(seed=7, n=300)
    arms = {g: (x.engagements.to_numpy(float), x.impressions.to_numpy(float)) for g, x in df.groupby("variant")}
    ours = cluster_bootstrap(arms["A"], arms["B"], n_resamples=8000, method="percentile", seed=1)
    (mc, dc), (mt, dt) = arms["A"], arms["B"]

    def stat(ic: np.ndarray, it: np.ndarray, axis: int = -1) -> np.ndarray:
        return mt[it].sum(axis) / dt[it].sum(axis) - mc[ic].sum(axis) / dc[ic].sum(axis)

    ref = sps.bootstrap(
        (np.arange(len(mc)), np.arange(len(mt))), stat, n_resamples=8000, method="percentile", vectorized=True, rng=2
    )
    width = ref.confidence_interval.high - ref.confidence_interval.low
    assert ours.ci[0] == pytest.approx(ref.confidence_interval.low, abs=0.06 * width)
    assert ours.ci[1] == pytest.approx(ref.confidence_interval.high, abs=0.06 * width)
    bca = cluster_bootstrap(arms["A"], arms["B"], n_resamples=8000, method="bca", seed=1)
    ref_bca = sps.bootstrap(
        (np.arange(len(mc)), np.arange(len(mt))), stat, n_resamples=8000, method="BCa", vectorized=True, rng=2
    )
    assert bca.ci[0] == pytest.approx(ref_bca.confidence_interval.low, abs=0.06 * width)
    assert bca.ci[1] == pytest.approx(ref_bca.confidence_interval.high, abs=0.06 * width)


def test_permutation_p_value_under_null_and_effect() -> None:
    null = tweets(lift=0.0, seed=21)
    effect = tweets(lift=0.8, seed=21)
    for df, expect_small in ((null, False), (effect, True)):
        arms = {g: (x.engagements.to_numpy(float), x.impressions.to_numpy(float)) for g, x in df.groupby("variant")}
        p = permutation_test(arms["A"], arms["B"], n_resamples=3000, seed=1)
        assert (p < 0.01) is expect_small


def test_the_bootstrap_p_value_agrees_with_its_interval_and_is_calibrated() -> None:
    rng = np.random.default_rng(3)
    checked = 0
    for lift in (0.0, 0.1, 0.2, 0.3, 0.5):
        for seed in range(4):
            df = tweets(seed=100 + seed, n=160, lift=lift)
            arms = {g: (x.engagements.to_numpy(float), x.impressions.to_numpy(float)) for g, x in df.groupby("variant")}
            for alternative in ("two-sided", "greater", "less"):
                found = bootstrap_test(arms["A"], arms["B"], n_resamples=2000, seed=seed, alternative=alternative)
                for kind in ("diff", "lift"):
                    test = found[kind]
                    if abs(test.p_value - 0.05) < 0.01:
                        continue  # at the boundary the interval's quantile interpolation decides
                    excludes = test.ci[0] > 0 or test.ci[1] < 0
                    assert excludes == (test.p_value < 0.05), (lift, seed, alternative, kind, test)
                    checked += 1
    assert checked > 100
    # sharper: the interval at level alpha = p has an end at 0 (same seed, so the same resamples)
    for lift, kind in ((0.03, "diff"), (0.05, "lift"), (0.08, "diff"), (0.1, "lift")):
        df = tweets(seed=7, n=300, lift=lift)
        arms = {g: (x.engagements.to_numpy(float), x.impressions.to_numpy(float)) for g, x in df.groupby("variant")}
        p_value = bootstrap_test(arms["A"], arms["B"], n_resamples=4000, seed=1)[kind].p_value
        assert 0.002 < p_value < 0.9
        at_p = bootstrap_test(arms["A"], arms["B"], n_resamples=4000, seed=1, alpha=p_value)[kind]
        assert min(abs(at_p.ci[0]), abs(at_p.ci[1])) < 0.005 * (at_p.ci[1] - at_p.ci[0]), (lift, kind, at_p)
    # percentile, one-sided: the p-value is the tail fraction below 0, so the interval at alpha = p starts at 0
    df = tweets(seed=7, n=300, lift=0.05)
    arms = {g: (x.engagements.to_numpy(float), x.impressions.to_numpy(float)) for g, x in df.groupby("variant")}
    options: dict[str, Any] = {"n_resamples": 4000, "method": "percentile", "alternative": "greater", "seed": 1}
    pct = bootstrap_test(arms["A"], arms["B"], **options)["diff"]
    assert 0.01 < pct.p_value < 0.5
    at_p = bootstrap_test(arms["A"], arms["B"], alpha=pct.p_value, **options)["diff"]
    assert at_p.ci[1] == math.inf
    assert abs(at_p.ci[0]) < 0.01 * at_p.se, (pct, at_p)
    # calibration under the null: 300 A/A tests reject about 5% of the time
    rejections = 0
    for _ in range(300):
        m = rng.poisson(20, 120).astype(float)
        d = rng.poisson(500, 120).astype(float) + 1
        p = bootstrap_test((m[:60], d[:60]), (m[60:], d[60:]), n_resamples=999, seed=int(rng.integers(1 << 30)))
        rejections += p["diff"].p_value < 0.05
    assert 0.015 <= rejections / 300 <= 0.09


def test_compare_runs_the_permutation_test_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from engagement_lab.stats import methods

    df = tweets(lift=0.4)
    called: list[int] = []
    real = methods.permutation_test
    monkeypatch.setattr(methods, "permutation_test", lambda *a, **k: called.append(1) or real(*a, **k))
    boot = compare(df, metric="engagement_rate", by="variant", method="bootstrap", n_resamples=2000).rows[0]
    assert called == []
    assert boot.p_scale == "relative"
    assert "p-value from the bootstrap distribution" in boot.method
    perm = compare(df, metric="engagement_rate", by="variant", method="permutation", n_resamples=2000).rows[0]
    assert called == [1]
    assert perm.p_scale == "permutation"
    assert "permutation test" in perm.method
    assert (perm.rel_ci_low, perm.rel_ci_high) == (boot.rel_ci_low, boot.rel_ci_high)  # the same resamples
    assert perm.p_value < 0.05


@pytest.mark.parametrize("method", ["auto", "bootstrap", "permutation", "mann-whitney"])
def test_a_lazy_frame_is_read_only_for_the_columns_a_method_needs(method: str) -> None:
    df = tweets(lift=0.4)

    def boom(_: pl.Series) -> pl.Series:
        raise AssertionError("a column the comparison does not need was computed")

    lazy = pl.from_pandas(df).lazy().with_columns(unused=pl.col("impressions").map_batches(boom, return_dtype=pl.Int64))
    options = {"metric": "engagement_rate", "by": "variant", "method": method, "n_resamples": 500}
    eager = compare(df, **options).to_frame()  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(compare(lazy, **options).to_frame(), eager)  # type: ignore[arg-type]


def test_bayesian_view_matches_monte_carlo() -> None:
    post = bayesian_lift(0.05, 0.04)
    draws = np.random.default_rng(0).normal(0.05, 0.04, 400_000)
    assert post.chance_to_win == pytest.approx((draws > 0).mean(), abs=3e-3)
    assert post.risk_treatment == pytest.approx(np.maximum(-draws, 0).mean(), abs=3e-4)
    assert post.risk_control == pytest.approx(np.maximum(draws, 0).mean(), abs=3e-4)
    shrunk = bayesian_lift(0.05, 0.04, prior_sd=0.03)
    assert 0 < shrunk.mean < 0.05
    assert shrunk.sd < 0.04
    frame = compare(tweets(), metric="engagement_rate", by="variant").bayesian()
    assert 0 <= frame.chance_to_win.iloc[0] <= 1


def test_confidence_sequence_is_always_valid_under_peeking() -> None:
    """A/A streams watched 40 times: peeking at a fixed test rejects far too often, the sequence does not."""
    rng = np.random.default_rng(5)
    runs, looks, per_look = 2000, 40, 25
    x = rng.normal(0, 1, (runs, looks * per_look))
    y = rng.normal(0, 1, (runs, looks * per_look))
    fixed_hits = np.zeros(runs, bool)
    seq_hits = np.zeros(runs, bool)
    for k in range(1, looks + 1):
        n = k * per_look
        diff = x[:, :n].mean(1) - y[:, :n].mean(1)
        se = np.sqrt(x[:, :n].var(1, ddof=1) / n + y[:, :n].var(1, ddof=1) / n)
        fixed_hits |= np.abs(diff / se) > 1.96
        for i in np.flatnonzero(~seq_hits):
            cs = confidence_sequence(diff[i], se[i], 2 * n, tuning=1000)
            seq_hits[i] = cs.interval[0] > 0 or cs.interval[1] < 0
    assert fixed_hits.mean() > 0.15
    assert seq_hits.mean() <= 0.05 + 0.01
    frame = compare(tweets(), metric="engagement_rate", by="variant").sequential()
    fixed = compare(tweets(), metric="engagement_rate", by="variant").rows[0]
    assert frame.cs_low.iloc[0] < fixed.rel_ci_low
    assert frame.cs_high.iloc[0] > fixed.rel_ci_high


def test_planning_round_trips() -> None:
    df = tweets(lift=0.0, n=400)
    pilot = GroupStats.from_arrays(df.engagements.to_numpy(float), df.impressions.to_numpy(float))
    n = sample_size_ratio(pilot, 0.10, power=0.8)
    assert power_ratio(pilot, n, 0.10) == pytest.approx(0.8, abs=1e-6)
    found = mde(pilot, n, power=0.8)
    assert found.relative == pytest.approx(0.10, rel=0.02)
    assert found.absolute == pytest.approx(0.10 * pilot.ratio, rel=0.1)
    k = sps.norm.ppf(0.975) + sps.norm.ppf(0.8)
    too_few = 0.5 * k**2 * pilot.unit_variance / pilot.ratio**2  # below it no relative lift is detectable
    assert math.isnan(mde(pilot, too_few).relative)


def test_srm_on_tweets_per_arm() -> None:
    fine = srm_check({"A": 505, "B": 495})
    assert not fine.mismatch
    assert fine.p_value == pytest.approx(sps.chisquare([505, 495]).pvalue, rel=1e-12)
    broken = srm_check({"A": 600, "B": 400}, {"A": 0.5, "B": 0.5})
    assert broken.mismatch
    weighted = srm_check({"A": 700, "B": 300, "C": 5}, {"A": 0.7, "B": 0.3, "C": 0})
    assert not weighted.mismatch
    assert set(weighted.observed) == {"A", "B"}


def test_group_stats_are_summable() -> None:
    m, d = np.arange(1.0, 21.0), np.arange(10.0, 30.0)
    whole = GroupStats.from_arrays(m, d)
    parts = GroupStats.from_arrays(m[:7], d[:7]) + GroupStats.from_arrays(m[7:], d[7:])
    assert parts.ratio == pytest.approx(whole.ratio)
    assert parts.variance == pytest.approx(whole.variance)
    assert Ratio("a", "b").label == "a / b"
    assert Mean("x").label == "mean x"


def test_exact_methods_on_a_binary_tweet_outcome() -> None:
    df = pd.DataFrame(
        {
            "arm": ["A"] * 12 + ["B"] * 12,
            "viral": [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 1, 1, 0, 1, 0, 0, 1],
        }
    )
    fisher = compare(df, metric="viral", by="arm", method="fisher").rows[0]
    assert fisher.p_value == pytest.approx(sps.fisher_exact([[8, 4], [2, 10]]).pvalue, rel=1e-12)
    barnard = compare(df, metric="viral", by="arm", method="barnard").rows[0]
    assert barnard.p_value < fisher.p_value  # unconditional: more power at this size
    chi = omnibus(df, metric="viral", by="arm", method="chisquare")
    assert chi.p_value == pytest.approx(sps.chi2_contingency([[8, 4], [2, 10]], correction=False)[1], rel=1e-12)
    with pytest.raises(StatsInputError, match="0/1"):
        compare(tweets(), metric="favorites", by="variant", method="fisher")


def test_hedges_g() -> None:
    from engagement_lab.stats import hedges_g

    x, y = [2.0, 4, 6, 8], [1.0, 2, 3, 4]
    pooled = math.sqrt((np.var(x, ddof=1) + np.var(y, ddof=1)) / 2)
    assert hedges_g(x, y) == pytest.approx((5 - 2.5) / pooled * (1 - 3 / (4 * 8 - 9)))


def test_welch_anova_matches_scipy() -> None:
    from engagement_lab.stats import welch_anova

    rng = np.random.default_rng(4)
    groups = [rng.normal(0, 1, 30), rng.normal(0.5, 2, 45), rng.normal(0.2, 0.5, 25)]
    ours = welch_anova(*groups)
    ref = sps.f_oneway(*groups, equal_var=False)
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-10)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-10)


def test_cuped_on_a_ratio_metric() -> None:
    rng = np.random.default_rng(8)
    n = 600
    arm = np.where(rng.random(n) < 0.5, "A", "B")
    impressions = rng.lognormal(7, 0.8, n).round() + 1
    propensity = rng.beta(20, 800, n)  # each tweet's own rate: the pre-period rate of its author predicts it
    engagements = rng.binomial(impressions.astype(int), propensity * np.where(arm == "B", 1.15, 1.0))
    pre_rate = propensity + rng.normal(0, 0.002, n)
    df = pd.DataFrame({"arm": arm, "impressions": impressions, "engagements": engagements, "pre_rate": pre_rate})
    plain = compare(df, metric="engagement_rate", by="arm").rows[0]
    adjusted = compare(df, metric="engagement_rate", by="arm", covariate="pre_rate").rows[0]
    assert adjusted.se < 0.8 * plain.se
    assert adjusted.rel_lift == pytest.approx(0.15, abs=3 * adjusted.rel_se)
