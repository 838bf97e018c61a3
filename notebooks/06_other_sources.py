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
# # The same analysis from other sources
# An analytics.twitter.com tweet-activity export and an X API v2 lookup land in the same tidy schema.

# %%
import polars as pl
from engagement_lab import compare, load_analytics_csv, load_v2, per_tweet
from engagement_lab.load import read_metadata

metadata = read_metadata("../data/sample/tweets.csv")
export = load_analytics_csv("../data/sample/tweet_activity_metrics_acme_en.csv", backend="polars")
export.head(3)

# %%
from_csv = per_tweet(export, metadata=metadata, rates=["engagement_rate"])
compare(from_csv.filter(pl.col("campaign") == "spring_launch"), metric="engagement_rate", by="variant", control="A")

# %%
v2 = load_v2("../data/sample/v2_tweets.json", backend="polars")
v2.group_by("source", "engagement_type").len().sort("source", "engagement_type")

# %%
from_v2 = per_tweet(v2, metadata=metadata)
compare(from_v2.filter(pl.col("campaign") == "spring_launch"), metric="like_rate", by="variant", control="A")
