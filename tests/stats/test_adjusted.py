"""Adjusted comparisons (issue 18): checked against statsmodels fitted directly, a hand-computed Mantel-Haenszel
case, and by simulation on the confounded sandbox world, where the true rate ratios are known."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from engagement_lab import StatsInputError, compare
from engagement_lab.metrics import NAMED_METRICS
from engagement_lab.sandbox import World
from engagement_lab.sandbox.world import BASE_RATE, CONCENTRATION
from engagement_lab.stats import balance
from engagement_lab.stats.adjusted import fit_adjusted, hc3, mantel_haenszel, wald
from engagement_lab.timeseries import posting_time
from engagement_lab.viz import balance_plot

RATE = NAMED_METRICS["engagement_rate"]
COVARIATES = ["account", "hour_of_day", "weekday"]
WORLD = World(seed=7, confounded=True)
TWEETS = [t for t in WORLD.tweets if t.status == "ok" and not t.campaign]
DESIGN = pd.DataFrame(
    {
        "account": [t.account for t in TWEETS],
        "content_type": [t.content_type for t in TWEETS],
        "hour_of_day": [t.created_at.hour for t in TWEETS],
        "weekday": [t.created_at.weekday() for t in TWEETS],
    }
)
REACH = np.array([t.reach for t in TWEETS])
MEAN = np.array([t.propensity_mean for t in TWEETS])
TRUTH = {c: BASE_RATE[c] / BASE_RATE["text"] for c in BASE_RATE if c != "text"}


def draw(rng: np.random.Generator, labels: Any = None) -> pd.DataFrame:
    """One world of outcomes: the confounded world's tweets, impressions and engagements drawn afresh."""
    impressions = rng.poisson(REACH) + 1
    p = rng.beta(CONCENTRATION * MEAN, CONCENTRATION * (1 - MEAN))
    frame = DESIGN.assign(impressions=impressions, engagements=rng.binomial(impressions, p))
    return frame if labels is None else frame.assign(content_type=labels)


# --- reference values --------------------------------------------------------------------------------------


def test_estimates_and_robust_errors_match_statsmodels_fitted_directly() -> None:
    data = draw(np.random.default_rng(11))
    ours = fit_adjusted(data, RATE, "content_type", COVARIATES, reference="text")
    formula = "engagements ~ C(content_type, Treatment('text')) + C(account) + C(hour_of_day) + C(weekday)"
    direct = smf.glm(formula, data, family=sm.families.Poisson(), offset=np.log(data.impressions)).fit()
    for content in TRUTH:
        name = f"C(content_type, Treatment('text'))[T.{content}]"
        assert ours.log_ratio[content] == pytest.approx(direct.params[name], rel=1e-8, abs=1e-10)
    # HC3 by hand = statsmodels' own pieces: its hat values, and its HC0 sandwich when the leverage is ignored
    x = np.asarray(direct.model.exog)
    y, mu = np.asarray(direct.model.endog), np.asarray(direct.mu)
    leverage = direct.get_hat_matrix_diag()
    bread = np.linalg.inv(x.T @ (x * mu[:, None]))
    assert np.allclose(mu * np.einsum("ij,jk,ik->i", x, bread, x), leverage, rtol=1e-8, atol=1e-12)
    hc0 = smf.glm(formula, data, family=sm.families.Poisson(), offset=np.log(data.impressions)).fit(cov_type="HC0")
    ours_hc0 = bread @ ((x * ((y - mu) ** 2)[:, None]).T @ x) @ bread
    assert np.allclose(ours_hc0, hc0.cov_params().to_numpy(), rtol=1e-8, atol=1e-14)
    inflated = hc3(x, y, mu)
    expected = bread @ ((x * ((y - mu) ** 2 / (1 - leverage) ** 2)[:, None]).T @ x) @ bread
    assert np.allclose(inflated, expected, rtol=1e-10, atol=1e-14)
    video = list(direct.params.index).index("C(content_type, Treatment('text'))[T.video]")
    assert ours.contrast("text", "video")[1] == pytest.approx(math.sqrt(inflated[video, video]), rel=1e-8)


def test_clustered_errors_match_statsmodels() -> None:
    data = draw(np.random.default_rng(12)).assign(cluster=lambda d: d.hour_of_day % 8)
    ours = fit_adjusted(data, RATE, "content_type", ["account"], reference="text", cluster="cluster")
    direct = smf.glm(
        "engagements ~ C(content_type, Treatment('text')) + C(account)",
        data,
        family=sm.families.Poisson(),
        offset=np.log(data.impressions),
    ).fit(cov_type="cluster", cov_kwds={"groups": data.cluster})
    name = "C(content_type, Treatment('text'))[T.poll]"
    assert ours.contrast("text", "poll")[1] == pytest.approx(direct.bse[name], rel=1e-8)


