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
# # Planning the next test, and peeking done right

# %%
import polars as pl
from engagement_lab import compare, per_tweet, summarize
from engagement_lab.datasets import load_sample

pl.Config.set_tbl_rows(12)
sample = load_sample(backend="polars", path="../data/sample")
tweets = per_tweet(sample.tidy, metadata=sample.metadata, rates=["engagement_rate", "like_rate"])
tweets.shape

# %%
from engagement_lab.metrics import NAMED_METRICS
from engagement_lab.stats import group_stats, mde, power_curve
from engagement_lab.viz import power_curve_plot

pilot = group_stats(tweets.filter(pl.col("content_type") == "image"), NAMED_METRICS["engagement_rate"])["all"]
curve = power_curve(pilot, [0.05, 0.1, 0.15, 0.2, 0.3, 0.5])
power_curve_plot(curve)

# %%
pl.DataFrame([{'tweets_per_arm': n, 'relative_mde': round(mde(pilot, n).relative, 3)} for n in (50, 100, 200, 400, 800)])

# %% [markdown]
# ## Peeking
# Watching a test every day and stopping at the first p < 0.05 inflates false positives. Always-valid confidence sequences stay valid however often you look. Below: the A/B campaign replayed in posting order, looking after every 20 tweets.

# %%
ab = tweets.filter(pl.col("campaign") == "spring_launch").join(sample.metadata.select("tweet_id", "created_at"), on="tweet_id").sort("created_at")
looks = []
for n in range(40, ab.height + 1, 20):
    seen = compare(ab.head(n), metric="engagement_rate", by="variant", control="A")
    row, seq = seen.rows[0], seen.sequential(backend="polars").row(0, named=True)
    looks.append({"tweets": n, "lift": round(row.rel_lift, 3), "fixed_low": round(row.rel_ci_low, 3),
                  "fixed_p": round(row.p_value, 3), "sequence_low": round(seq["cs_low"], 3), "always_valid_p": round(seq["always_valid_p"], 3)})
pl.DataFrame(looks)
