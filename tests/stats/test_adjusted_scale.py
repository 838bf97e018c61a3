"""Adjusted comparisons at the scale of a brand (issue 28): the absorbed fixed-effects fit against statsmodels' dense
GLM and pyfixest's fepois, identification read from the crosstab, the grouped Mantel-Haenszel sums, and the
refusals of sizes the machine cannot hold."""

from __future__ import annotations

import math
import tracemalloc
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from engagement_lab import StatsInputError, compare
from engagement_lab.metrics import NAMED_METRICS
from engagement_lab.stats import adjusted, fixed_effects
from engagement_lab.stats.adjusted import fit_adjusted, hc3, mantel_haenszel

RATE = NAMED_METRICS["engagement_rate"]
TYPES = np.array(["text", "image", "video", "poll"])
COVARIATES = ["account", "hour_of_day", "weekday"]


def tweets(n: int, accounts: int, seed: int = 0) -> pd.DataFrame:
    """Tweets of numbered accounts (each its own rate and content mix: confounded), at random hours and weekdays,
    with over-dispersed engagements and a numeric covariate."""
    rng = np.random.default_rng(seed)
    account = rng.integers(0, accounts, n)
    base = rng.lognormal(np.log(0.02), 0.6, accounts)
    lean = rng.dirichlet(np.ones(4), accounts)
    kind = (rng.random(n)[:, None] > np.cumsum(lean[account], axis=1)).sum(axis=1)
    hour, weekday = rng.integers(0, 24, n), rng.integers(0, 7, n)
    impressions = np.round(rng.lognormal(6.5, 1.0, n)) + 1
    rate = base[account] * np.array([1.0, 1.2, 1.5, 0.9])[kind] * (1 + 0.3 * np.sin(hour / 24 * 2 * np.pi))
    return pd.DataFrame(
        {
            "account": np.char.add("acct", account.astype(str)),
            "content_type": TYPES[kind],
            "hour_of_day": hour,
            "weekday": weekday,
            "followers": rng.lognormal(8, 1, n),
            "impressions": impressions,
            "engagements": rng.poisson(rate * impressions * rng.gamma(5.0, 0.2, n)),
        }
    )


FORMULA = "engagements ~ C(content_type, Treatment('text')) + C(account) + C(hour_of_day) + C(weekday)"


def _term(t: str) -> str:
    return f"C(content_type, Treatment('text'))[T.{t}]"


def test_absorbed_fit_equals_the_dense_glm_with_hc3_and_clustered_errors() -> None:
    """200 accounts x 5,000 tweets, plus a number entered linearly: the coefficients equal statsmodels' dense fit
    to 1e-8, the HC3 errors the dense hc3() on its hat values, and clustered errors statsmodels' own."""
    data = tweets(5_000, 200, seed=1)
    ours = fit_adjusted(data, RATE, "content_type", [*COVARIATES, "followers"], reference="text")
    glm = smf.glm(f"{FORMULA} + followers", data, family=sm.families.Poisson(), offset=np.log(data.impressions))
    direct = glm.fit(tol=1e-12)
    assert ours.numeric == ("followers",)
    for t in TYPES[1:]:
        assert ours.log_ratio[t] == pytest.approx(direct.params[_term(t)], rel=1e-8, abs=1e-10)
    x = np.asarray(direct.model.exog)
    dense = hc3(x, np.asarray(direct.model.endog), np.asarray(direct.mu))
    names = list(direct.params.index)
    for t in TYPES[1:]:
        k = names.index(_term(t))
        assert ours.contrast("text", t)[1] == pytest.approx(math.sqrt(dense[k, k]), rel=1e-8)
    k1, k2 = names.index(_term("image")), names.index(_term("video"))
    image_vs_video = math.sqrt(dense[k1, k1] + dense[k2, k2] - 2 * dense[k1, k2])
    assert ours.contrast("image", "video")[1] == pytest.approx(image_vs_video, rel=1e-8)
    clustered = fit_adjusted(data, RATE, "content_type", COVARIATES, reference="text", cluster="weekday")
    direct_cl = smf.glm(FORMULA, data, family=sm.families.Poisson(), offset=np.log(data.impressions)).fit(
        tol=1e-12, cov_type="cluster", cov_kwds={"groups": data.weekday}
    )
    for t in TYPES[1:]:
        assert clustered.contrast("text", t)[1] == pytest.approx(direct_cl.bse[_term(t)], rel=1e-8)


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # pyfixest's own use of pandas
def test_absorbed_fit_equals_pyfixest_fepois() -> None:
    """2,000 accounts (more than a dense fit holds comfortably): the rate ratios equal pyfixest's to 1e-6, and the
    errors clustered on the account equal its CRV1 with the same small-sample factor."""
    pf = pytest.importorskip("pyfixest", reason="pyfixest comes with the dev extra: pip install -e '.[dev]'")
    data = tweets(20_000, 2_000, seed=2).assign(log_impressions=lambda d: np.log(d.impressions))
    ours = fit_adjusted(data, RATE, "content_type", COVARIATES, reference="text", cluster="account")
    theirs = pf.fepois(
        "engagements ~ i(content_type, ref='text') | account + hour_of_day + weekday", data=data,
        offset="log_impressions", vcov={"CRV1": "account"}, fixef_rm="none", iwls_tol=1e-12,
        ssc=pf.ssc(k_adj=True, k_fixef="full", G_adj=True),
    )  # fmt: skip
    coef, se = theirs.coef(), theirs.se()
    for t in TYPES[1:]:
        name = next(k for k in coef.index if f"[{t}]" in k or f"::{t}" in k)
        assert ours.log_ratio[t] == pytest.approx(coef[name], abs=1e-6)
        assert ours.contrast("text", t)[1] == pytest.approx(se[name], rel=1e-6)