def test_mantel_haenszel_by_hand() -> None:
    """Two strata; RR_MH = Σ a·T0/T / Σ b·T1/T (Rothman, person-time form)."""
    data = pd.DataFrame(
        {
            "g": ["B", "A", "B", "A", "A"],
            "s": [1, 1, 2, 2, 3],  # stratum 3 holds one group only: no information
            "m": [30, 10, 12, 8, 99],
            "d": [1000, 800, 400, 600, 10],
        }
    )
    ratio, used, share = mantel_haenszel(
        data, events="m", exposure="d", by="g", control="A", treatment="B", strata=["s"]
    )
    by_hand = (30 * 800 / 1800 + 12 * 600 / 1000) / (10 * 1000 / 1800 + 8 * 400 / 1000)
    assert ratio == pytest.approx(by_hand, rel=1e-12)
    assert (used, share) == (2, 0.8)


def test_wald_interval_and_one_sided_p() -> None:
    p, (low, high) = wald(math.log(1.5), 0.1, 0.05, "two-sided")
    assert (low, high) == pytest.approx(
        (1.5 * math.exp(-1.959963984540054 * 0.1) - 1, 1.5 * math.exp(1.959963984540054 * 0.1) - 1)
    )
    p_greater, (_, high_g) = wald(math.log(1.5), 0.1, 0.05, "greater")
    assert p_greater == pytest.approx(p / 2)
    assert high_g == math.inf


# --- compare(adjust_for=...) ---------------------------------------------------------------------------------


def test_adjusted_compare_on_both_backends_and_lazily() -> None:
    data = draw(np.random.default_rng(3)).assign(tweet_id=[t.tweet_id for t in TWEETS])
    frames: list[Any] = [data, pl.from_pandas(data)]

    def boom(_: pl.Series) -> pl.Series:
        raise AssertionError("a column the adjusted comparison does not need was computed")

    lazy = (
        pl.from_pandas(data).lazy().with_columns(unused=pl.col("impressions").map_batches(boom, return_dtype=pl.Int64))
    )
    frames.append(lazy)
    results = [
        compare(f, metric="engagement_rate", by="content_type", control="text", adjust_for=COVARIATES) for f in frames
    ]
    reference = results[0].to_frame()
    for other in results[1:]:
        pd.testing.assert_frame_equal(other.to_frame(), reference)
    result = results[0]
    assert result.adjusted_for == tuple(COVARIATES)
    assert all(
        "Poisson GLM, log-impressions offset, robust (HC3) errors; adjusted for account" in r.method
        for r in result.rows
    )
    assert any("Adjusted for account, hour_of_day, weekday" in n for n in result.notes)
    side = result.side_by_side()
    assert list(side.columns)[:4] == ["metric", "control", "treatment", "unadjusted_lift"]
    assert result.unadjusted is not None
    assert side.unadjusted_lift.tolist() == [r.rel_lift for r in result.unadjusted.rows]
    assert "unadjusted:" in result._repr_html_()
    poll = next(v for v in result.verdicts() if "poll" in v)
    assert poll.startswith("poll beats text by +")  # the direction of a ratio, not of a missing difference


