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
# # Planning the next test from your own tweets, and peeking done right
# Whether a test can tell a +10% lift, and whether its verdict can be taken at its word, both depend on how
# skewed *your* tweets are: when a few tweets carry most of the impressions, both get harder, and textbook
# formulas assume they don't. `aa_check` and `plan` answer both questions by resampling your own past tweets,
# judging every simulated test exactly as `compare` would. The last part replays tests on these tweets to show
# what watching a test every day does to its verdict, and how a confidence sequence guards against it.

# %%
import numpy as np
import polars as pl

import engagement_lab as el
from engagement_lab.datasets import load_sample

pl.Config.set_tbl_rows(12)
sample = load_sample(backend="polars", path="../data/sample")
tweets = el.per_tweet(sample.tidy, metadata=sample.metadata, rates=["engagement_rate"])
# the history: every tweet outside the spring launch A/B test (one row per tweet)
history = tweets.filter(pl.col("campaign").is_null() | (pl.col("campaign") != "spring_launch"))
history.height

# %% [markdown]
# ## Would a verdict cry wolf on these tweets?
# An A/A check splits the past tweets into two random halves a thousand times: nothing differs between the
# halves, so every "significant" verdict is a false alarm, and a trustworthy method raises one about 5% of the
# time. The pooled z-test that treats impressions as independent is here for contrast.

# %%
check = el.aa_check(history, metric="engagement_rate")
check

# %% [markdown]
# ## How many tweets would tell a +10% lift?
# `plan` injects the lift into simulated tests drawn from the same tweets (thinning the control's engagements,
# so the true lift is exactly +10%) and finds where the default verdict tells it 80% of the time.

# %%
planned = el.plan(history, metric="engagement_rate", lift=0.1)
planned

# %%
planned.chart()

# %% [markdown]
# The spring launch compared about 110 tweets per arm, and the sandbox knows variant B's true lift: +20%. What
# could a test of that size tell, if its tweets were as varied as this whole history?

# %%
print(f"power to tell +10% with 110 tweets per arm: {planned.power_at(110):.0%}")
print(f"power to tell +20% with 110 tweets per arm: {planned.power_at(110, lift=0.2):.0%}")
print(f"smallest lift told 80% of the time with 110 per arm: {planned.mde(110):+.0%}")

# %% [markdown]
# Far less than notebook 02 found (87% power for +20%, an MDE of +18%) from the campaign's own control tweets: those
# are image tweets of two accounts, while this history mixes five content types, two accounts and a competitor's
# tweets, so its engagement rates vary far more. **Plan from tweets like the ones the test will use.** The
# textbook formula (`stats.sample_size_ratio`) is close to the resampled answer at hundreds of tweets per arm; what
# no formula tells you is whether the verdict itself can be trusted on tweets like yours (the A/A check above), or
# how far a short history can be pushed (the plan's note: past half the history, sizes are a projection).

# %% [markdown]
# ## Peeking: an A/A replay
# Watching a test every day and stopping at the first p < 0.05 inflates false alarms: each look is another chance
# for noise to cross the line. To see it, replay 200 tests in which **nothing differs**: each draws 220 of the
# past tweets (110 per arm, the spring launch's size), keeps them in posting order, assigns arms at random, and
# looks after every 20 tweets from 60 on (9 looks). Each test is judged three ways: once, at the planned end; at
# the first of the 9 looks with p < 0.05 (peeking); and by the always-valid p-value of a confidence sequence at
# any look.
#
# A confidence sequence has one tuning number, **N\***, the total number of tweets at which it is tightest. Set it
# to the size you plan to reach, here 220. (GrowthBook's default, 5000, suits user-level tests with thousands of
# users; on a 220-tweet test it keeps the sequence valid but much wider than it needs to be.)

# %%
counted = history.drop_nulls("impressions").sort("created_at").select("impressions", "engagements")
rng = np.random.default_rng(2026)
looks = []
for replay in range(200):
    drawn = np.sort(rng.choice(counted.height, size=220, replace=False))  # keep posting order
    test = counted[drawn].with_columns(arm=pl.Series(rng.permutation(np.repeat(["A", "B"], 110))))
    for n in range(60, 221, 20):
        seen = el.compare(test.head(n), metric="engagement_rate", by="arm", control="A")
        sequence = seen.sequential(tuning=220, backend="polars")
        looks.append(
            {"replay": replay, "tweets": n, "p": seen.rows[0].p_value, "always_valid_p": sequence["always_valid_p"][0]}
        )
pl.DataFrame(looks).group_by("replay").agg(
    test_once=pl.col("p").last() < 0.05,
    stop_at_first_p_below_005=(pl.col("p") < 0.05).any(),
    confidence_sequence_any_look=(pl.col("always_valid_p") < 0.05).any(),
).select(pl.exclude("replay").mean().round(3))

# %% [markdown]
# Share of the 200 A/A tests that declared a difference. Tested once, the default holds its 5% (6%, within the
# replay's noise of about ±3 points); stopping at the first p < 0.05 of 9 looks calls more than one in five a
# winner (21.5%); the confidence sequence, checked at every look, stays at 5%.
#
# ## The spring launch, watched
# The campaign itself replayed in posting order. Its true lift is +20%, so here stopping early would have been
# *right*, which is why an A/B test with a real effect cannot show the danger of peeking; it shows the price of
# safety instead: the sequence's lower bound (`sequence_low`, N\* = 220) sits below the fixed interval's, and with
# N\* = 5000 it would sit lower still.
#
# Read the table row by row: at 180 tweets the fixed test said p = 0.024, and stopping there would have been right
# this time, by luck rather than by design (the A/A replay shows how often the same rule is wrong); at the planned
# end it says p = 0.057. The sequence never excludes 0: with 220 tweets it cannot tell +11% from nothing, and with
# N\* = 5000 its bound at the end is -15% rather than -6%.

# %%
ab = tweets.filter(pl.col("campaign") == "spring_launch").sort("created_at")
watched = []
for n in range(60, ab.height + 1, 40):
    seen = el.compare(ab.head(n), metric="engagement_rate", by="variant", control="A")
    row = seen.rows[0]
    tuned, default = (seen.sequential(tuning=t, backend="polars").row(0, named=True) for t in (220, 5000))
    watched.append(
        {
            "tweets": n,
            "lift": round(row.rel_lift, 3),
            "fixed_low": round(row.rel_ci_low, 3),
            "fixed_p": round(row.p_value, 3),
            "sequence_low": round(tuned["cs_low"], 3),
            "sequence_low_5000": round(default["cs_low"], 3),
        }
    )
pl.DataFrame(watched)

# %% [markdown]
# ## Answer
# **How many tweets does the next test need, and can it be watched daily?** On this account's varied history a
# +10% lift needs about 1,900 tweets per arm for 80% power, and a 110-per-arm test only tells lifts of about +50%;
# tweets as alike as the spring launch's need far fewer (notebook 02). The default verdict keeps its false alarms
# near 5% on these tweets when tested once (the A/A check). Watching daily and stopping at the first p < 0.05
# turns that 5% into about 20%; a confidence sequence with N\* set to the planned size may be checked at every
# look and stays near 5%.
#
# *Caveat*: the rates above are Monte-Carlo estimates from a few hundred tests (give or take a few points), and
# every plan leans on the past tweets being like the future ones; sizes beyond half the history are projections.
