"""Write the curated notebooks and the report template from the cell lists below (then `make notebooks`
executes them). Kept in the repo so a notebook's source is reviewable as plain Python."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
KERNEL = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}


def notebook(cells: list[tuple[str, str]], *, parameters: bool = False) -> nbformat.NotebookNode:
    nb = new_notebook(metadata=dict(KERNEL))
    for kind, source in cells:
        cell = new_markdown_cell(source.strip()) if kind == "md" else new_code_cell(source.strip())
        if kind == "params":
            cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    return nb


SETUP = """
import polars as pl
from engagement_lab import compare, enable_offline, per_tweet, summarize
from engagement_lab.datasets import load_sample

enable_offline()  # charts as static SVG: they render without internet
pl.Config.set_tbl_rows(12)
sample = load_sample(backend="polars", path="../data/sample")
tweets = per_tweet(sample.tidy, metadata=sample.metadata, rates=["engagement_rate", "like_rate"])
tweets.shape
"""

REPORT = [
    ("params", """
archive = "../data/sample/archive"
metadata = "../data/sample/tweets.csv"
metric = "engagement_rate"
by = "variant"
control = "A"
where_column = "campaign"
where_value = "spring_launch"
alpha = 0.05
correction = "holm"
adjust_for = ""
title = "Spring launch: variant B against variant A"
"""),
    ("code", """
from html import escape

import polars as pl
from IPython.display import HTML, Markdown, display

from engagement_lab import compare, enable_offline, load_archive, per_tweet, summarize
from engagement_lab.timeseries import posting_time
from engagement_lab.viz import distribution_plot

enable_offline()
tidy = load_archive(archive, backend="polars")
tweets = per_tweet(tidy, metadata=metadata, rates=[metric] if metric.endswith(("rate", "ctr")) else [])
if where_column:
    tweets = tweets.filter(pl.col(where_column) == where_value)
confounders = [c.strip() for c in adjust_for.split(",") if c.strip()]
if "created_at" in tweets.columns:
    tweets = posting_time(tweets)  # hour_of_day and weekday, for adjusting
result = compare(tweets, metric=metric, by=by, control=control or None, alpha=alpha, correction=correction,
                 adjust_for=confounders or None)
# user text (title, group labels inside verdicts) goes in as escaped HTML, never as Markdown that could carry markup
display(HTML(f"<h1>{escape(title)}</h1>"))
display(HTML("<ul>" + "".join(f"<li><strong>{escape(line)}</strong></li>" for line in result.verdicts()) + "</ul>"))
"""),
    ("code", """
display(Markdown("## The comparison"))
result
"""),
    ("code", "result.chart()"),
    ("code", """
display(Markdown("## Each group"))
summary = summarize(tweets, metric=metric, by=by, alpha=alpha)
display(summary)
summary.chart()
"""),
    ("code", """
display(Markdown("## Every tweet"))
distribution_plot(tweets, metric=metric, by=by)
"""),
    ("code", """
display(Markdown("## A Bayesian reading\\nChance that each group beats the control; expected loss of choosing it."))
bayes = result.bayesian(backend="polars")
bayes.select("treatment", "chance_to_win", "risk_treatment", "credible_low", "credible_high").to_pandas()
"""),
    ("code", """
rows = result.rows
n_tweets = rows[0].n_control + sum(r.n_treatment for r in rows)
plain = result.unadjusted or result
effects = ", ".join(f"{r.deff:.1f}" for r in plain.rows)
fetched = f"{tidy['retrieved_at'].min():%Y-%m-%d %H:%M}"
adjustment = (
    f"The lifts are adjusted for {', '.join(result.adjusted_for)}: rate ratios from a Poisson model of {metric} "
    "counts with an exposure offset and robust (HC3) errors, holding those fixed (unmeasured confounders are not). "
    if result.adjusted_for
    else "The lifts are not adjusted for anything: they are causal only if the groups were randomised. "
)
display(HTML(
    "<h2>How this was computed</h2><p>"
    + escape(
        f"Tweets are the units: {n_tweets} tweets, rates as ratios of sums, variances by the delta method "
        f"(Welch reference), {correction} correction. Design effect vs. the naive impression-level test: {effects} "
        "(a naive test would be that many times too confident). "
        + adjustment
        + f"Data: {tidy.height:,} tidy rows fetched {fetched} UTC."
    )
    + "</p>"
))
"""),
]

NOTEBOOKS = {
    "01_quickstart": [
        ("md", "# Quickstart: from credentials to a first comparison\nThe embedded sandbox stands in for the Engagement API (the real one is enterprise-only). Everything below runs offline."),
        ("code", """
