"""Every option honoured, every degenerate input caught, both scales reported (issue 13).

Each bad input either raises StatsInputError naming the rows/option and the fix, or returns numbers whose
verdict text agrees with them (asserted by one helper for every case).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from engagement_lab import Mean, Ratio, StatsInputError, columns
from engagement_lab.stats import (
    GroupStats,
    cluster_bootstrap,
    compare,
    confidence_sequence,
    permutation_test,
    srm_check,
)
from engagement_lab.stats.effects import (
    FIELLER_UNBOUNDED,
    LOG_NEEDS_POSITIVE,
    _fieller,
    _log_scale,
    _quantile,
    _relative_interval,
    _scaled_statistic,
    _welch_df,
    contrast,
    design_effect,
    flat_reason,
    p_from_t,
)
from engagement_lab.stats.sufficient import tweet_arrays

SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def base(n: int = 40, seed: int = 3, lift: float = 0.2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = np.repeat(["A", "B"], n // 2)
    impressions = rng.integers(200, 5000, n)
    p = rng.beta(20, 600, n) * np.where(arm == "B", 1 + lift, 1)
    return pd.DataFrame(
        {
            "tweet_id": [str(1790000000000000000 + i) for i in range(n)],
            "variant": arm,
            "impressions": impressions,
            "engagements": rng.binomial(impressions, p),
        }
    )


def assert_consistent(result: Any) -> None:
    """The verdict says what the numbers say: cannot tell / beats or trails / no clear difference."""
    for row, verdict in zip(result.rows, result.verdicts(), strict=True):
        if not math.isfinite(row.p_adjusted):
            assert verdict.startswith("cannot tell"), verdict
            continue
        assert not verdict.startswith("cannot tell"), verdict
        significant = row.p_adjusted < row.alpha
        assert (" beats " in verdict or " trails " in verdict) == significant, verdict
        if row.p_scale in ("relative", "absolute") and row.p_adjusted == row.p_value:
            low, high = (
                (row.rel_ci_low, row.rel_ci_high) if row.p_scale == "relative" else (row.abs_ci_low, row.abs_ci_high)
            )
            assert (not low <= 0 <= high) == significant, (verdict, low, high)


# --- options -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("alternative", "greatr", r"alternative='greatr' is not an option \(did you mean 'greater'\?\)"),
        ("relative_ci", "fieler", r"relative_ci='fieler' is not an option \(did you mean 'fieller'\?\)"),
        ("method", "bootstrp", r"did you mean 'bootstrap'"),
        ("pairs", "al", r"pairs='al' is not an option"),
        ("family", "metrics", r"did you mean 'metric'"),
        ("scale", "relativ", r"did you mean 'relative'"),
        ("correction", "BH", r"correction='BH' is not an option"),
        ("alpha", 5, r"alpha must be a number between 0 and 1"),
        ("n_resamples", 10.5, r"n_resamples must be a whole number"),
        ("seed", "x", r"seed must be an int"),
        ("covariate", "pre_rat", r"covariate='pre_rat' is not a column"),
    ],
)
def test_every_option_is_validated(option: str, value: object, message: str) -> None:
    with pytest.raises(StatsInputError, match=message):
        compare(base(), metric="engagement_rate", by="variant", **{option: value})  # type: ignore[arg-type]


def test_statsmodels_names_mean_the_same_as_scipy_names() -> None:
    df = base()
    greater = compare(df, metric="engagement_rate", by="variant", alternative="greater").to_frame()
    larger = compare(df, metric="engagement_rate", by="variant", alternative="larger").to_frame()  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(greater, larger)


# --- one-sided tests: reference values ---------------------------------------------------------------------


@pytest.mark.parametrize("alternative", ["greater", "less"])
def test_one_sided_welch_matches_scipy_on_the_sleep_data(alternative: str) -> None:
    """Spec C4 (R t.test on the sleep data), one-sided: group 2 vs group 1 as treatment vs control."""
    df = pd.DataFrame({"g": ["1"] * 10 + ["2"] * 10, "extra": SLEEP_1 + SLEEP_2})
    row = compare(df, metric=Mean("extra"), by="g", alternative=alternative, scale="absolute").rows[0]  # type: ignore[arg-type]
    ref = sps.ttest_ind(SLEEP_2, SLEEP_1, equal_var=False, alternative=alternative)
    ci = ref.confidence_interval(0.95)
    assert row.p_value_abs == pytest.approx(ref.pvalue, rel=1e-10)
    assert (row.abs_ci_low, row.abs_ci_high) == pytest.approx((ci.low, ci.high), rel=1e-10)
    assert row.p_value == row.p_value_abs
    assert row.p_scale == "absolute"
    two = compare(df, metric=Mean("extra"), by="g").rows[0]
    if alternative == "greater":  # 0.0794 two-sided -> 0.0397 in the direction of the effect (R: p = 0.03970)
        assert row.p_value_abs == pytest.approx(two.p_value_abs / 2, rel=1e-12)
        assert row.p_value_abs == pytest.approx(0.0397, abs=5e-5)
        assert row.abs_ci_high == math.inf
        assert row.verdict("holm").startswith("2 beats 1 by +1.58 [+0.1066, +inf] (absolute difference)")
    else:
        assert row.p_value_abs == pytest.approx(1 - two.p_value_abs / 2, rel=1e-12)
        assert row.abs_ci_low == -math.inf
        assert row.verdict("holm").startswith("no evidence that 2 is less than 1 on mean extra")


def test_one_sided_relative_lift_by_hand() -> None:
    """gbstats' relative delta method, one-sided: lift / se against the one-sided Welch t quantile."""
    df = base(lift=0.25)
    row = compare(df, metric="engagement_rate", by="variant", method="delta", alternative="greater").rows[0]
    a, b = df[df.variant == "A"], df[df.variant == "B"]

    def var_of_ratio(g: pd.DataFrame) -> tuple[float, float]:
        m, d = g.engagements.to_numpy(float), g.impressions.to_numpy(float)
        r = m.sum() / d.sum()
        return r, np.var(m - r * d, ddof=1) / d.mean() ** 2 / len(m)

    (r_a, v_a), (r_b, v_b) = var_of_ratio(a), var_of_ratio(b)
    lift = r_b / r_a - 1
    se = math.sqrt(v_b / r_a**2 + r_b**2 * v_a / r_a**4)
    df_w = (v_a + v_b) ** 2 / (v_a**2 / (len(a) - 1) + v_b**2 / (len(b) - 1))
    assert row.p_value_rel == pytest.approx(sps.t.sf(lift / se, df_w), rel=1e-9)
    assert row.rel_ci_low == pytest.approx(lift - sps.t.ppf(0.95, df_w) * se, rel=1e-9)
    assert row.rel_ci_high == math.inf
    assert row.p_value_abs == pytest.approx(sps.t.sf((r_b - r_a) / math.sqrt(v_a + v_b), df_w), rel=1e-9)


