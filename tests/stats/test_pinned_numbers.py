"""Numbers pinned against an independent computation, for the places a mutation pass found a wrong number that
no test caught: Welch's degrees of freedom on unequal arms, the log-scale p-value, the Bayesian posterior and its
credible interval, an untestable row's lift, the flat-arm threshold on both sides, the design effect of means,
pooled 0/1 flags, and rows whose denominator (or numerator) is missing."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import polars as pl
import pytest
from scipy import integrate
from scipy import stats as sps

from engagement_lab.metrics import Mean, Ratio
from engagement_lab.stats.effects import Contrast, contrast, design_effect, flat_reason
from engagement_lab.stats.sufficient import GroupStats, group_stats
from engagement_lab.stats.views import bayesian_lift, bayesian_lift_on_log

RNG = np.random.default_rng(20261207)


def test_welch_degrees_of_freedom_on_unequal_arms_equal_scipy() -> None:
    """60 tweets against 6 with a wider spread: df 5.6, not the 63 of the arms swapped, and the p-value with it."""
    control, treatment = RNG.normal(10, 1, 60), RNG.normal(11, 3, 6)
    ours = contrast(GroupStats.from_arrays(control), GroupStats.from_arrays(treatment), ratio=False, variance="hc0")
    reference = sps.ttest_ind(treatment, control, equal_var=False)
    assert ours.df == pytest.approx(reference.df, rel=1e-12)
    assert ours.df < 10  # the small, noisy arm decides the degrees of freedom
    assert ours.p_value_abs == pytest.approx(reference.pvalue, rel=1e-10)
    assert ours.statistic == pytest.approx(reference.statistic, rel=1e-12)
    low, high = reference.confidence_interval(0.95)
    assert ours.abs_ci == pytest.approx((low, high), rel=1e-10)


def _hc3_by_hand(m: np.ndarray, d: np.ndarray) -> tuple[float, float, float]:
    """Rate, leverage-corrected variance of the rate, and its Bell–McCaffrey degrees of freedom, tweet by tweet."""
    total = d.sum()
    rate, u = m.sum() / total, d / total
    e = (m - rate * d) / (1 - u)
    dof = 1 / ((u * u / (1 - u)).sum() ** 2 + (u * u * (1 - 2 * u) / (1 - u) ** 2).sum())
    return rate, float(e @ e) / total**2, float(dof)


def test_the_defaults_log_scale_p_value_by_hand() -> None:
    """Unequal arms and rates: each arm's own variance over its own rate squared, Welch df of those, t on the log."""
    d_c, d_t = RNG.lognormal(7, 1.5, 40).round() + 1, RNG.lognormal(7, 1.5, 9).round() + 1
    m_c, m_t = RNG.binomial(d_c.astype(int), 0.02).astype(float), RNG.binomial(d_t.astype(int), 0.035).astype(float)
    ours = contrast(GroupStats.from_arrays(m_c, d_c), GroupStats.from_arrays(m_t, d_t), variance="hc3")
    (r_c, v_c, df_c), (r_t, v_t, df_t) = _hc3_by_hand(m_c, d_c), _hc3_by_hand(m_t, d_t)
    a, b = v_t / r_t**2, v_c / r_c**2
    df = (a + b) ** 2 / (a * a / df_t + b * b / df_c)
    t = math.log(r_t / r_c) / math.sqrt(a + b)
    assert ours.rel_scale == "log"
    assert ours.rel_se == pytest.approx(math.sqrt(a + b), rel=1e-9)
    assert ours.p_value_rel == pytest.approx(2 * sps.t.sf(abs(t), df), rel=1e-8)
    half = sps.t.ppf(0.975, df) * math.sqrt(a + b)
    assert ours.rel_ci == pytest.approx(
        (math.exp(math.log(r_t / r_c) - half) - 1, math.exp(math.log(r_t / r_c) + half) - 1), rel=1e-9
    )
    assert ours.rel_lift == pytest.approx(r_t / r_c - 1, rel=1e-12)


@pytest.mark.parametrize(("prior_sd", "alpha"), [(None, 0.05), (0.3, 0.05), (0.05, 0.1)])
def test_bayesian_posterior_is_the_conjugate_normal(prior_sd: float | None, alpha: float) -> None:
    estimate, se, prior_mean = 0.08, 0.04, 0.01
    post = bayesian_lift(estimate, se, prior_mean=prior_mean, prior_sd=prior_sd, alpha=alpha)
    precision = 1 / se**2 + (1 / prior_sd**2 if prior_sd else 0)
    mean = (estimate / se**2 + (prior_mean / prior_sd**2 if prior_sd else 0)) / precision
    sd = precision**-0.5
    assert post.mean == pytest.approx(mean, rel=1e-12)
    assert post.sd == pytest.approx(sd, rel=1e-12)
    z = sps.norm.ppf(1 - alpha / 2)  # a 1 - alpha interval: alpha/2 in each tail
    assert post.credible_interval == pytest.approx((mean - z * sd, mean + z * sd), rel=1e-12)
    assert post.chance_to_win == pytest.approx(sps.norm.sf(0, mean, sd), rel=1e-12)
    density = sps.norm(mean, sd).pdf
    risk_t = integrate.quad(lambda x: max(-x, 0) * density(x), mean - 12 * sd, mean + 12 * sd, points=[0])[0]
    risk_c = integrate.quad(lambda x: max(x, 0) * density(x), mean - 12 * sd, mean + 12 * sd, points=[0])[0]
    assert post.risk_treatment == pytest.approx(risk_t, rel=1e-7, abs=1e-12)
    assert post.risk_control == pytest.approx(risk_c, rel=1e-7)


