# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Which method when
# `compare` picks a sound default, but some choices are yours: how the groups came about, how many tweets there
# are, whether you will look before the end, what you want to average. Each section below states a situation,
# the call for it, and shows on data where the choice changes the answer.
#
# | situation | call | section |
# |---|---|---|
# | randomised A/B test, any size | `compare(...)` (the default, delta method with leverage-corrected variances) | 1 |
# | groups you did not randomise (content types, times...) | `balance`, then `compare(..., adjust_for=[...])` | 2 |
# | you will look at the test before it ends | `.sequential(tuning=planned total)` | 3 |
# | sizing the next test, or what a test can tell | `plan(...)`, `.power_at`, `.mde` | 4 |
# | a pre-period value that predicts the outcome | `compare(..., covariate=...)` (CUPED) | 5 |
# | per impression, per tweet, or per tweet's rate | a named rate vs `Mean(...)` | 6 |

# %%
import polars as pl

import engagement_lab as el
from engagement_lab.datasets import load_sample, sample
from engagement_lab.stats import balance
from engagement_lab.timeseries import posting_time

pl.Config.set_tbl_rows(12)
bundled = load_sample(backend="polars", path="../data/sample")
tweets = el.per_tweet(bundled.tidy, metadata=bundled.metadata, rates=["engagement_rate"])
ab = tweets.filter(pl.col("campaign") == "spring_launch")  # randomised, true lift +20%
history = tweets.filter(pl.col("campaign").is_null() | (pl.col("campaign") != "spring_launch"))
ab.height, history.height

# %% [markdown]
# ## 1. Randomised: small arms and large arms
# With tweets as units, what matters is how many tweets each arm has and how unevenly impressions fall on them. The
# peers' delta method (`method="delta"`, GrowthBook's and tea-tasting's) is fine with hundreds of tweets per arm but
# over-confident with a few dozen, when one viral tweet carries an arm; the default corrects for that. An A/A check
# on this account's past tweets shows it: nothing differs between the halves, so every "significant" call is false.

# %%
check = el.aa_check(history, metric="engagement_rate", n=[15, 100], methods=["auto", "delta", "naive-z"])
check.to_frame(backend="polars").select("method", "n_per_arm", pl.col("false_alarms", "low", "high").round(3))

# %% [markdown]
# With 15 tweets per arm the peers' delta method calls one A/A test in seven significant; the default stays near
# 5% at both sizes. The pooled z-test on impressions is wrong at every size. With very small arms, resampling
# methods (`method="permutation"` or `"bootstrap"`) are alternatives; on the spring launch's first 15 tweets per arm
# the four give different p-values, and only the default has been checked on tweets like these.

# %%
first = ab.sort("created_at").group_by("variant", maintain_order=True).head(15)
pl.DataFrame(
    [
        {
            "method": m,
            "p_value": round(
                el.compare(first, metric="engagement_rate", by="variant", control="A", method=m).rows[0].p_value, 3
            ),
        }
        for m in ["auto", "delta", "permutation", "bootstrap"]
    ]
)

# %% [markdown]
# ## 2. Not randomised: check balance, adjust, say "association"
# Content types are chosen, not assigned. In the confounded sandbox world the engaging account posts the videos and
# polls at the best hours, so a raw comparison credits content with what account and timing did. `balance` shows
# it (standardised differences past 0.1 are imbalance); `adjust_for` holds the named confounders fixed.

# %%
world = sample(confounded=True, backend="polars")
everyday = posting_time(
    el.per_tweet(world.tidy, metadata=world.metadata, rates=["engagement_rate"]).filter(
        pl.col("campaign").is_null(), pl.col("account").is_in(["acme", "acme_support"]), pl.col("impressions") > 0
    )
)
confounders = ["account", "hour_of_day", "weekday"]
balance(everyday, by="content_type", adjust_for=confounders, control="text").group_by("covariate").agg(
    largest_abs_smd=pl.col("smd").abs().max().round(2)
).sort("covariate")

# %%
adjusted = el.compare(
    everyday, metric="engagement_rate", by="content_type", control="text", adjust_for=confounders, randomised=False
)
truth = world.ground_truth["confounded"]["true_rate_ratio_vs_text"]
adjusted.side_by_side(backend="polars").select(
    "treatment",
    raw=pl.col("unadjusted_lift").round(2),
    adjusted=pl.col("adjusted_lift").round(2),
    true=(pl.col("treatment").replace_strict(truth) - 1).round(2),
)

# %% [markdown]
# ## 3. Looking before the end: a confidence sequence
# A fixed-sample p-value is valid once, at the planned end. If you will check daily, read the always-valid interval
# instead, with N\* (`tuning`) set to the total number of tweets you plan to reach. Here the spring launch, planned
# at 220 tweets: its sequence is wider than the fixed interval (the price of looking as often as you like), and
# much wider still with the default N\* = 5000, which is sized for user-level tests. Notebook 05 replays A/A tests
# to show what peeking with fixed p-values does.