def test_one_sided_sequential_p_inverts_the_one_sided_sequence() -> None:
    """Spec b5 eq. 134 (one-sided half-width, ρ from 2α); the p is the level at which the sequence, its ρ kept at the
    test's α as gbstats keeps it, touches 0."""
    estimate, se, n, tuning = 0.15, 0.05, 1000, 5000
    rho2 = (-2 * math.log(0.1) + math.log(-2 * math.log(0.1) + 1)) / tuning

    def by_hand(level: float) -> float:
        return math.sqrt(
            se**2 * n * 2 * (n * rho2 + 1) / (n * n * rho2) * math.log(1 + math.sqrt(n * rho2 + 1) / (2 * level))
        )

    cs = confidence_sequence(estimate, se, n, alternative="greater")
    assert cs.interval == pytest.approx((estimate - by_hand(0.05), math.inf), rel=1e-12)
    assert by_hand(cs.p_value) == pytest.approx(estimate, rel=1e-9)
    assert (cs.p_value < 0.05) == (cs.interval[0] > 0)  # rejects at 5% exactly when the interval excludes 0
    two = confidence_sequence(estimate, se, n)
    assert cs.p_value < two.p_value  # the direction counts: one-sided evidence is stronger
    wrong_way = confidence_sequence(-estimate, se, n, alternative="greater")
    assert wrong_way.p_value == 1.0
    result = compare(base(lift=0.3), metric="engagement_rate", by="variant", alternative="greater")
    seq = result.sequential().iloc[0]
    row = result.rows[0]
    assert seq.cs_high == math.inf
    on_log = confidence_sequence(math.log1p(row.rel_lift), row.rel_se, 40, alternative="greater")
    assert seq.always_valid_p == pytest.approx(on_log.p_value, rel=1e-12)
    assert seq.cs_low == pytest.approx(math.expm1(on_log.interval[0]), rel=1e-12)