def test_bayesian_lift_on_the_log_scale_integrates_the_lognormal() -> None:
    log_ratio, se = math.log(1.06), 0.05
    post = bayesian_lift_on_log(log_ratio, se, prior_sd=0.2, alpha=0.05)
    precision = 1 / se**2 + 1 / 0.2**2
    mu, sd = log_ratio / se**2 / precision, precision**-0.5
    assert post.mean == pytest.approx(math.expm1(mu), rel=1e-12)
    z = sps.norm.ppf(0.975)
    assert post.credible_interval == pytest.approx((math.expm1(mu - z * sd), math.expm1(mu + z * sd)), rel=1e-12)
    density = sps.norm(mu, sd).pdf
    risk_t = integrate.quad(lambda x: max(1 - math.exp(x), 0) * density(x), mu - 12 * sd, mu + 12 * sd, points=[0])[0]
    risk_c = integrate.quad(lambda x: max(math.exp(x) - 1, 0) * density(x), mu - 12 * sd, mu + 12 * sd, points=[0])[0]
    assert post.risk_treatment == pytest.approx(risk_t, rel=1e-6, abs=1e-12)
    assert post.risk_control == pytest.approx(risk_c, rel=1e-7)


def test_an_untestable_rows_numbers() -> None:
    row = Contrast.untestable(0.02, 0.03, ["control has 1 tweet(s)"])
    assert row.rel_lift == pytest.approx(0.5, rel=1e-12)  # r_t / r_c - 1, not r_t / r_c
    assert row.abs_diff == pytest.approx(0.01, rel=1e-12)
    assert math.isnan(row.p_value_abs)
    assert math.isnan(row.se)
    assert not row.testable
    assert math.isnan(Contrast.untestable(0.0, 0.03, ["x"]).rel_lift)


def test_the_flat_arm_threshold_on_both_sides() -> None:
    d = np.array([1000.0, 2000.0, 3000.0, 4000.0])
    constant = GroupStats.from_arrays(0.02 * d, d)  # every tweet the same rate, up to rounding
    assert "no variation" in (flat_reason("control", constant) or "")
    barely = GroupStats.from_arrays(0.02 * d * (1 + np.array([1e-5, -1e-5, 2e-5, -2e-5])), d)  # a real, small spread
    assert flat_reason("control", barely) is None
    zeros = GroupStats.from_arrays(np.zeros(4), d)
    assert "every tweet has 0" in (flat_reason("control", zeros) or "")
    assert "1 tweet" in (flat_reason("treatment", GroupStats.from_arrays(np.array([3.0]), np.array([100.0]))) or "")


def test_design_effect_is_for_rates_only() -> None:
    d = np.array([100.0, 900.0, 5000.0, 40.0])
    control, treatment = (
        GroupStats.from_arrays(np.array([2.0, 20, 80, 1]), d),
        GroupStats.from_arrays(np.array([3.0, 9, 150, 2]), d),
    )
    variance = 1e-5
    naive = sum(g.ratio * (1 - g.ratio) / g.sum_d for g in (control, treatment))
    assert design_effect(control, treatment, variance) == pytest.approx(variance / naive, rel=1e-12)
    means = GroupStats.from_arrays(np.array([0.2, 0.4, 0.3])), GroupStats.from_arrays(np.array([0.5, 0.1, 0.6]))
    assert math.isnan(design_effect(*means, variance))  # D = 1 per tweet: no impressions to be binomial over
    assert math.isnan(contrast(*means, ratio=False).deff)


def test_pooling_keeps_the_0_1_flag_only_when_both_are() -> None:
    zero_one, counts = (
        GroupStats.from_arrays(np.array([0.0, 1, 1]), binary=True),
        GroupStats.from_arrays(np.array([0.0, 1, 1])),
    )
    assert (zero_one + zero_one).binary
    assert not (zero_one + counts).binary
    assert not (counts + zero_one).binary
    pooled = zero_one + counts
    assert pooled.unit_variance == pytest.approx(np.var([0, 1, 1, 0, 1, 1], ddof=1), rel=1e-12)  # not p(1 - p)


@pytest.mark.parametrize("make", [pd.DataFrame, pl.DataFrame])
def test_rows_missing_either_side_of_a_ratio_are_left_out_whole(make: type) -> None:
    """A tweet with engagements but no impressions (or the other way) adds to neither sum; NaN is missing too."""
    frame = make(
        {
            "g": ["a"] * 5,
            "engagements": [10.0, 20.0, float("nan"), 7.0, 5.0],
            "impressions": [1000.0, 1000.0, 500.0, None, float("nan")],
        }
    )
    stats = group_stats(frame, Ratio("engagements", "impressions"), "g")["a"]
    assert (stats.n, stats.sum_m, stats.sum_d) == (2, 30.0, 2000.0)
    means = group_stats(make({"g": ["a"] * 3, "x": [1.0, float("nan"), 3.0]}), Mean("x"), "g")["a"]
    assert (means.n, means.sum_m) == (2, 4.0)
