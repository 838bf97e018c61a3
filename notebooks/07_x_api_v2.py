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
# # X API v2 post analytics, end to end
# The enterprise Engagement API is sold under contract; X API v2 serves the same per-post numbers at
# `GET /2/tweets/analytics` with an ordinary user token. This notebook authorises a user with OAuth 2.0 (PKCE),
# fetches hourly analytics through the paced, resumable client, and runs the campaign comparison of notebook 02
# on them. The embedded sandbox plays X: its v2 answers come from the same world as its Engagement API answers.
#
# A user token reads that user's own posts, so this compares **one account's** half of the spring launch (`acme`,
# 150 of its 220 tweets): the same tweets as notebook 06's export, and a different answer from notebook 02's.

# %%
import tempfile
from datetime import datetime, timedelta

import httpx
import polars as pl

from engagement_lab import AnalyticsQuery, Credentials, Sandbox, compare, fetch_analytics, load_archive, per_tweet
from engagement_lab.api import AccountTokens, PKCEFlow, Secret

sandbox = Sandbox(seed=7).start()
app_only = Credentials.from_mapping({**sandbox.info, "accounts": []})  # the app's keys, no user tokens yet
now = sandbox.now  # the sandbox world's clock (with the real API: datetime.now(UTC))
app_only.oauth2_client_id

# %% [markdown]
# **Authorise a user** (Authorization Code with PKCE). `engagement-lab auth oauth2 --save creds.json` does this from a
# terminal: it prints the consent URL and catches the redirect on a loopback port. Here the "browser" is one
# HTTP call to the sandbox's consent page, which approves at once and redirects with the code.

# %%
flow = PKCEFlow(
    client_id=app_only.oauth2_client_id, redirect_uri="http://127.0.0.1:8765/callback", base_url=sandbox.base_url
)
landed = httpx.get(flow.url).headers["location"]  # where the browser would be sent
token = flow.exchange(landed)
# an account authorised with OAuth 2.0 only has no OAuth 1.0a token: its two OAuth 1.0a fields stay empty
credentials = app_only.with_account(
    AccountTokens(handle="acme", access_token=Secret(""), access_token_secret=Secret(""), oauth2=token)
)
token.scope, token.refresh_token is not None

# %% [markdown]
# **Plan and fetch.** Ids go out in batches of 100, the range in windows of at most 31 days (the API documents no
# limit), each user's 300-per-15-minutes budget is read from the `x-rate-limit-*` headers, and every answer is
# archived before the next step: rerunning the cell fetches nothing twice. The range starts at the hour the first
# campaign tweet was posted, so every tweet's counts are complete: a window that began later would sum only each
# early tweet's later hours, a number nobody measured as its engagement.

# %%
tweets = pl.read_csv(
    httpx.get(f"{sandbox.base_url}/sandbox/tweets.csv").content, schema_overrides={"tweet_id": pl.String}
)
campaign = tweets.filter(
    (pl.col("campaign") == "spring_launch") & (pl.col("account") == "acme") & (pl.col("status") == "ok")
)
end = now.replace(minute=0, second=0, microsecond=0)
first_posted = datetime.fromisoformat(campaign["created_at"].min()).replace(minute=0, second=0, microsecond=0)
query = AnalyticsQuery(tweet_ids=campaign["tweet_id"].to_list(), start=first_posted, end=end, granularity="hourly")
plan = query.plan(now=now)
len(plan), plan[0].params()["granularity"], plan[0].params()["start_time"]

# %%
archive = tempfile.mkdtemp()
result = fetch_analytics(
    query, credentials=credentials, out=archive, base_url=sandbox.base_url, now=now, progress=False
)
print(result.summary().replace(archive, "ARCHIVE"))

# %% [markdown]
# **Load.** Each hourly bucket is a tidy row; v2's `likes` becomes `favorites` (and so on) so named rates, rules
# and reports read v2 data unchanged. Names outside the v2 spec's enum keep their own names and are reported,
# never merged.

# %%
tidy = load_archive(archive, backend="polars")
tidy["engagement_type"].unique().sort().to_list()

# %% [markdown]
# **Memory.** An hour of a post is one row per metric: 150 posts x about 1,800 hours x 16 metrics is millions of
# rows for 150 posts, a few hundred MB in memory. That is fine on a laptop for one campaign; for more, write the
# archive to Parquet and read it lazily (`compact` and `scan`, notebook 01), or ask for `granularity="daily"`
# (24 times fewer rows) or `"total"` when only lifetime counts are compared.

# %%
tidy.group_by("grain", "endpoint").agg(pl.len().alias("rows"), pl.col("tweet_id").n_unique().alias("posts")).sort(
    "grain"
).with_columns(megabytes=pl.lit(round(tidy.estimated_size("mb"))))

# %% [markdown]
# **Compare.** Tweets are the units, exactly as with the Engagement API (notebook 02). The hourly counts summed
# over each post's whole life give the same lift as notebook 06's export of the same 150 tweets.

# %%
wide = per_tweet(tidy, metadata=tweets, rates=["engagement_rate", "like_rate"])
result_v2 = compare(wide, metric="engagement_rate", by="variant", control="A")
result_v2.headlines()

# %%
result_v2.chart()

# %% [markdown]
# **The same hours through both APIs.** The sandbox's Engagement API and its v2 routes read one world: an hour of
# a post has one value, whichever API you ask.

# %%
from engagement_lab import EngagementQuery, fetch

engagement_archive = tempfile.mkdtemp()
fetch(
    EngagementQuery(
        endpoint="historical",
        tweet_ids=plan[0].ids[:5],
        engagement_types=["impressions", "favorites"],
        groupings="hourly",
        start=end - timedelta(days=2),
        end=end,
    ),
    credentials=Credentials.from_mapping(sandbox.info),
    out=engagement_archive,
    base_url=sandbox.base_url,
    owners=dict.fromkeys(plan[0].ids[:5], "acme"),
    now=now,
    progress=False,
)
keys = ["tweet_id", "engagement_type", "day", "hour"]
old = load_archive(engagement_archive, backend="polars").filter(pl.col("grain") == "hour")
both = old.select(*keys, pl.col("value").alias("engagement_api")).join(
    tidy.select(*keys, pl.col("value").alias("x_api_v2")), on=keys
)
both.height, both.filter(pl.col("engagement_api") != pl.col("x_api_v2")).height

# %%
sandbox.stop()

# %% [markdown]
# ## Answer
# **Does X API v2 give the same answer as the Engagement API?** For the same posts and hours, yes, value for value
# (the last check: no hour differs). On `acme`'s 150 campaign tweets the lift is the same as from notebook 06's
# export, about +10% and not clear at the 5% level; it differs from notebook 02's +11% because the other account's
# 70 tweets are not here (a user token reads only its own posts).
#
# *Caveat*: a fetch window must cover each post from its first hour, or its sums are partial; and hourly data for
# a whole campaign are millions of rows, so use `compact`/`scan` or a coarser granularity as the data grow.