def test_a_one_sided_sequential_p_short_of_significance_is_not_one() -> None:
    """An estimate on the tested side whose sequence still reaches below 0 has a p between α and 1: it was 1.0
    when ρ was re-tuned to every level searched (no level below 0.5 then excludes 0)."""
    se, n = 0.06, 500
    cs = confidence_sequence(0.12, se, n, alternative="greater")
    assert cs.interval[0] == pytest.approx(-0.101, abs=5e-4)  # far from excluding 0 at 5%
    assert cs.p_value == pytest.approx(0.5456, abs=5e-4)  # was 1.0
    closer = confidence_sequence(0.14, se, n, alternative="greater")
    assert 0.05 < closer.p_value < cs.p_value  # more evidence, a smaller p


def test_proportion_of_tweets_uses_the_binomial_variance() -> None:
    """A declared 0/1 per-tweet outcome: gbstats' ProportionStatistic variance p(1-p) (ddof 0), Welch df."""
    hits_a, hits_b, n = 9, 17, 30
    df = pd.DataFrame(
        {"g": ["A"] * n + ["B"] * n, "hit": [1] * hits_a + [0] * (n - hits_a) + [1] * hits_b + [0] * (n - hits_b)}
    )
    row = compare(df, metric=Mean("hit", proportion=True), by="g", scale="absolute").rows[0]
    p_a, p_b = hits_a / n, hits_b / n
    v_a, v_b = p_a * (1 - p_a) / n, p_b * (1 - p_b) / n
    df_w = (v_a + v_b) ** 2 / (v_a**2 / (n - 1) + v_b**2 / (n - 1))
    assert row.p_value_abs == pytest.approx(2 * sps.t.sf((p_b - p_a) / math.sqrt(v_a + v_b), df_w), rel=1e-10)
    assert "binomial variance p(1-p)" in row.method
    declared_by_type = compare(df.assign(hit=df.hit.astype(bool)), metric="hit", by="g", scale="absolute").rows[0]
    assert declared_by_type.p_value_abs == row.p_value_abs


def test_a_count_that_happens_to_be_0_or_1_stays_a_count() -> None:
    """Favorites of 0 or 1 in a small sample are counts: Welch's t on them, not the binomial variance (which
    would assume tweets with at most one favorite by design)."""
    a, b = [1] * 9 + [0] * 21, [1] * 17 + [0] * 13
    df = pd.DataFrame({"g": ["A"] * 30 + ["B"] * 30, "favorites": a + b})
    row = compare(df, metric="favorites", by="g", scale="absolute").rows[0]
    expected = sps.ttest_ind(b, a, equal_var=False).pvalue
    assert row.p_value_abs == pytest.approx(expected, rel=1e-10)
    assert "binomial" not in row.method
    with pytest.raises(StatsInputError, match="declared a proportion of tweets but group 'A' has values other"):
        compare(df.assign(favorites=[2, *a[1:], *b]), metric=Mean("favorites", proportion=True), by="g")


# --- degenerate inputs: a reason, never a confident wrong verdict ---------------------------------------


def _zero_arm() -> pd.DataFrame:
    df = base()
    df.loc[df.variant == "B", "engagements"] = 0
    return df


def _few_impressions() -> pd.DataFrame:
    df = base()
    df.loc[df.variant == "B", "engagements"] = 0
    df.loc[df.variant == "B", "impressions"] = 9
    return df


def _constant_rates() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "variant": ["A"] * 5 + ["B"] * 5,
            "impressions": [100, 200, 300, 400, 500] * 2,
            "engagements": [2, 4, 6, 8, 10, 3, 6, 9, 12, 15],
        }
    )


def _single() -> pd.DataFrame:
    return pd.concat([base().iloc[:20], base().iloc[20:21]])


def _hits_none() -> pd.DataFrame:
    return pd.DataFrame({"g": ["A"] * 20 + ["B"] * 20, "hit": [False] * 20 + [True] * 12 + [False] * 8})