def test_negative_binomial_option_agrees_roughly() -> None:
    data = draw(np.random.default_rng(5))
    poisson = compare(data, metric="engagement_rate", by="content_type", control="text", adjust_for=COVARIATES)
    negbin = compare(
        data, metric="engagement_rate", by="content_type", control="text", adjust_for=COVARIATES, adjust_model="negbin"
    )
    for a, b in zip(poisson.rows, negbin.rows, strict=True):
        assert b.rel_lift == pytest.approx(a.rel_lift, abs=0.25)
        assert "negative binomial GLM" in b.method


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"adjust_for": ["acount"]}, r"'acount' is not a column \(did you mean 'account'\?\)"),
        ({"adjust_for": ["content_type"]}, "names the group column"),
        ({"adjust_for": ["account"], "method": "bootstrap"}, "cannot adjust for covariates"),
        ({"adjust_for": ["account"], "scale": "absolute"}, "use scale='relative'"),
        ({"adjust_for": ["account"], "adjust_model": "gamma"}, r"adjust_model='gamma' is not an option"),
        ({"cluster": "account"}, "give adjust_for"),
        ({"adjust_for": []}, "adjust_for is empty"),
        ({"adjust_for": ["account"], "relative_ci": "fieller"}, "does not apply to adjusted comparisons"),
    ],
)
def test_adjusted_options_are_validated(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(StatsInputError, match=message):
        compare(draw(np.random.default_rng(1)), metric="engagement_rate", by="content_type", control="text", **kwargs)


def test_a_covariate_collinear_with_the_groups_is_refused() -> None:
    data = draw(np.random.default_rng(2))
    data["content_type"] = data.content_type.where(data.content_type == "text", "video")
    data["channel"] = data.content_type.map({"text": "web", "video": "app"})  # every text tweet is a web post
    with pytest.raises(StatsInputError, match=r"cannot be separated from \['channel'\]"):
        compare(data, metric="engagement_rate", by="content_type", control="text", adjust_for=["account", "channel"])


def test_a_group_without_engagements_is_refused_not_given_a_ratio_of_zero() -> None:
    data = draw(np.random.default_rng(2))
    data.loc[data.content_type == "poll", "engagements"] = 0
    with pytest.raises(StatsInputError, match=r"\['poll'\] have no engagements"):
        compare(data, metric="engagement_rate", by="content_type", control="text", adjust_for=["account"])


def test_balance_shows_the_confounding_and_posting_time_derives_the_covariates() -> None:
    meta = pl.DataFrame(WORLD.metadata()).filter(pl.col("status") == "ok", pl.col("campaign") == "")
    timed = posting_time(meta)
    assert timed["hour_of_day"].to_list() == [t.created_at.hour for t in TWEETS]
    table = balance(timed, by="content_type", adjust_for=["account", "hour_of_day", "weekday"], control="text")
    assert isinstance(table, pl.DataFrame)
    video_account = table.filter(
        pl.col("group") == "video", pl.col("covariate") == "account", pl.col("level") == "acme"
    )
    assert video_account["smd"][0] > 0.5  # videos come mostly from the big account
    assert table.filter(pl.col("covariate") == "hour_of_day")["imbalanced"].any()
    chart = balance_plot(table).to_dict()
    assert chart["layer"][1]["mark"]["type"] == "circle"
    numbers = balance(
        timed.with_columns(reach=pl.Series([t.reach for t in TWEETS])), by="content_type", adjust_for=["reach"]
    )
    assert numbers["level"].to_list() == [None] * 4


# --- simulation where the truth is known -------------------------------------------------------------------


DESIGN_PL = pl.from_pandas(DESIGN)


def draw_polars(rng: np.random.Generator, labels: Any = None) -> pl.DataFrame:
    """:func:`draw` as a polars frame built straight from the arrays (the simulations run it hundreds of times)."""
    impressions = rng.poisson(REACH) + 1
    p = rng.beta(CONCENTRATION * MEAN, CONCENTRATION * (1 - MEAN))
    frame = DESIGN_PL.with_columns(
        impressions=pl.Series(impressions), engagements=pl.Series(rng.binomial(impressions, p))
    )
    return frame if labels is None else frame.with_columns(content_type=pl.Series(labels))


@pytest.mark.slow
def test_adjusted_intervals_cover_the_truth_and_unadjusted_ones_do_not() -> None:
    """500 worlds x 4 contrasts = 2,000 intervals: the pooled coverage must be in [0.93, 0.97] (0.95 ± 4 binomial
    standard errors of 0.005) and each contrast's 500 in [0.92, 0.98] (± 3 SE); dropping HC3's leverage
    correction or the offset moves the pooled rate out of the band. The unadjusted comparison is biased on this
    world whatever the run count, so 100 worlds show it (its coverage < 0.5)."""
    rng = np.random.default_rng(2026)
    runs, shown = 500, 100
    adjusted = {c: 0 for c in TRUTH}
    unadjusted = {c: 0 for c in TRUTH}
    for run in range(runs):
        data = draw_polars(rng)
        fit = fit_adjusted(data, RATE, "content_type", COVARIATES, reference="text")
        for content, truth in TRUTH.items():
            _, (low, high) = wald(*fit.contrast("text", content), 0.05, "two-sided")
            adjusted[content] += low <= truth - 1 <= high
        if run < shown:
            plain = compare(data, metric="engagement_rate", by="content_type", control="text", correction="none")
            for row in plain.rows:
                unadjusted[row.treatment] += row.rel_ci_low <= TRUTH[row.treatment] - 1 <= row.rel_ci_high
    pooled = sum(adjusted.values()) / (runs * len(TRUTH))
    print(f"coverage of the true rate ratios: adjusted {pooled:.3f} {adjusted}; unadjusted {unadjusted}")
    assert 0.93 <= pooled <= 0.97
    assert all(0.92 <= n / runs <= 0.98 for n in adjusted.values())
    assert sum(unadjusted.values()) / (shown * len(TRUTH)) < 0.5  # the raw comparison is biased


@pytest.mark.slow
def test_random_content_labels_reject_at_the_nominal_rate() -> None:
    """500 worlds x 2 A/A contrasts = 1,000 tests: the rejection rate must be 0.05 ± 0.015 (± 2.2 binomial
    standard errors of 0.0069), which a test at the 3% or 7% level fails."""
    rng = np.random.default_rng(7)
    runs, rejected, tests = 500, 0, 0
    for _ in range(runs):
        labels = rng.choice(["a", "b", "c"], size=len(TWEETS))
        fit = fit_adjusted(draw_polars(rng, labels), RATE, "content_type", COVARIATES, reference="a")
        for other in ("b", "c"):
            p, _ = wald(*fit.contrast("a", other), 0.05, "two-sided")
            rejected += p < 0.05
            tests += 1
    rate = rejected / tests
    print(f"A/A content labels, adjusted: {rate:.3f} rejected at 5%")
    assert rate == pytest.approx(0.05, abs=0.015)


def test_the_confounded_world_leaves_the_default_world_alone() -> None:
    plain, confounded = World(seed=7), World(seed=7, confounded=True)
    assert "confounded" not in plain.ground_truth()
    truth = confounded.ground_truth()["confounded"]["true_rate_ratio_vs_text"]
    assert truth == pytest.approx({c: BASE_RATE[c] / BASE_RATE["text"] for c in BASE_RATE})
    ab = [t for t in confounded.tweets if t.campaign == "spring_launch"]
    assert {t.content_type for t in ab} == {"image"}
    assert len(confounded.tweets) > 2 * len(plain.tweets)  # a benchmark-sized sample
    campaigns = [Counter(t.campaign for t in w.tweets if t.campaign) for w in (plain, confounded)]
    assert campaigns[0] == campaigns[1] == Counter({"spring_launch": 220, "always_on": 140})


# --- defects found while calibrating (each failed before) ----------------------------------------------------


def _accounts(n_accounts: int = 40, n: int = 1500, seed: int = 4) -> pd.DataFrame:
    """Tweets of numbered accounts (ids as whole numbers), each with its own rate, video 50% better."""
    rng = np.random.default_rng(seed)
    account = rng.integers(0, n_accounts, n)
    base = rng.lognormal(np.log(0.02), 0.5, n_accounts)
    video = rng.random(n) < 0.3 + 0.4 * (account % 2)  # odd accounts post more videos: confounded
    impressions = rng.integers(200, 5000, n)
    rate = base[account] * np.where(video, 1.5, 1.0)
    return pd.DataFrame(
        {
            "account": account + 10_000_000,
            "content_type": np.where(video, "video", "text"),
            "impressions": impressions,
            "engagements": rng.binomial(impressions, np.minimum(rate, 1)),
            "followers": rng.lognormal(8, 1, n),
        }
    )


def test_numeric_account_ids_are_categories_not_a_trend() -> None:
    data = _accounts()
    as_int = compare(data, metric="engagement_rate", by="content_type", control="text", adjust_for=["account"])
    as_text = compare(
        data.assign(account=data.account.astype(str)), metric="engagement_rate", by="content_type", control="text",
        adjust_for=["account"],
    )  # fmt: skip
    assert as_int.rows[0].rel_lift == pytest.approx(as_text.rows[0].rel_lift, rel=1e-9)
    assert as_int.rows[0].rel_ci_low == pytest.approx(as_text.rows[0].rel_ci_low, rel=1e-9)
    assert "entered as numbers" not in as_int.rows[0].warnings
    measured = compare(data, metric="engagement_rate", by="content_type", control="text",
                       adjust_for=["account", "followers"])  # fmt: skip
    assert "followers entered as numbers (one linear trend); cast to text to treat them as categories" in (
        measured.rows[0].warnings
    )


def test_tweets_left_out_of_the_adjusted_model_are_counted() -> None:
    data = _accounts()
    data["account"] = data["account"].astype("Int64")
    data.loc[data.index[:300], "account"] = pd.NA
    row = compare(data, metric="engagement_rate", by="content_type", control="text", adjust_for=["account"]).rows[0]
    assert "300 of 1500 tweets were left out of the adjusted model (300 with no account)" in row.warnings


def test_a_mantel_haenszel_check_over_one_stratum_is_called_the_crude_ratio() -> None:
    data = _accounts()
    row = compare(data, metric="engagement_rate", by="content_type", control="text", adjust_for=["followers"]).rows[0]
    assert "Mantel-Haenszel cross-check over one stratum, i.e. the crude rate ratio" in row.warnings
