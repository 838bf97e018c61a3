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

# %%
import tempfile
from datetime import timedelta

import httpx
import polars as pl

from engagement_lab import AnalyticsQuery, Credentials, Sandbox, compare, fetch_analytics, load_archive, per_tweet
from engagement_lab.api import AccountTokens, PKCEFlow, Secret
from engagement_lab.sources.x_v2.catalog import TO_ENGAGEMENT_NAMES

sandbox = Sandbox(seed=7).start()
app_only = Credentials.from_mapping({**sandbox.info, "accounts": []})  # the app's keys, no user tokens yet
now = sandbox.app.world.now
app_only.oauth2_client_id

# %% [markdown]
# **Authorise a user** (Authorization Code with PKCE). `engagement-lab auth oauth2 --save creds.json` does this from a
# terminal: it prints the consent URL and catches the redirect on a loopback port. Here the "browser" is one
# HTTP call to the sandbox's consent page, which approves at once and redirects with the code.

# %%
flow = PKCEFlow(app_only.oauth2_client_id, "http://127.0.0.1:8765/callback", base_url=sandbox.base_url)
landed = httpx.get(flow.url).headers["location"]  # where the browser would be sent
token = flow.exchange(landed)
credentials = app_only.with_account(AccountTokens("acme", Secret(""), Secret(""), token))
token.scope, token.refresh_token is not None

# %% [markdown]
# **Plan and fetch.** Ids go out in batches of 100, the range in windows of at most 31 days (the API documents no
# limit), each user's 300-per-15-minutes budget is read from the `x-rate-limit-*` headers, and every answer is
# archived before the next step: rerunning the cell fetches nothing twice.

# %%
tweets = pl.read_csv(httpx.get(f"{sandbox.base_url}/sandbox/tweets.csv").content, schema_overrides={"tweet_id": pl.String})
campaign = tweets.filter((pl.col("campaign") == "spring_launch") & (pl.col("account") == "acme") & (pl.col("status") == "ok"))
end = now.replace(minute=0, second=0, microsecond=0)
query = AnalyticsQuery(campaign["tweet_id"].to_list(), end - timedelta(days=60), end, granularity="hourly")
plan = query.plan(now=now)
len(plan), plan[0].params()["granularity"], plan[0].params()["start_time"]

# %%
archive = tempfile.mkdtemp()
result = fetch_analytics(query, credentials=credentials, out=archive, base_url=sandbox.base_url, now=now, progress=False)
print(result.summary().replace(archive, "ARCHIVE"))

# %% [markdown]
# **Load.** Each hourly bucket is a tidy row; `likes` becomes `favorites` so named rates, rules and reports read
# v2 data unchanged. Names outside the v2 spec's enum keep their own names and are reported, never merged.

# %%
TO_ENGAGEMENT_NAMES

# %%
tidy = load_archive(archive, backend="polars")
tidy.group_by("grain", "endpoint").agg(pl.len().alias("rows"), pl.col("tweet_id").n_unique().alias("posts")).sort("grain")

# %% [markdown]
# **Compare.** Tweets are the units, exactly as with the Engagement API (notebook 02).

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
    EngagementQuery("historical", plan[0].ids[:5], ["impressions", "favorites"], "hourly", start=end - timedelta(days=2), end=end),
    credentials=Credentials.from_mapping(sandbox.info), out=engagement_archive, base_url=sandbox.base_url,
    owners=dict.fromkeys(plan[0].ids[:5], "acme"), now=now, progress=False,
)
keys = ["tweet_id", "engagement_type", "day", "hour"]
old = load_archive(engagement_archive, backend="polars").filter(pl.col("grain") == "hour")
both = old.select(*keys, pl.col("value").alias("engagement_api")).join(
    tidy.select(*keys, pl.col("value").alias("x_api_v2")), on=keys
)
both.height, both.filter(pl.col("engagement_api") != pl.col("x_api_v2")).height

# %%
sandbox.stop()
