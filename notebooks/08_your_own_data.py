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
# # Your own data: from an export to a report
# The other notebooks start from the sandbox. This one starts where most people are: a file of tweet metrics you
# downloaded, and a sheet saying which tweets belong to which variant. It goes file → tidy rows (`load`) → one row
# per tweet (`per_tweet`) → a comparison (`compare`) → an HTML report (`render_report`), and says which columns
# each step needs and when a difference may be read as caused by the variant.
#
# Here "your" files are the sample's: `acme`'s analytics.twitter.com tweet-activity export and `tweets.csv`, the
# list of tweets with their campaign, variant and content type. Replace the two paths with yours.

# %%
import tempfile
from pathlib import Path

import polars as pl

import engagement_lab as el
from engagement_lab.report import render_report
from engagement_lab.timeseries import posting_time

EXPORT = "../data/sample/tweet_activity_metrics_acme_en.csv"  # your export(s): a path, a list, a folder or a glob
LABELS = "../data/sample/tweets.csv"  # your sheet: a tweet_id column plus what describes each tweet

# %% [markdown]
# ## 1. Load: any file kind, recognised from its content
# `load` reads analytics.twitter.com and X Premium CSV exports, twarc2 files, X API v2 answers, Engagement API
# responses and fetch archives, in any mix, and returns tidy rows: one per tweet, metric and time bucket. With
# `report=True` it also says what it read. A file it does not understand is refused with its name and why, never
# read as zero rows. Several exports of one account may overlap: a total seen twice is kept once (the later
# observation), never summed.

# %%
tidy, report = el.load(EXPORT, backend="polars", report=True)
report.kinds

# %%
tidy.select("tweet_id", "engagement_type", "grain", "value").head(4)

# %% [markdown]
# ## 2. One row per tweet, with your labels
# `per_tweet` turns the tidy rows into one row per tweet with one count column per metric, and joins your labels on
# `tweet_id` (ids stay strings: a 19-digit id read as a number loses its last digits). Tweets in the export but not
# in your sheet keep empty labels, and `compare` leaves them out and says how many.

# %%
tweets = el.per_tweet(tidy, metadata=LABELS, rates=["engagement_rate"])
tweets.group_by("campaign", "variant").len().sort("campaign", "variant", nulls_last=True)

# %% [markdown]
# ## 3. Compare
# **The columns needed**: one row per tweet, the group column (`by`), and the counts of the metric: for a rate
# such as `engagement_rate`, its numerator and denominator (`engagements` and `impressions`); for a mean, the
# column itself. Nothing else. A table that lacks a count is refused with the column named:

# %%
campaign = tweets.filter(pl.col("campaign") == "spring_launch")
try:
    el.compare(campaign.drop("impressions"), metric="engagement_rate", by="variant", control="A")
except el.StatsInputError as refused:
    print(refused)

# %%
result = el.compare(campaign, metric="engagement_rate", by="variant", control="A")
result.headlines()

# %% [markdown]
# If your data are already one row per tweet (a sheet of your own, a warehouse query), skip `load` and `per_tweet`:
# `compare` and `render_report` take that table as it is.

# %%
folder = Path(tempfile.mkdtemp())
table = folder / "tweets.csv"
tweets.select("tweet_id", "campaign", "variant", "content_type", "created_at", "impressions", "engagements").write_csv(
    table
)
pl.read_csv(table, schema_overrides={"tweet_id": pl.String}).filter(pl.col("campaign") == "spring_launch").select(
    "tweet_id", "variant", "impressions", "engagements"
).head(3)

# %% [markdown]
# ## 4. A report to share
# `render_report` runs the report notebook on the table and writes one self-contained HTML file (charts inlined,
# no internet needed to open it): the verdict in words, the interval, the design effect, a check of the split, and
# how many more tweets would settle a contrast not yet clear. From a terminal:
# `engagement-lab report --table tweets.csv --by variant --where campaign=spring_launch --control A --out report.html`.

# %%
html = render_report(
    table=table, by="variant", where="campaign=spring_launch", control="A", out=folder / "report.html", progress=False
)
html.name, html.stat().st_size > 100_000

# %% [markdown]
# ## Randomised or observational?
# A difference between variants is an *effect* of the variant only when each tweet's variant was assigned at random
# (a coin, an alternating schedule fixed in advance). Groups you chose yourself, such as content types, differ in
# other ways too (when they were posted, on which account), so their comparison is an *association*: say so with
# `randomised=False`, and hold fixed what you measured with `adjust_for` (notebook 03 shows why). This export holds
# one account, so only the posting hour and weekday vary; `posting_time` derives them from `created_at`.

# %%
everyday = posting_time(tweets.filter(pl.col("campaign").is_null() | (pl.col("campaign") == "always_on")))
by_type = el.compare(
    everyday,
    metric="engagement_rate",
    by="content_type",
    control="text",
    adjust_for=["hour_of_day", "weekday"],
    randomised=False,
)
print(*by_type.notes)
by_type.verdicts()

# %% [markdown]
# `render_report(..., randomised=False, adjust_for=[...])` (or `--observational --adjust-for hour_of_day weekday`)
# writes the same caveat into the report.
#
# ## Answer
# **How do I run this on my own tweets?** Point `el.load` at your export(s), `el.per_tweet` at the tidy rows and a
# sheet of labels keyed by `tweet_id`, then `el.compare(..., metric=..., by=...)`; `render_report` turns the same
# table into an HTML page. On `acme`'s half of the spring launch this gives +10% with an interval that spans 0: no
# clear difference from 150 tweets. Among its everyday tweets, polls and videos engage better than text at the same
# posting hour and weekday: an association, since nobody assigned the content types at random.
#
# *Caveat*: only a randomised split supports "the variant caused it"; for groups you chose, the comparison is an
# association, adjusted for no more than the columns you name. And check which tweets your files hold before
# comparing with anyone else's numbers (notebook 06).