import io
import tempfile

import httpx
import polars as pl

from engagement_lab import Credentials, EngagementQuery, Sandbox, compare, enable_offline, fetch, per_tweet

enable_offline()
sandbox = Sandbox(seed=7).start()        # a real HTTP server on loopback, with a seeded world
credentials = Credentials.from_mapping(sandbox.info)   # for the real API: Credentials.load() reads ENGAGEMENT_*
credentials
"""),
        ("code", """
csv = httpx.get(f"{sandbox.base_url}/sandbox/tweets.csv").text
metadata = pl.read_csv(io.StringIO(csv), schema_overrides={"tweet_id": pl.String})   # ids stay strings
campaign = metadata.filter(pl.col("campaign") == "spring_launch")
owners = dict(zip(campaign["tweet_id"], campaign["account"]))
campaign.select("tweet_id", "account", "content_type", "variant").head(3)
"""),
        ("code", """
query = EngagementQuery("totals", campaign["tweet_id"].to_list(), ["impressions", "engagements", "favorites"], "per_tweet")
plan = query.plan(now=sandbox.app.world.now)
len(plan), plan[0].to_body()["engagement_types"]
"""),
        ("code", """
archive = tempfile.mkdtemp()
result = fetch(query, credentials=credentials, owners=owners, out=archive, base_url=sandbox.base_url,
               now=sandbox.app.world.now, progress=False)
result.ok, result.requests, result.archived
"""),
        ("code", """
tidy = result.load(backend="polars")
tweets = per_tweet(tidy, metadata=metadata, rates=["engagement_rate"])
tweets.select("tweet_id", "variant", "impressions", "engagements", "engagement_rate").head(3)
"""),
        ("code", """
comparison = compare(tweets, metric="engagement_rate", by="variant", control="A")
comparison
"""),
        ("code", "comparison.chart()"),
        ("code", "sandbox.stop()"),
    ],
    "02_campaign_ab_test": [
        ("md", "# The A/B campaign: naive vs. correct\nThe spring launch randomised variant A or B across tweets. The world's true lift of B on engagement rate is +20%."),
        ("code", SETUP),
        ("code", """
ab = tweets.filter(pl.col("campaign") == "spring_launch")
ab.group_by("variant").agg(pl.len().alias("tweets"), pl.col("impressions").sum(), pl.col("engagements").sum()).sort("variant")
"""),
        ("md", "## Naive vs. correct\nPooling impressions and running a two-proportion z-test treats every impression as independent. They are not: each tweet has its own pull, so impressions cluster within tweets. The delta method treats tweets as the units. The **design effect** says how many times too confident the naive test is."),
        ("code", """
naive = compare(ab, metric="engagement_rate", by="variant", control="A", method="naive-z")
correct = compare(ab, metric="engagement_rate", by="variant", control="A")
pl.concat([naive.to_frame(backend="polars"), correct.to_frame(backend="polars")]).select(
    "method", "rel_lift", "abs_ci_low", "abs_ci_high", "p_value", "deff")
"""),
        ("code", "correct"),
        ("code", "correct.chart()"),
        ("md", "## Bayesian view\nA flat prior, and a sceptical N(0, 0.3²) prior on the lift."),
        ("code", """
pl.concat([correct.bayesian(backend="polars"), correct.bayesian(prior_sd=0.3, backend="polars")]).select(
    "lift_mean", "lift_sd", "chance_to_win", "risk_treatment", "credible_low", "credible_high")
"""),
        ("md", "## Was the randomisation honoured? And what would the next test need?"),
        ("code", """
from engagement_lab.stats import GroupStats, group_stats, mde, sample_size_ratio, srm_check
from engagement_lab.metrics import NAMED_METRICS

counts = dict(ab.group_by("variant").len().sort("variant").iter_rows())
pilot = group_stats(ab.filter(pl.col("variant") == "A"), NAMED_METRICS["engagement_rate"])["all"]
srm = srm_check(counts)
{"srm_p": round(srm.p_value, 3), "tweets_per_arm_for_+10%": round(sample_size_ratio(pilot, 0.10)),
 "mde_with_110_per_arm": round(mde(pilot, 110).relative, 3)}
"""),
    ],
    "03_content_type_benchmark": [
        ("md", """# Which kind of tweet works? Content types, adjusted for what travels with them