def test_memory_grows_with_tweets_not_tweets_times_levels() -> None:
    """20,000 tweets of 2,000 accounts: a dense model matrix alone would be 320 MB; the fit's numpy peak stays
    below 25 MB (working vectors per tweet and tables per level)."""
    data = tweets(20_000, 2_000, seed=3)
    tracemalloc.start()
    try:
        fit_adjusted(data, RATE, "content_type", COVARIATES, reference="text")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 25 * 2**20, f"{peak / 2**20:.0f} MB"


def test_a_model_the_machine_cannot_hold_is_refused_up_front(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before a lazy input is read (its tweets counted by the unadjusted rows), and once its levels are known:
    each refusal gives the size and a way out."""
    data = tweets(5_000, 50)
    monkeypatch.setattr(fixed_effects, "available_memory", lambda: 2**20)
    with pytest.raises(StatsInputError, match=r"of 5,000 tweets needs about \d+ MB before its levels are counted; "
                                              r"this machine has 1 MB free\. Compare a sample"):  # fmt: skip
        compare(pl.from_pandas(data).lazy(), metric="engagement_rate", by="content_type", control="text",
                adjust_for=COVARIATES)  # fmt: skip
    with pytest.raises(StatsInputError, match=r"5,000 tweets with 50 levels of 'account' absorbed and 32 other terms "
                                              r"needs about \d+ MB; this machine has 1 MB free\. Adjust for coarser "
                                              r"levels.*or compare a sample"):  # fmt: skip
        fit_adjusted(data, RATE, "content_type", COVARIATES, reference="text")
    monkeypatch.setattr(fixed_effects, "available_memory", lambda: 2**40)
    monkeypatch.setattr(adjusted, "NEGBIN_MAX_CELLS", 10_000)
    with pytest.raises(StatsInputError, match=r"one column per level: 5,000 tweets x 8\d terms.*use adjust_model"):
        compare(data, metric="engagement_rate", by="content_type", control="text", adjust_for=COVARIATES,
                adjust_model="negbin")  # fmt: skip


def test_nested_covariates_are_absorbed_not_refused() -> None:
    """A brand that is a function of the account adds nothing: the same ratios as the account alone (the dense
    design with both was rank-deficient and refused, naming every covariate)."""
    data = tweets(3_000, 60, seed=4)
    data["brand"] = data.account.str[-1]
    alone = fit_adjusted(data, RATE, "content_type", COVARIATES, reference="text")
    nested = fit_adjusted(data, RATE, "content_type", [*COVARIATES, "brand"], reference="text")
    for t in TYPES[1:]:
        assert nested.log_ratio[t] == pytest.approx(alone.log_ratio[t], rel=1e-9)
        assert nested.contrast("text", t)[1] == pytest.approx(alone.contrast("text", t)[1], rel=1e-8)


def test_identification_is_read_from_the_crosstab_and_the_culprit_named() -> None:
    data = tweets(3_000, 60, seed=5)
    data["content_type"] = np.where(data.account.isin(["acct1", "acct2"]), "text", data.content_type)
    data["source"] = np.where(data.content_type == "text", "scheduler", data.account)  # text tweets only here
    with pytest.raises(StatsInputError, match=r"cannot be separated from \['source'\]"):
        fit_adjusted(data, RATE, "content_type", ["account", "source"], reference="text")
    data["length"] = data.content_type.map({"text": 1.5, "image": 2.5, "video": 3.5, "poll": 4.5})
    with pytest.raises(StatsInputError, match=r"cannot be separated from \['length'\]"):
        fit_adjusted(data, RATE, "content_type", ["account", "length"], reference="text")


def test_covariates_that_separate_the_groups_only_together_are_refused_by_name() -> None:
    """Each covariate alone mixes the groups, but group = (account is b) + (hour is y) on every tweet: the two
    together absorb the group effect, found on the eliminated normal equations."""
    cells = [("a", "x", "A"), ("a", "y", "B"), ("a", "z", "A"), ("b", "x", "B"), ("b", "z", "B")]
    data = pd.DataFrame(cells * 40, columns=["account", "hour", "g"])
    rng = np.random.default_rng(6)
    data["impressions"] = rng.integers(100, 1000, len(data))
    data["engagements"] = rng.binomial(data.impressions, 0.05)
    with pytest.raises(StatsInputError, match=r"cannot be separated from \['account', 'hour'\]"):
        fit_adjusted(data, RATE, "g", ["account", "hour"], reference="A")
    assert fit_adjusted(data, RATE, "g", ["account"], reference="A").n == len(data)


def test_a_level_without_engagements_is_left_out_and_counted() -> None:
    """An account never engaged with fits a rate of 0 (its coefficient runs to -inf in a dense fit): left out,
    the estimates are those of the dense fit without it, and the row says how many tweets that was."""
    data = tweets(4_000, 40, seed=7)
    silent = data.account == "acct3"
    data.loc[silent, "engagements"] = 0
    row = compare(data, metric="engagement_rate", by="content_type", control="text", adjust_for=COVARIATES).rows[0]
    assert f"{int(silent.sum())} with only zero engagements in their account)" in row.warnings
    rest = data[~silent]
    direct = smf.glm(FORMULA, rest, family=sm.families.Poisson(), offset=np.log(rest.impressions)).fit(tol=1e-12)
    assert math.log1p(row.rel_lift) == pytest.approx(direct.params[_term(row.treatment)], rel=1e-8)


def _mh_by_loop(data: pd.DataFrame, control: str, treatment: str, strata: list[str]) -> tuple[float, int, float]:
    """The textbook loop over strata, the reference for the grouped sums."""
    pair = data[data.g.isin([control, treatment])]
    num = den = 0.0
    used = tweets_in = 0
    for _, s in pair.groupby(strata):
        t, c = s[s.g == treatment], s[s.g == control]
        if t.empty or c.empty:
            continue
        t1, t0 = t.d.sum(), c.d.sum()
        num += t.m.sum() * t0 / (t0 + t1)
        den += c.m.sum() * t1 / (t0 + t1)
        used, tweets_in = used + 1, tweets_in + len(s)
    return num / den, used, tweets_in / len(pair)


def test_grouped_mantel_haenszel_equals_the_loop_over_strata() -> None:
    rng = np.random.default_rng(8)
    n = 3_000
    data = pd.DataFrame(
        {
            "g": rng.choice(["A", "B", "C"], n),
            "s1": rng.integers(0, 30, n),
            "s2": rng.choice(["x", "y", "z"], n),
            "d": rng.integers(100, 2000, n),
        }
    )
    data["m"] = rng.binomial(data.d, 0.03)
    for control, treatment in [("A", "B"), ("C", "A")]:
        ours = mantel_haenszel(data, events="m", exposure="d", by="g", control=control, treatment=treatment,
                               strata=["s1", "s2"])  # fmt: skip
        ratio, used, share = _mh_by_loop(data, control, treatment, ["s1", "s2"])
        assert ours[0] == pytest.approx(ratio, rel=1e-12)
        assert ours[1:] == (used, pytest.approx(share, rel=1e-12))


def test_the_cross_check_in_compare_is_the_grouped_mantel_haenszel() -> None:
    data = tweets(4_000, 30, seed=9)
    result = compare(data, metric="engagement_rate", by="content_type", control="text", adjust_for=["account"])
    for row in result.rows:
        frame: Any = data.rename(columns={"content_type": "g", "engagements": "m", "impressions": "d"})
        ratio, used, _ = _mh_by_loop(frame, "text", row.treatment, ["account"])
        assert f"Mantel-Haenszel cross-check: {ratio - 1:+.1%}" in row.warnings
        assert f"over {used} strata" in row.warnings


def test_a_group_or_control_emptied_by_missing_covariates_is_named_not_a_raw_error() -> None:
    import polars as pl

    from engagement_lab import compare
    from engagement_lab.errors import StatsInputError

    n = 60
    frame = pl.DataFrame(
        {
            "g": ["a"] * 20 + ["b"] * 20 + ["c"] * 20,
            "acct": [str(i % 5) for i in range(40)] + [None] * 20,  # every tweet of c lacks the covariate
            "impressions": [1000 + 37 * i for i in range(n)],
            "engagements": [20 + (i * 7) % 11 for i in range(n)],
        }
    )
    with pytest.raises(
        StatsInputError, match=r"group\(s\) \['c'\] of 'g' have no tweet with every column .*20 no acct"
    ):
        compare(frame, metric="engagement_rate", by="g", control="a", adjust_for=["acct"])
    with pytest.raises(StatsInputError, match=r"the control group 'c' of 'g' has no tweet .*20 no acct"):
        compare(frame, metric="engagement_rate", by="g", control="c", adjust_for=["acct"])
    one = frame.filter(pl.col("g") != "c").with_columns(team=pl.lit("x"))
    with pytest.raises(StatsInputError, match=r"cluster='team' holds 1 distinct value"):
        compare(one, metric="engagement_rate", by="g", control="a", adjust_for=["acct"], cluster="team")
