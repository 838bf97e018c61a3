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
# # Which kind of tweet works? Content types, adjusted for what travels with them
# Content types are never randomised. In this sandbox world (`World(seed=7, confounded=True)`) the big, engaging
# account posts mostly videos and polls, the support account mostly text and links, and videos and polls go out at
# the evening peak and at weekends, when every tweet does better. A raw comparison mixes all of that into the
# "content effect". Holding account, hour and weekday fixed recovers the truth, which this world knows.
# The data: lifetime totals of the two owned accounts' tweets outside campaigns, from
# `datasets.sample(confounded=True)`.

# %%
import polars as pl

import engagement_lab as el
from engagement_lab.datasets import sample
from engagement_lab.stats import balance
from engagement_lab.timeseries import posting_time
from engagement_lab.viz import balance_plot

pl.Config.set_tbl_rows(12)
world = sample(confounded=True, backend="polars")  # lifetime totals fetched from an in-process sandbox world
everything = el.per_tweet(world.tidy, metadata=world.metadata, rates=["engagement_rate"])
# the two owned accounts' everyday tweets (no campaign); the totals endpoint serves impressions for 90 days
tweets = posting_time(
    everything.filter(
        pl.col("campaign").is_null(),
        pl.col("account").is_in(["acme", "acme_support"]),
        pl.col("impressions").is_not_null(),
    )
)
tweets.group_by("account", "content_type").len().pivot(on="content_type", index="account", values="len").select(
    "account", "text", "image", "video", "link", "poll"
).sort("account")

# %% [markdown]
# ## Why a raw comparison misleads: the groups differ in account and posting time
# Standardised mean differences against text tweets; past 0.1 a covariate is unbalanced.

# %%
covariates = ["account", "hour_of_day", "weekday"]
table = balance(tweets, by="content_type", adjust_for=covariates, control="text")
table.group_by("covariate", "group").agg(largest_abs_smd=pl.col("smd").abs().max().round(2)).sort(
    "covariate", "group"
).pivot(on="group", index="covariate", values="largest_abs_smd")

# %%
balance_plot(table)

# %% [markdown]
# ## Raw against adjusted, against the truth
# Rate ratios against text: a Poisson model of engagements with an impressions offset and robust (HC3) errors,
# holding account, hour and weekday fixed.

# %%
adjusted = el.compare(tweets, metric="engagement_rate", by="content_type", control="text", adjust_for=covariates)
truth = world.ground_truth["confounded"]["true_rate_ratio_vs_text"]
adjusted.side_by_side(backend="polars").select(
    "treatment",
    pl.col("unadjusted_lift").round(3),
    pl.col("adjusted_lift").round(3),
    pl.col("adjusted_ci_low").round(3),
    pl.col("adjusted_ci_high").round(3),
    true_lift=(pl.col("treatment").replace_strict(truth) - 1).round(3),
)

# %%
adjusted.chart()

# %%
ranking = (
    adjusted.side_by_side(backend="polars")
    .select(
        "treatment",
        raw_rank=pl.col("unadjusted_lift").rank(descending=True).cast(pl.Int8),
        adjusted_rank=pl.col("adjusted_lift").rank(descending=True).cast(pl.Int8),
        true_rank=pl.col("treatment").replace_strict(truth).rank(descending=True).cast(pl.Int8),
    )
    .sort("true_rank")
)
ranking

# %%
adjusted.verdicts()

# %% [markdown]
# ## Answer
# **Which content type engages best?** Polls, then videos, then images; links do a little worse than text. The raw
# comparison overstates images, videos and polls two to three times over, because they come from the engaging
# account at the best hours. Adjusted for account, hour and weekday, every true ratio is covered by its 95%
# interval; the adjusted ratios are within about 5% of the true ones (image, video and poll a little high, link a
# little low), well within their intervals.
#
# Raw, adjusted and true rankings agree here: confounding changed the sizes of the lifts, not their order. That is
# not guaranteed; when a weak content type is posted mostly at the best hours, the raw ranking can be upside down.
#
# *Caveat*: this is still an association, not a randomised result: only the confounders that were measured and named
# are held fixed. An unmeasured one (a topic, a promoted budget) would bias the adjusted lifts too. The true ratios
# are known only because this is a simulated world.