@pytest.mark.parametrize(
    ("frame", "kwargs", "expect"),
    [
        (_zero_arm, {"method": "bootstrap", "n_resamples": 500}, "cannot tell"),
        (
            _few_impressions,
            {},
            "cannot tell on engagement_rate: B vs A: treatment has no variation between tweets and "
            "only 180 in its denominator: too few to bound its rate",
        ),
        (
            _constant_rates,
            {},
            "cannot tell on engagement_rate: B vs A: control has no variation between tweets (every tweet has the same rate)",
        ),
        (_single, {}, "cannot tell on engagement_rate: B vs A: treatment has 1 tweet(s)"),
        (_hits_none, {"metric": "hit", "by": "g"}, "B beats A by"),  # Fisher's exact test takes over
    ],
)
def test_degenerate_arms_say_cannot_tell(frame: Any, kwargs: dict[str, Any], expect: str) -> None:
    args = {"metric": "engagement_rate", "by": "variant", **kwargs}
    for data in (frame(), pl.from_pandas(frame())):
        result = compare(data, **args)
        assert result.verdicts()[0].startswith(expect), result.verdicts()[0]
        assert_consistent(result)


def test_fisher_fallback_for_a_proportion_with_no_variation_in_an_arm() -> None:
    row = compare(_hits_none(), metric="hit", by="g").rows[0]
    assert row.p_scale == "exact"
    assert row.p_value == pytest.approx(sps.fisher_exact([[12, 8], [0, 20]]).pvalue, rel=1e-12)
    assert "Fisher" in row.method


def test_bootstrap_and_permutation_name_the_reason() -> None:
    zero = (np.zeros(20), np.full(20, 100.0))
    some = (np.arange(20.0), np.full(20, 100.0))
    with pytest.raises(StatsInputError, match=r"control has a numerator total of 0.*relative lift is undefined"):
        cluster_bootstrap(zero, some, statistic="lift")
    with pytest.raises(StatsInputError, match=r"at least 2 tweets.*control has 1"):
        permutation_test((np.ones(1), np.ones(1)), some)
    with pytest.raises(StatsInputError, match="denominators sum to 0"):
        cluster_bootstrap((np.zeros(5), np.zeros(5)), some)
    with pytest.raises(StatsInputError, match=r"statistic='ratio' is not an option"):
        cluster_bootstrap(some, some, statistic="ratio")  # type: ignore[arg-type]
    sparse = (np.array([1.0] + [0.0] * 19), np.full(20, 100.0))
    with pytest.raises(StatsInputError, match="resamples have an undefined statistic"):
        cluster_bootstrap(sparse, some, statistic="lift", n_resamples=1000)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda df: df.assign(engagements=df.engagements.where(df.index != 3, -4)),
            r"1 row\(s\) have negative 'engagements', e.g. \[\{'tweet_id': '1790000000000000003'",
        ),
        (
            lambda df: df.assign(engagements=df.engagements.where(df.index != 5, 10_000)),
            r"'engagements' larger than 'impressions'.*tweet_id': '1790000000000000005'.*bounded=False",
        ),
        (
            lambda df: df.assign(engagements=df.engagements + 0.5),
            r"40 row\(s\) have fractional 'engagements' \(counts are whole numbers\)",
        ),
        (
            lambda df: df.assign(engagements=df.engagements.astype(str)),
            r"column 'engagements' holds String, not numbers",
        ),
    ],
)
def test_counts_that_cannot_be_right_are_refused_with_the_rows(change: Any, message: str) -> None:
    bad = change(base())
    for data in (bad, pl.from_pandas(bad), pl.from_pandas(bad).lazy()):
        with pytest.raises(StatsInputError, match=message):
            compare(data, metric="engagement_rate", by="variant")


def test_unbounded_ratios_opt_out() -> None:
    df = base().assign(views=lambda d: d.impressions * 3 + d.engagements * 7)
    result = compare(df, metric=Ratio("views", "impressions", "views per impression", bounded=False), by="variant")
    assert math.isfinite(result.rows[0].p_value)
    with pytest.raises(StatsInputError, match="larger than"):
        compare(df, metric=Ratio("views", "impressions"), by="variant")