# %%
result = el.compare(ab, metric="engagement_rate", by="variant", control="A")
row = result.rows[0]
pl.concat(
    [
        pl.DataFrame({"interval": ["fixed, valid once"], "low": [row.rel_ci_low], "high": [row.rel_ci_high]}),
        *(
            result.sequential(tuning=n, backend="polars").select(
                interval=pl.lit(f"sequence, N* = {n}"), low="cs_low", high="cs_high"
            )
            for n in (220, 5000)
        ),
    ]
).with_columns(pl.col("low", "high").round(3))

# %% [markdown]
# ## 4. Planning: `plan`, `power_at`, `mde`
# Before a test, ask what it can tell. `plan` resamples tweets like the ones the test will use (here the control
# arm's) and judges simulated tests as `compare` would. Which tweets you plan from matters: the whole varied
# history (notebook 05) needs far more tweets than this campaign's alike image tweets.

# %%
planned = el.plan(ab.filter(pl.col("variant") == "A"), metric="engagement_rate", lift=0.2)
{
    "tweets_per_arm_for_+20%": round(planned.tweets_per_arm),
    "power_at_110_per_arm": planned.power_at(110),
    "mde_at_110_per_arm": round(planned.mde(110), 3),
}

# %% [markdown]
# ## 5. CUPED: a pre-period covariate narrows a randomised test
# When something known before the test predicts each tweet's outcome, `covariate=` removes the part of the noise it
# explains; the estimate stays unbiased because the arms were randomised. Here: each account's engagement rate
# before the campaign. (A different idea from `adjust_for`, which is for groups that were not randomised.)

# %%
start = ab["created_at"].min()
before = (
    history.filter(pl.col("created_at") < start)
    .drop_nulls("impressions")
    .group_by("account")
    .agg(account_rate_before=pl.col("engagements").sum() / pl.col("impressions").sum())
)
with_before = ab.join(before, on="account", how="left")
pl.DataFrame(
    [
        {
            "covariate": str(c),
            "lift": r.rel_lift,
            "low": r.rel_ci_low,
            "high": r.rel_ci_high,
            "width": r.rel_ci_high - r.rel_ci_low,
        }
        for c in (None, "account_rate_before")
        for r in el.compare(with_before, metric="engagement_rate", by="variant", control="A", covariate=c).rows
    ]
).with_columns(pl.exclude("covariate").round(3))

# %% [markdown]
# The interval narrows only a little: the account explains some of the tweet-to-tweet variation in this campaign,
# not most of it. CUPED pays off when the covariate predicts much of it (a test spread over accounts of very
# different sizes, or a per-tweet pre-period value); it never moves the estimand.
#
# ## 6. Rates vs means: what is averaged?
# `engagement_rate` is engagements per impression over all of an arm's impressions: big tweets weigh more.
# `Mean("engagement_rate")` is the average tweet's rate: every tweet weighs the same. `Mean("engagements")` is
# engagements per tweet, which also moves with reach. On the spring launch they disagree even in sign:

# %%
pl.DataFrame(
    [
        {"metric": name, "A": r.control_value, "B": r.treatment_value, "lift": r.rel_lift, "p_value": r.p_value}
        for name, metric in [
            ("rate per impression", "engagement_rate"),
            ("average tweet's rate", el.Mean("engagement_rate")),
            ("engagements per tweet", el.Mean("engagements")),
            ("impressions per tweet", el.Mean("impressions")),
        ]
        for r in el.compare(ab, metric=metric, by="variant", control="A").rows
    ]
).with_columns(pl.col("A", "B").round(4), pl.col("lift", "p_value").round(3))

# %% [markdown]
# B's tweets engaged a larger share of the people who saw them (+11% per impression, +13% for the average tweet's
# rate), but by chance they reached fewer people (-20% impressions per tweet), so they got fewer engagements per
# tweet (-11%). Choose the metric that matches the decision: a creative's pull is per impression; a post's total
# yield includes its reach. Choose it *before* the test: here the average tweet's rate gives p = 0.03 where the
# rate per impression gives 0.057, and picking whichever metric came out clearest is peeking by another name.
#
# ## Answer
# **Which method when?** Randomised tests: the default `compare`, at any size; with a few dozen tweets per arm the
# peers' delta method raises false alarms about three times too often on tweets like these. Groups you chose:
# check `balance`, `adjust_for` what you measured, and report an association (`randomised=False`). Looking early:
# the confidence sequence, with N\* set to the planned size. Before a test: `plan` on tweets like the test's, and
# read its MDE. A predictive pre-period value: `covariate=` (CUPED). And choose per impression or per tweet on
# purpose, since they can disagree.
#
# *Caveat*: these rules were checked on the sandbox's heavy-tailed worlds and this account's tweets (the README's
# calibration table); on your own tweets, `aa_check` and `plan` tell you whether they hold.