Content types are never randomised. In this sandbox world (`World(seed=7, confounded=True)`) the big, engaging
account posts mostly videos and polls, the support account mostly text and links, and videos and polls go out at
the evening peak and at weekends, when every tweet does better. A raw comparison mixes all of that into the
"content effect". Holding account, hour and weekday fixed recovers the truth, which this world knows."""),
        ("code", """
import tempfile

import polars as pl

from engagement_lab import Credentials, EngagementQuery, compare, enable_offline, fetch, per_tweet
from engagement_lab.sandbox import SandboxApp, SandboxTransport, World
from engagement_lab.stats import balance
from engagement_lab.timeseries import posting_time
from engagement_lab.viz import balance_plot

enable_offline()
pl.Config.set_tbl_rows(12)
world = World(seed=7, confounded=True)
app = SandboxApp(world, rate_limit_per_minute=100_000)      # in-process: no server needed
meta = pl.DataFrame(world.metadata()).filter(
    pl.col("status") == "ok", pl.col("campaign") == "", pl.col("account").is_in(["acme", "acme_support"]))
query = EngagementQuery("totals", meta["tweet_id"].to_list(), ["impressions", "engagements"], "per_tweet")
with tempfile.TemporaryDirectory() as archive:
    fetched = fetch(query, credentials=Credentials.from_mapping(app.info("https://sandbox.local")), out=archive,
                    owners=dict(zip(meta["tweet_id"], meta["account"])), base_url="https://sandbox.local",
                    transport=SandboxTransport(app), now=world.now, progress=False)
    tweets = posting_time(per_tweet(fetched.load(backend="polars"), metadata=meta, rates=["engagement_rate"]))
tweets.group_by("account", "content_type").len().pivot(on="content_type", index="account", values="len").select(
    "account", "text", "image", "video", "link", "poll").sort("account")
"""),
        ("md", "## Why a raw comparison misleads: the groups differ in account and posting time\nStandardised mean differences against text tweets; past 0.1 a covariate is unbalanced."),
        ("code", """
covariates = ["account", "hour_of_day", "weekday"]
table = balance(tweets, by="content_type", covariates=covariates, control="text")
table.group_by("covariate", "group").agg(largest_abs_smd=pl.col("smd").abs().max().round(2)).sort(
    "covariate", "group").pivot(on="group", index="covariate", values="largest_abs_smd")
"""),
        ("code", "balance_plot(table)"),
        ("md", "## Raw against adjusted, against the truth\nRate ratios against text: a Poisson model of engagements with an impressions offset and robust (HC3) errors, holding account, hour and weekday fixed."),
        ("code", """
adjusted = compare(tweets, metric="engagement_rate", by="content_type", control="text", adjust_for=covariates)
truth = world.ground_truth()["confounded"]["true_rate_ratio_vs_text"]
adjusted.side_by_side(backend="polars").select(
    "treatment",
    pl.col("unadjusted_lift").round(3),
    pl.col("adjusted_lift").round(3),
    pl.col("adjusted_ci_low").round(3),
    pl.col("adjusted_ci_high").round(3),
    true_lift=(pl.col("treatment").replace_strict(truth) - 1).round(3),
)
"""),
        ("code", "adjusted.chart()"),
        ("code", """
ranking = adjusted.side_by_side(backend="polars").select(
    "treatment",
    raw_rank=pl.col("unadjusted_lift").rank(descending=True).cast(pl.Int8),
    adjusted_rank=pl.col("adjusted_lift").rank(descending=True).cast(pl.Int8),
    true_rank=pl.col("treatment").replace_strict(truth).rank(descending=True).cast(pl.Int8),
).sort("true_rank")
ranking
"""),
        ("code", "adjusted.verdicts()"),
        ("md", """The raw comparison overstates images, videos and polls two to three times over, because they come from the
engaging account at the best hours. Adjusted, the estimates land on the true ratios. It is still an association: only
the confounders that were measured and named are held fixed."""),
    ],
    "04_time_series_and_thresholds": [
        ("md", "# How engagement unfolds after posting\nHourly history of the owned accounts' tweets (last 28 days), aligned on tweet age."),
        ("code", SETUP),
        ("code", """
from engagement_lab.timeseries import by_age, half_life, hour_weekday_profile, time_to_threshold
from engagement_lab.viz import age_curves_plot, heatmap_plot