def test_null_labels_are_dropped_with_a_warning_and_nan_is_null_on_both_backends() -> None:
    df = base()
    df["variant"] = df.variant.astype(object)
    df.loc[[0, 1, 30], "variant"] = None
    df["engagements"] = df.engagements.astype(float)
    df.loc[[2, 25], "engagements"] = np.nan
    with pytest.warns(UserWarning, match="3 tweet"):
        pandas_result = compare(df, metric="engagement_rate", by="variant")
    polars_frame = pl.from_pandas(df, nan_to_null=False)
    assert polars_frame["engagements"].is_nan().sum() == 2  # polars keeps NaN distinct from null
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        polars_result = compare(polars_frame, metric="engagement_rate", by="variant")
    assert [r.treatment for r in pandas_result.rows] == ["B"]  # no group called "None" or "nan"
    assert "3 tweet(s) with no 'variant' value were left out" in pandas_result.notes
    a, b = pandas_result.to_frame(), polars_result.to_frame()
    pd.testing.assert_frame_equal(a, b)
    assert (a.n_control[0], a.n_treatment[0]) == (17, 18)  # 20 - 2 labels - 1 NaN, 20 - 1 label - 1 NaN


def test_every_label_dtype_gives_the_same_comparison_and_hostile_labels_are_refused() -> None:
    # pandas frames are computed on polars (arrow strings cast to string views); the answer must not depend on
    # how the labels are stored, and a pandas column polars cannot hold stays on pandas with the same answer
    df = base(60).assign(variant=lambda d: np.tile(["A", "B", "C"], 20))
    expected = compare(df, metric="engagement_rate", by="variant", pairs="all").to_frame()
    stored = {
        "object": df.variant.astype(object),
        "category": df.variant.astype("category"),
        "string[pyarrow]": df.variant.astype("string[pyarrow]"),
        "arrow large_string": df.variant.astype(pd.ArrowDtype(pa.large_string())),
    }
    for name, column in stored.items():
        got = compare(df.assign(variant=column), metric="engagement_rate", by="variant", pairs="all").to_frame()
        pd.testing.assert_frame_equal(got, expected, obj=name)
    got = compare(pl.from_pandas(df), metric="engagement_rate", by="variant", pairs="all").to_frame()
    pd.testing.assert_frame_equal(got, expected)
    mixed = df.assign(variant=[1 if v == "A" else "1" if v == "B" else "C" for v in df.variant])
    for method in ("delta", "mann-whitney"):
        with pytest.raises(StatsInputError, match=r"different values that all read '1'.*astype\(str\)"):
            compare(mixed, metric="engagement_rate", by="variant", method=method)
    with pytest.raises(StatsInputError, match="all read '1'"):
        tweet_arrays(mixed, Ratio("engagements", "impressions"), "variant")
    merged = compare(mixed.assign(variant=mixed.variant.astype(str)), metric="engagement_rate", by="variant")
    assert merged.rows[0].n_control == 40  # once one type, 1 and "1" are one group, as the fix says


def test_nan_in_a_polars_frame_does_not_hide_or_fake_a_bad_count() -> None:
    df = pl.from_pandas(base(), nan_to_null=False).with_columns(pl.col("engagements").cast(pl.Float64))
    with_nan = df.with_columns(
        engagements=pl.when(pl.int_range(pl.len()) == 3).then(float("nan")).otherwise(pl.col("engagements"))
    )
    # NaN is neither fractional nor negative: it is a missing value, left out
    assert compare(with_nan, metric="engagement_rate", by="variant").rows[0].n_control == 19
    bad = with_nan.with_columns(
        engagements=pl.when(pl.int_range(pl.len()) == 5).then(-1.0).otherwise(pl.col("engagements"))
    )
    with pytest.raises(StatsInputError, match=r"1 row\(s\) have negative 'engagements'"):
        compare(bad, metric="engagement_rate", by="variant")


def test_srm_check_refuses_weights_of_the_wrong_length() -> None:
    with pytest.raises(StatsInputError, match=r"weights has 3 value\(s\) but tweets_per_arm has 2 arm\(s\)"):
        srm_check({"A": 50, "B": 52}, [0.3, 0.3, 0.4])
    with pytest.raises(StatsInputError, match=r"weights name arm\(s\) \['C'\]"):
        srm_check({"A": 50, "B": 52}, {"A": 0.5, "C": 0.5})
    with pytest.raises(StatsInputError, match="non-negative"):
        srm_check({"A": 50, "B": 52}, [-1, 2])
    assert srm_check({"A": 50, "B": 52}, [0.5, 0.5]).p_value == pytest.approx(sps.chisquare([50, 52]).pvalue)


# --- both scales ---------------------------------------------------------------------------------------


