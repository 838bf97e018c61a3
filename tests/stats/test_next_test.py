"""The A/A self-check and the planner: the same verdicts as compare on the same splits, predicted power that holds
on fresh tweets (the back-test), and every option checked."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import polars as pl
import pytest

import engagement_lab as el
from engagement_lab.errors import StatsInputError
from engagement_lab.metrics import Ratio
from engagement_lab.sandbox.world import METRICS, World
from engagement_lab.stats import history, sample_size_ratio
from engagement_lab.stats.history import draw_splits, judged_splits, split_chunks
from engagement_lab.stats.next_test import AACheck, AACheckRow, resampled_power
from engagement_lab.stats.sufficient import GroupStats


def skewed(seed: int, n: int, sigma: float = 1.2, lift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Tweets shaped like a real account's: impressions lognormal(σ) around 2,000 (the top 5% hold about a third),
    each tweet's rate lognormal around 2% and lower on the most seen tweets, Poisson engagements; ``lift`` raises
    every rate by that much (the truth a planner should predict)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(n)
    w = -0.3 * z + math.sqrt(1 - 0.09) * rng.standard_normal(n)
    d = np.round(np.exp(math.log(2000) + sigma * z)).clip(1)
    mean = d * 0.02 * np.exp(0.5 * w - 0.125) * (1 + lift)
    return np.minimum(rng.poisson(mean), d).astype(float), d


def frame(m: np.ndarray, d: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"tweet_id": [str(10**18 + i) for i in range(len(m))], "impressions": d, "engagements": m})


PAST = frame(*skewed(3, 600))


# --- the A/A check is compare, split by split ---------------------------------------------------------------------


@pytest.mark.parametrize("method", ["auto", "delta", "naive-z"])
def test_aa_check_counts_the_same_rejections_as_a_loop_of_compare_calls(method: str) -> None:
    check = el.aa_check(PAST, n=[15, 40], splits=100, methods=[method], seed=11)
    for row in check.rows:
        index = draw_splits(len(PAST), row.n_per_arm, 100, 11)
        arm = np.repeat(["control", "treatment"], row.n_per_arm)
        p = np.array([
            el.compare(PAST.iloc[split].assign(arm=arm), metric="engagement_rate", by="arm", control="control",
                       method=method).to_frame()["p_value"].iloc[0]
            for split in index
        ])  # fmt: skip
        assert row.false_alarms == np.mean(p < 0.05)
        ours, _ = judged_splits(method, Ratio("engagements", "impressions"), PAST["engagements"].to_numpy(),
                                PAST["impressions"].to_numpy(), row.n_per_arm, splits=100, seed=11, alpha=0.05)  # fmt: skip
        np.testing.assert_allclose(ours, p, rtol=1e-9, atol=1e-12)


def test_aa_check_of_a_per_tweet_mean_is_compare_welch() -> None:
    past = PAST.assign(likes=np.random.default_rng(2).poisson(3, len(PAST)))
    check = el.aa_check(past, metric="likes", n=30, splits=100, methods=["auto"], seed=4)
    index = draw_splits(len(past), 30, 100, 4)
    arm = np.repeat(["control", "treatment"], 30)
    p = [
        el.compare(past.iloc[s].assign(arm=arm), metric="likes", by="arm", control="control").to_frame()["p_value"][0]
        for s in index
    ]
    assert check.rows[0].false_alarms == np.mean(np.array(p) < 0.05)


def test_splits_do_not_depend_on_the_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    whole = draw_splits(500, 40, 120, 9)
    monkeypatch.setattr(history, "CHUNK_CELLS", 200)  # 2 splits per chunk
    assert sum(1 for _ in split_chunks(500, 40, 120, 9)) == 60
    np.testing.assert_array_equal(draw_splits(500, 40, 120, 9), whole)
    assert all(len(set(row)) == 80 for row in whole)  # without replacement within a split


def test_aa_check_sees_the_naive_test_cry_wolf_and_the_default_hold() -> None:
    check = el.aa_check(frame(*skewed(5, 1668)), n=[50, 150], splits=400, seed=1)
    table = check.to_frame()
    naive = table[table["method"] == "naive-z"]["false_alarms"]
    default = table[table["method"] == "auto"]
    assert (naive > 0.3).all()  # over-dispersed tweets: impressions are not independent
    assert (default["high"] > 0.05).all()
    assert (default["low"] < 0.05).all()
    assert "holds its 5% level" in check.verdict()
    assert {"method", "n_per_arm", "splits", "false_alarms", "low", "high"} <= set(table.columns)
    assert isinstance(check.to_frame(backend="polars"), pl.DataFrame)
    assert "<table>" in check._repr_html_()
    assert "false alarms" in str(check)


def test_the_verdict_warns_when_the_default_cries_wolf() -> None:
    rows = (AACheckRow("auto", 20, 1000, 0.112, 0.094, 0.133), AACheckRow("auto", 100, 1000, 0.051, 0.039, 0.066))
    words = AACheck("engagements / impressions", 400, 0.05, rows).verdict()
    assert "cries wolf" in words
    assert "11.2% at 20" in words
    assert "at 100" not in words


def test_aa_check_takes_polars_and_lazy_frames() -> None:
    small = PAST.head(200)
    pandas_rows = el.aa_check(small, n=20, splits=100).rows
    assert el.aa_check(pl.from_pandas(small), n=20, splits=100).rows == pandas_rows
    assert el.aa_check(pl.from_pandas(small).lazy(), n=20, splits=100).rows == pandas_rows


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"methods": ["delta-hc4"]}, "did you mean 'delta-hc3'"),
        ({"methods": "auto"}, "non-empty list"),
        ({"n": 400}, "needs 800 past tweets"),
        ({"n": 1}, "at least 2"),
        ({"splits": 10}, "at least 100"),
        ({"alpha": 5}, "between 0 and 0.5"),
        ({"seed": 1.5}, "seed must be"),
        ({"metric": "engagement_rat"}, "engagement_rate"),
        ({"tweets": "three"}, "at least 4 past tweets"),
    ],
)
def test_aa_check_options_are_checked(kwargs: dict[str, object], message: str) -> None:
    tweets = PAST.head(3) if kwargs.pop("tweets", None) else PAST
    with pytest.raises(StatsInputError, match=message):
        el.aa_check(tweets, **kwargs)  # type: ignore[arg-type]


def test_a_misspelt_backend_is_refused() -> None:
    with pytest.raises(el.DataError, match="did you mean 'polars'"):
        el.aa_check(PAST, n=20, splits=100).to_frame(backend="polar")


# --- the planner ---------------------------------------------------------------------------------------------------


def test_plan_answers_with_the_size_where_its_curve_crosses_the_target() -> None:
    found = el.plan(PAST, lift=0.2, splits=400)
    assert not found.closed_form
    assert math.isfinite(found.tweets_per_arm)
    sizes = [n for n, _ in found.curve]
    below = max(n for n, p in found.curve if n <= found.tweets_per_arm)
    above = min(n for n in sizes if n >= found.tweets_per_arm)
    assert dict(found.curve)[below] <= 0.8 <= dict(found.curve)[above]
    assert found.power_at(below) == dict(found.curve)[below]  # the same splits, the same answer
    assert "tweets per arm" in found.sentence()
    assert "resampling 600 past tweets" in found.sentence()
    chart = found.chart().to_dict()
    assert chart["layer"][0]["mark"]["type"] == "line"
    assert isinstance(found.to_frame(backend="polars"), pl.DataFrame)


def test_power_grows_with_the_lift_and_the_mde_is_where_it_reaches_the_target() -> None:
    found = el.plan(PAST, lift=0.2, splits=300)
    powers = [found.power_at(150, lift=lift) for lift in (0.05, 0.2, 0.5)]
    assert powers == sorted(powers)
    assert powers[0] < 0.15
    assert powers[-1] > 0.7
    mde = found.mde(150)
    assert found.power_at(150, lift=mde) >= 0.8 > found.power_at(150, lift=mde * 0.9)


def test_a_fall_is_planned_too() -> None:
    found = el.plan(PAST, lift=-0.2, splits=300)
    assert math.isfinite(found.tweets_per_arm)
    assert "-20%" in found.sentence()


def test_a_short_history_falls_back_to_the_closed_form_and_says_so() -> None:
    short = PAST.head(20)
    found = el.plan(short, lift=0.3)
    pilot = GroupStats.from_arrays(short["engagements"].to_numpy(), short["impressions"].to_numpy())
    assert found.closed_form
    assert found.tweets_per_arm == sample_size_ratio(pilot, 0.3)
    assert "textbook" in found.sentence()
    assert "Only 20 past tweets" in found.note
    assert found.power_at(10) == pytest.approx(el.stats.power_ratio(pilot, 10, 0.3))


def test_beyond_half_the_history_the_plan_says_it_projects() -> None:
    found = el.plan(PAST.head(60), lift=0.1, splits=200, max_per_arm=2000)
    assert found.tweets_per_arm > 30
    assert "drawn with replacement" in found.note


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lift": 0}, "not 0"),
        ({"lift": -1.5}, "above -1"),
        ({"power": 1.2}, "between 0 and 1"),
        ({"metric": "likes"}, "needs a rate"),
        ({"metric": Ratio("engagements", "impressions", bounded=False), "tweets": "fractional"}, "fractional values"),
        ({"tweets": "empty"}, "needs past tweets"),
    ],
)
def test_plan_refuses_what_it_cannot_plan(kwargs: dict[str, object], message: str) -> None:
    tweets = PAST.assign(likes=1)
    which = kwargs.pop("tweets", None)
    if which == "fractional":
        tweets = tweets.assign(engagements=tweets["engagements"] + 0.5)
    elif which == "empty":
        tweets = tweets.assign(engagements=0.0)
    with pytest.raises(StatsInputError, match=message):
        el.plan(tweets, **kwargs)  # type: ignore[arg-type]


# --- the back-test: predicted power against power realised on fresh tweets -----------------------------------------


def _sandbox_tweets(seed: int) -> tuple[np.ndarray, np.ndarray]:
    world = World(seed=seed)
    rows = [METRICS.index("engagements"), METRICS.index("impressions")]
    totals = np.array([world.series(t)[rows].sum(axis=1) for t in world.tweets if t.status == "ok"], float)
    totals = totals[totals[:, 1] > 0]
    return totals[:, 0], totals[:, 1]


@pytest.mark.slow
def test_back_test_on_the_sandbox_predicted_power_holds_on_fresh_worlds() -> None:
    """Six sandbox worlds (seeds 7-12, 660 tweets each). Each world in turn is the history; the fresh tweets are the
    other five worlds' (3,300 tweets the planner never saw), the same lift injected. The mean prediction holds
    within 5 points at each size; a single world is off by its own luck (measured: up to 10 points at 100 per
    arm, more where a test uses most of the history, which the plan's note says)."""
    worlds = {s: _sandbox_tweets(s) for s in range(7, 13)}
    for n in (40, 100):
        errors = []
        for held, (m, d) in worlds.items():
            others = [w for s, w in worlds.items() if s != held]
            fm, fd = np.concatenate([w[0] for w in others]), np.concatenate([w[1] for w in others])
            realised = resampled_power(fm, fd, n, 0.2, 0.05, 1000, 101)
            errors.append(resampled_power(m, d, n, 0.2, 0.05, 1000, 0) - realised)
        print(f"sandbox n={n}: prediction errors {np.round(errors, 3)}, mean {np.mean(errors):+.3f}")
        assert abs(np.mean(errors)) <= 0.05
        assert max(map(abs, errors)) <= 0.15


@pytest.mark.slow
def test_back_test_on_heavy_tailed_accounts_predicted_power_holds_on_fresh_tweets() -> None:
    """Histories: six accounts' 1,668 tweets each from the heavy-tailed generator. Fresh tweets: new draws from the
    generator with every treatment tweet's rate truly raised 20% (not thinned: the truth is the generator's).
    The mean prediction holds within 5 points; a single history is off by its own luck (measured sd 3-5 points,
    benchmarks/plan.py prints it)."""
    rng_seeds = range(40, 46)
    experiments = 3000
    for n in (40, 100):
        control = [skewed(10_000 + i, n) for i in range(experiments)]
        treated = [skewed(20_000 + i, n, lift=0.2) for i in range(experiments)]
        m = np.stack([np.r_[c[0], t[0]] for c, t in zip(control, treated, strict=True)])
        d = np.stack([np.r_[c[1], t[1]] for c, t in zip(control, treated, strict=True)])
        p, effect = history.split_p_values("auto", Ratio("m", "d"), m, d, 0.05)
        realised = float(np.mean((p < 0.05) & (effect > 0)))
        predicted = [el.plan(frame(*skewed(s, 1668)), lift=0.2, splits=500, max_per_arm=10).power_at(n)
                     for s in rng_seeds]  # fmt: skip
        print(f"heavy-tailed n={n}: predicted {np.mean(predicted):.3f} (per history {np.round(predicted, 3)}), "
              f"realised {realised:.3f}")  # fmt: skip
        assert abs(np.mean(predicted) - realised) <= 0.05


def test_tweets_without_numbers_are_left_out_and_counted() -> None:
    holes = PAST.astype({"impressions": float}).copy()
    holes.loc[:9, "impressions"] = np.nan
    found = el.plan(holes, lift=0.3, splits=100)
    check = el.aa_check(holes, n=20, splits=100)
    assert found.history == check.history == len(PAST) - 10
    assert "10 tweet(s) with no engagements or impressions value were left out" in found.note
    assert check.note in str(check)
    assert "left out" in check._repr_html_()
