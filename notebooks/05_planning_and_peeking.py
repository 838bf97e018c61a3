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
# judging every simulated test exactly as `compare` would.

# %%
import polars as pl
from engagement_lab import aa_check, compare, per_tweet, plan
from engagement_lab.datasets import load_sample

pl.Config.set_tbl_rows(12)
sample = load_sample(backend="polars", path="../data/sample")
tweets = per_tweet(sample.tidy, metadata=sample.metadata, rates=["engagement_rate", "like_rate"])
# the history: every tweet outside the spring launch A/B test (one row per tweet)
history = tweets.filter(pl.col("campaign").is_null() | (pl.col("campaign") != "spring_launch"))
history.height

# %% [markdown]
# ## Would a verdict cry wolf on these tweets?
# An A/A check splits the past tweets into two random halves a thousand times: nothing differs between the
# halves, so every "significant" verdict is a false alarm, and a trustworthy method raises one about 5% of the
# time. The pooled z-test that treats impressions as independent is here for contrast.

# %%
check = aa_check(history, metric="engagement_rate")
check

# %% [markdown]
# ## How many tweets would tell a +10% lift?
# `plan` injects the lift into simulated tests drawn from the same tweets (thinning the control's engagements,
# so the true lift is exactly +10%) and finds where the default verdict tells it 80% of the time.

# %%
planned = plan(history, metric="engagement_rate", lift=0.1)
planned

# %%
planned.chart()

# %% [markdown]
# The spring launch compared about 110 tweets per arm, and the sandbox knows variant B's true lift: +20%. What
# could a test of that size tell?

# %%
print(f"power to tell +10% with 110 tweets per arm: {planned.power_at(110):.0%}")
print(f"power to tell +20% with 110 tweets per arm: {planned.power_at(110, lift=0.2):.0%}")
print(f"smallest lift told 80% of the time with 110 per arm: {planned.mde(110):+.0%}")

# %% [markdown]
# The textbook formula, fed the same tweets' variance, for comparison. On these tweets the two agree closely:
# at hundreds of tweets per arm the formula is right. What no formula tells you is whether the verdict itself
# can be trusted on tweets like yours (the A/A check above), or how far a short history can be pushed (the
# plan's note: past half the history, sizes are a projection).

# %%
from engagement_lab.metrics import NAMED_METRICS
from engagement_lab.stats import group_stats, sample_size_ratio

pilot = group_stats(history, NAMED_METRICS["engagement_rate"])["all"]
print(f"textbook: {sample_size_ratio(pilot, 0.1):,.0f} tweets per arm; resampled: {planned.tweets_per_arm:,.0f}")

# %% [markdown]
# ## Peeking
# Watching a test every day and stopping at the first p < 0.05 inflates false positives. Always-valid confidence sequences stay valid however often you look. Below: the A/B campaign replayed in posting order, looking after every 20 tweets.

# %%
ab = tweets.filter(pl.col("campaign") == "spring_launch").sort("created_at")
looks = []
for n in range(40, ab.height + 1, 20):
    seen = compare(ab.head(n), metric="engagement_rate", by="variant", control="A")
    row, seq = seen.rows[0], seen.sequential(backend="polars").row(0, named=True)
    looks.append({"tweets": n, "lift": round(row.rel_lift, 3), "fixed_low": round(row.rel_ci_low, 3),
                  "fixed_p": round(row.p_value, 3), "sequence_low": round(seq["cs_low"], 3), "always_valid_p": round(seq["always_valid_p"], 3)})
pl.DataFrame(looks)