def test_both_scales_are_in_the_frame_and_scale_chooses_the_verdicts() -> None:
    df = base(lift=0.15)
    rel = compare(df, metric="engagement_rate", by="variant")
    frame = rel.to_frame()
    assert list(frame.columns) == list(columns.COMPARISON)
    assert frame.p_scale[0] == "relative"
    assert frame.p_value[0] == frame.p_value_rel[0]
    absolute = compare(df, metric="engagement_rate", by="variant", scale="absolute").to_frame()
    assert absolute.p_value[0] == frame.p_value_abs[0]
    assert absolute.p_scale[0] == "absolute"


def test_zero_control_mean_falls_back_to_the_absolute_scale() -> None:
    df = pd.DataFrame({"g": ["A"] * 6 + ["B"] * 6, "x": [-2.0, 2, -1, 1, -3, 3, 4, 5, 6, 5, 4, 6]})
    row = compare(df, metric=Mean("x"), by="g").rows[0]
    assert math.isnan(row.p_value_rel)
    assert row.p_scale == "absolute"
    assert row.p_value == row.p_value_abs < 0.05
    assert "absolute difference" in row.warnings
    assert "(absolute difference)" in row.verdict("holm")


@st.composite
def ratio_frames(draw: st.DrawFn) -> pd.DataFrame:
    n_a, n_b = draw(st.integers(2, 25)), draw(st.integers(2, 25))
    impressions = draw(st.lists(st.integers(1, 5000), min_size=n_a + n_b, max_size=n_a + n_b))
    shares = draw(st.lists(st.floats(0, 0.2), min_size=n_a + n_b, max_size=n_a + n_b))
    return pd.DataFrame(
        {
            "variant": ["A"] * n_a + ["B"] * n_b,
            "impressions": impressions,
            "engagements": [int(i * s) for i, s in zip(impressions, shares, strict=True)],
        }
    )


@settings(max_examples=120, deadline=None)
@given(
    ratio_frames(),
    st.sampled_from(["two-sided", "greater", "less"]),
    st.sampled_from(["delta", "log", "fieller"]),
    st.sampled_from([0.05, 0.1, 0.01]),
    st.booleans(),
)
def test_each_p_value_agrees_with_its_own_interval(
    frame: pd.DataFrame, alternative: str, relative_ci: str, alpha: float, as_polars: bool
) -> None:
    data: Any = pl.from_pandas(frame) if as_polars else frame
    result = compare(
        data, metric="engagement_rate", by="variant", alternative=alternative, relative_ci=relative_ci, alpha=alpha
    )  # type: ignore[arg-type]
    row = result.rows[0]
    for p, low, high in (
        (row.p_value_abs, row.abs_ci_low, row.abs_ci_high),
        (row.p_value_rel, row.rel_ci_low, row.rel_ci_high),
    ):
        if math.isnan(p):
            continue
        excludes = not (low <= 0 <= high)
        if abs(p - alpha) > 1e-9:  # exactly at the boundary either answer is right
            assert (p < alpha) == excludes, (p, low, high)
    assert_consistent(result)


def test_a_relative_confidence_sequence_never_goes_below_minus_100_percent() -> None:
    tiny = pd.DataFrame(
        {"variant": ["A"] * 4 + ["B"] * 4, "impressions": [100] * 8, "engagements": [1, 9, 2, 8, 1, 2, 9, 3]}
    )
    seq = compare(tiny, metric="engagement_rate", by="variant", method="delta").sequential()
    assert seq.cs_low[0] == -1.0  # the raw normal-mixture bound is far below -100%, which no lift can be
    assert seq.scale[0] == "relative"
    on_log = compare(tiny, metric="engagement_rate", by="variant").sequential()  # the default's log scale
    assert -1.0 < on_log.cs_low[0] < -0.99  # exp(lower bound) - 1: near -100%, never below
    assert on_log.cs_high[0] > 10


