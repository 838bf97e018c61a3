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
# # The A/B campaign: naive vs. correct
# The spring launch randomised variant A or B across tweets. The world's true lift of B on engagement rate is +20%.

# %%
import polars as pl
from engagement_lab import compare, per_tweet, summarize
from engagement_lab.datasets import load_sample
from engagement_lab.stats import format_p

pl.Config.set_tbl_rows(12)
sample = load_sample(backend="polars", path="../data/sample")
tweets = per_tweet(sample.tidy, metadata=sample.metadata, rates=["engagement_rate", "like_rate"])
tweets.shape

# %%
ab = tweets.filter(pl.col("campaign") == "spring_launch")
ab.group_by("variant").agg(pl.len().alias("tweets"), pl.col("impressions").sum(), pl.col("engagements").sum()).sort("variant")

# %% [markdown]
# ## Naive vs. correct
# Pooling impressions and running a two-proportion z-test treats every impression as independent. They are not: each tweet has its own pull, so impressions cluster within tweets. The delta method treats tweets as the units. The **design effect** says how many times too confident the naive test is.

# %%
naive = compare(ab, metric="engagement_rate", by="variant", control="A", method="naive-z")
correct = compare(ab, metric="engagement_rate", by="variant", control="A")
pl.concat([naive.to_frame(backend="polars"), correct.to_frame(backend="polars")]).select(
    "method", "rel_lift", "abs_ci_low", "abs_ci_high", pl.col("p_value").map_elements(format_p, return_dtype=pl.String),
    "deff")

# %%
correct

# %%
correct.chart()

# %% [markdown]
# ## Bayesian view
# A flat prior, and a sceptical N(0, 0.3²) prior on the lift.

# %%
pl.concat([correct.bayesian(backend="polars"), correct.bayesian(prior_sd=0.3, backend="polars")]).select(
    "lift_mean", "lift_sd", "chance_to_win", "risk_treatment", "credible_low", "credible_high")

# %% [markdown]
# ## Was the randomisation honoured? And what would the next test need?

# %%
from engagement_lab.stats import GroupStats, group_stats, mde, sample_size_ratio, srm_check
from engagement_lab.metrics import NAMED_METRICS

counts = dict(ab.group_by("variant").len().sort("variant").iter_rows())
pilot = group_stats(ab.filter(pl.col("variant") == "A"), NAMED_METRICS["engagement_rate"])["all"]
srm = srm_check(counts)
{"srm_p": round(srm.p_value, 3), "tweets_per_arm_for_+10%": round(sample_size_ratio(pilot, 0.10)),
 "mde_with_110_per_arm": round(mde(pilot, 110).relative, 3)}