curves = by_age(sample.tidy, sample.metadata, metric="impressions", max_hours=24 * 7)
curves = curves.join(sample.metadata.select("tweet_id", "content_type"), on="tweet_id")
age_curves_plot(curves, group="content_type", max_hours=72)
"""),
        ("code", """
lives = half_life(sample.tidy, sample.metadata).join(sample.metadata.select("tweet_id", "content_type"), on="tweet_id")
lives.group_by("content_type").agg(pl.col("half_life_hours").median(), pl.len().alias("tweets")).sort("content_type")
"""),
        ("code", "heatmap_plot(hour_weekday_profile(sample.tidy, metric='impressions', tz='America/New_York'))"),
        ("md", "## Time to 100 likes\nThe first hour at whose end a tweet's running favorites reached 100 (null: not within the data)."),
        ("code", """
reached = time_to_threshold(sample.tidy, sample.metadata, metric="favorites", threshold=100)
reached.drop_nulls("hours_to_threshold").sort("hours_to_threshold").head(5)
"""),
        ("code", "reached.select(pl.col('hours_to_threshold').is_not_null().sum().alias('tweets_reaching_100'), pl.len().alias('tweets'))"),
    ],
    "05_planning_and_peeking": [
        ("md", "# Planning the next test, and peeking done right"),
        ("code", SETUP),
        ("code", """
from engagement_lab.metrics import NAMED_METRICS
from engagement_lab.stats import group_stats, mde, power_curve
from engagement_lab.viz import power_curve_plot

pilot = group_stats(tweets.filter(pl.col("content_type") == "image"), NAMED_METRICS["engagement_rate"])["all"]
curve = power_curve(pilot, [0.05, 0.1, 0.15, 0.2, 0.3, 0.5])
power_curve_plot(curve)
"""),
        ("code", "pl.DataFrame([{'tweets_per_arm': n, 'relative_mde': round(mde(pilot, n).relative, 3)} for n in (50, 100, 200, 400, 800)])"),
        ("md", "## Peeking\nWatching a test every day and stopping at the first p < 0.05 inflates false positives. Always-valid confidence sequences stay valid however often you look. Below: the A/B campaign replayed in posting order, looking after every 20 tweets."),
        ("code", """
ab = tweets.filter(pl.col("campaign") == "spring_launch").join(sample.metadata.select("tweet_id", "created_at"), on="tweet_id").sort("created_at")
looks = []
for n in range(40, ab.height + 1, 20):
    seen = compare(ab.head(n), metric="engagement_rate", by="variant", control="A")
    row, seq = seen.rows[0], seen.sequential(backend="polars").row(0, named=True)
    looks.append({"tweets": n, "lift": round(row.rel_lift, 3), "fixed_low": round(row.rel_ci_low, 3),
                  "fixed_p": round(row.p_value, 3), "sequence_low": round(seq["cs_low"], 3), "always_valid_p": round(seq["always_valid_p"], 3)})
pl.DataFrame(looks)
"""),
    ],
    "06_other_sources": [
        ("md", "# The same analysis from other sources\nAn analytics.twitter.com tweet-activity export and an X API v2 lookup land in the same tidy schema."),
        ("code", """
import polars as pl
from engagement_lab import compare, load_analytics_csv, load_v2, per_tweet
from engagement_lab.load import read_metadata

metadata = read_metadata("../data/sample/tweets.csv")
export = load_analytics_csv("../data/sample/tweet_activity_metrics_acme_en.csv", backend="polars")
export.head(3)
"""),
        ("code", """
from_csv = per_tweet(export, metadata=metadata, rates=["engagement_rate"])
compare(from_csv.filter(pl.col("campaign") == "spring_launch"), metric="engagement_rate", by="variant", control="A")
"""),
        ("code", """
v2 = load_v2("../data/sample/v2_tweets.json", backend="polars")
v2.group_by("source", "engagement_type").len().sort("source", "engagement_type")
"""),
        ("code", """
from_v2 = per_tweet(v2, metadata=metadata)
compare(from_v2.filter(pl.col("campaign") == "spring_launch"), metric="like_rate", by="variant", control="A")
"""),
    ],
}


def main() -> None:
    out = ROOT / "notebooks"
    for name, cells in NOTEBOOKS.items():
        nbformat.write(notebook(cells), out / f"{name}.ipynb")
    nbformat.write(notebook(REPORT), ROOT / "engagement_lab" / "report_template.ipynb")


if __name__ == "__main__":
    main()