def test_a_lazy_input_is_checked_in_one_query(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each question to a lazy plan runs the whole plan again (a scan, per_tweet of 100M rows in DuckDB): the
    checks of a lazy input with missing labels and NaN take one query, not an any() pass and then counts."""
    from engagement_lab.stats import inputs

    df = pl.from_pandas(base(), nan_to_null=False).with_columns(pl.col("engagements").cast(pl.Float64))
    df = df.with_columns(
        variant=pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise(pl.col("variant")),
        engagements=pl.when(pl.int_range(pl.len()) == 3).then(float("nan")).otherwise(pl.col("engagements")),
    )
    queries: list[int] = []
    real = inputs.collect

    def counted(frame: Any) -> Any:
        queries.append(1)
        return real(frame)

    monkeypatch.setattr(inputs, "collect", counted)
    data, notes = inputs.checked_frame(df.lazy(), [Ratio("engagements", "impressions")], "variant")
    assert len(queries) == 1
    assert notes == ["1 tweet(s) with no 'variant' value were left out"]
    eager, _ = inputs.checked_frame(df, [Ratio("engagements", "impressions")], "variant")
    lazy_rows, eager_rows = data.collect().to_native(), eager.collect().to_native()
    assert lazy_rows.select(sorted(lazy_rows.columns)).equals(eager_rows.select(sorted(eager_rows.columns)))


# --- the t machinery at its edges (each guard on its own) -------------------------------------------------------


def test_p_values_and_quantiles_take_any_positive_degrees_of_freedom_and_refuse_the_rest() -> None:
    """A leverage-concentrated arm can have fewer than one degree of freedom: still a t distribution. Zero, negative,
    NaN degrees of freedom or a NaN statistic give NaN, never a p of 1 or a normal quantile."""
    assert p_from_t(2.0, 0.5, "two-sided") == pytest.approx(2 * sps.t.sf(2.0, 0.5), rel=1e-12)
    assert _quantile(0.05, 0.5, "two-sided") == pytest.approx(sps.t.ppf(0.975, 0.5), rel=1e-12)
    for df in (0.0, -1.0, -math.inf, math.nan):
        assert math.isnan(p_from_t(2.0, df, "two-sided")), df
        assert math.isnan(_quantile(0.05, df, "two-sided")), df
    assert math.isnan(p_from_t(math.nan, 10.0, "two-sided"))
    z = sps.norm.ppf(0.975)
    assert p_from_t(z, math.inf, "two-sided") == pytest.approx(0.05, rel=1e-12)
    assert p_from_t(z, math.inf, "greater") == pytest.approx(0.025, rel=1e-12)


def test_welch_degrees_of_freedom_with_a_fraction_of_one_zero_or_no_variance() -> None:
    assert _welch_df(1.0, 1.0, 0.5, 10.0) == pytest.approx(4 / (1 / 0.5 + 1 / 10), rel=1e-12)
    assert _welch_df(1.0, 1.0, 10.0, 0.5) == pytest.approx(4 / (1 / 10 + 1 / 0.5), rel=1e-12)  # either arm
    assert _welch_df(1.0, 1.0, 0.0, 10.0) == 0.0  # an arm with no degrees of freedom leaves none
    assert _welch_df(1.0, 1.0, 10.0, 0.0) == 0.0
    assert math.isnan(_welch_df(0.0, 0.0, 5.0, 5.0))  # no variance at all: nothing to count


def test_fieller_bounds_solve_their_quadratic() -> None:
    """Fieller's interval for a/b − 1 is where (a − ρb)² = q(v_a + ρ²v_b), ρ = lift + 1; a zero treatment with no
    variance is exactly −100%, and a control indistinguishable from 0 is unbounded (None)."""
    a, b, v_a, v_b, q = 1.2, 0.9, 0.01, 0.02, sps.norm.ppf(0.975) ** 2  # b ≠ 1: a·b and a/b differ
    bounds = _fieller(a, b, v_a, v_b, q)
    assert bounds is not None
    for lift in bounds:
        rho = lift + 1
        assert (a - rho * b) ** 2 == pytest.approx(q * (v_a + rho * rho * v_b), rel=1e-12)
    assert bounds[0] < a / b - 1 < bounds[1]
    assert _fieller(0.0, 2.0, 0.0, 1.0, 1.0) == (-1.0, -1.0)
    assert _fieller(1.0, 2.0, 0.1, 1.0, 4.0) is None  # b² = q·v_b exactly


def test_no_variation_is_judged_relative_to_the_typical_rate_at_one_part_in_ten_million() -> None:
    """Rates 1% apart by one part in a million vary; by one part in a billion they are rounding of one rate."""
    rng = np.random.default_rng(6)
    d = rng.integers(1_000, 2_000, 100).astype(float)
    for wobble, flat in ((1e-6, False), (1e-9, True)):
        m = 0.01 * d * (1 + wobble * rng.standard_normal(100))
        g = GroupStats.from_arrays(m, d)
        assert (flat_reason("control", g) is not None) is flat, wobble
        pooled = GroupStats(g.n, g.sum_m, g.sum_mm, g.sum_d, g.sum_dd, g.sum_md)  # no second pass: from the sums
        if not flat:
            assert flat_reason("control", pooled) is None


def test_design_effect_takes_rates_of_zero_and_one_and_refuses_means() -> None:
    none = GroupStats.from_arrays(np.zeros(4), np.array([100.0, 200, 300, 400]))
    some = GroupStats.from_arrays(np.array([3.0, 5, 2, 9]), np.array([100.0, 200, 300, 400]))
    every = GroupStats.from_arrays(np.array([100.0, 200, 300, 400]), np.array([100.0, 200, 300, 400]))
    naive = some.ratio * (1 - some.ratio) / some.sum_d
    assert design_effect(none, some, 2 * naive) == pytest.approx(2.0, rel=1e-12)  # p = 0 adds no naive variance
    assert design_effect(every, some, 2 * naive) == pytest.approx(2.0, rel=1e-12)  # nor does p = 1
    assert math.isnan(design_effect(none, every, 1.0))  # both naive variances 0: no ratio
    mean = GroupStats.from_arrays(np.array([1.0, 2, 3]))  # D ≡ 1: a mean, not a rate per impression
    assert math.isnan(design_effect(mean, some, 1.0))
    assert contrast(some, some).deff == contrast(some, some, ratio=True).deff  # a ratio unless told otherwise


def test_design_effect_refuses_rates_above_one_and_counts_fractional_impressions() -> None:
    some = GroupStats.from_arrays(np.array([3.0, 5, 2, 9]), np.array([100.0, 200, 300, 400]))
    # 1.01 per impression over many: its negative "binomial variance" would not even cancel the other arm's
    above = GroupStats.from_arrays(np.array([101_000.0, 202_000]), np.array([100_000.0, 200_000]))
    assert math.isnan(design_effect(above, some, 1.0))
    half = GroupStats.from_arrays(np.array([0.0, 0.5]), np.array([0.25, 0.75]))  # one impression in all, p = 0.5
    naive = 0.25 / 1.0 + some.ratio * (1 - some.ratio) / some.sum_d
    assert design_effect(half, some, naive) == pytest.approx(1.0, rel=1e-12)


def test_the_log_scale_needs_both_rates_positive() -> None:
    for r_t, r_c in ((0.0, 0.5), (0.5, 0.0), (-0.5, 0.5), (0.5, -0.5)):
        notes: list[Any] = []
        se, bounds, p = _log_scale(r_t, r_c, 0.01, 0.01, (10.0, 10.0), 0.05, "two-sided", notes)
        assert math.isnan(se) and all(map(math.isnan, bounds)) and math.isnan(p), (r_t, r_c)  # noqa: PT018
        assert notes == [LOG_NEEDS_POSITIVE]


def test_relative_intervals_without_a_standard_error_or_with_an_unbounded_fieller() -> None:
    assert math.isnan(_scaled_statistic("delta", 1.0, 0.1, 0.0, 1.1, 1.0, 0.01, 0.01))
    notes: list[Any] = []
    got = _relative_interval(1.1, 1.0, 0.01, 0.01, 0.1, math.nan, 1.96, "two-sided", "fieller", notes)
    assert all(map(math.isnan, got))
    got = _relative_interval(1.0, 0.1, 0.01, 1.0, 9.0, 0.5, 1.96, "two-sided", "fieller", notes)
    assert got == (-math.inf, math.inf)
    assert notes == [FIELLER_UNBOUNDED]


def test_one_sided_fieller_intervals_keep_their_own_bound() -> None:
    r_t, r_c, v_t, v_c, q = 1.2, 1.0, 0.01, 0.02, 1.645
    both = _fieller(r_t, r_c, v_t, v_c, q * q)
    assert both is not None
    args = (r_t, r_c, v_t, v_c, 0.2, 0.15, q)
    assert _relative_interval(*args, "greater", "fieller", []) == (both[0], math.inf)
    assert _relative_interval(*args, "less", "fieller", []) == (-math.inf, both[1])
    assert _relative_interval(*args, "two-sided", "fieller", []) == both
