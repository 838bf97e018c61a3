"""The main job, end to end on the embedded sandbox: serve, fetch through the client, load, summarise."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import polars as pl

from . import sources
from .api import Credentials, FetchResult, fetch_analytics
from .load import per_tweet
from .report.render import render_report
from .sandbox import Sandbox
from .sources.engagement.fetch import fetch
from .sources.engagement.query import EngagementQuery
from .sources.x_v2.query import AnalyticsQuery
from .stats import compare, plan
from .timeutil import parse_time

__all__ = ["DemoRun", "run_demo"]


@dataclass(frozen=True)
class DemoRun:
    """What the demo produced."""

    fetch: FetchResult
    per_tweet: pl.DataFrame
    summary: pl.DataFrame
    out: Path
    report: Path | None
    """The HTML report, or None when the run was asked for none."""


def _summary(wide: pl.DataFrame) -> pl.DataFrame:
    """Per campaign and variant: tweets, impressions, engagements and the ratio-of-sums engagement rate."""
    return (
        wide.filter(pl.col("campaign").is_not_null() & (pl.col("campaign") != ""))
        .group_by("campaign", "variant")
        .agg(
            pl.len().alias("tweets"),
            pl.col("impressions").sum(),
            pl.col("engagements").sum(),
        )
        .with_columns((pl.col("engagements") / pl.col("impressions")).round(4).alias("engagement_rate"))
        .sort("campaign", "variant")
    )


def _engagement_queries(public: pl.DataFrame, now: datetime) -> list[EngagementQuery]:
    """Lifetime totals of every public tweet, and 60 days of hourly history for the A/B campaign."""
    ab_ids = public.filter(pl.col("campaign") == "spring_launch")["tweet_id"].to_list()
    return [
        EngagementQuery("totals", public["tweet_id"].to_list(), "all", "per_tweet"),
        EngagementQuery(
            "historical",
            ab_ids,
            ["impressions", "engagements", "favorites", "retweets", "replies", "url_clicks"],
            "hourly",
            start=now - timedelta(days=60),
            end=now,
        ),
    ]


def _v2_query(owners: dict[str, str], now: datetime) -> AnalyticsQuery:
    """Every owned tweet's totals over the last 130 days (the world's tweets are at most 120 days old)."""
    end = now.replace(minute=0, second=0, microsecond=0)
    return AnalyticsQuery(list(owners), end - timedelta(days=130), end, granularity="total")


def run_demo(
    out: Path,
    *,
    seed: int = 7,
    echo: Callable[[str], None] = print,
    progress: bool = True,
    api: str = "engagement",
    report: bool = True,
) -> DemoRun:
    """Serve the sandbox on loopback, fetch totals for every tweet and hourly history for the A/B campaign, load
    the archive, compare the campaigns' variants and render the HTML report. Writes ``out/archive``,
    ``out/per_tweet.csv``, ``out/tweets.csv`` and ``out/report.html``.

    ``api="x-v2"`` runs the same analysis through X API v2 post analytics: each owned tweet's totals since before
    the world's first tweet (v2 serves only the user's own posts, so the other account's tweets are left out).
    ``report=False`` skips the report (its kernel is most of the run's time)."""
    api = sources.get(api, "fetch").name
    out.mkdir(parents=True, exist_ok=True)
    with Sandbox(seed=seed, rate_limit_per_minute=600) as sandbox:
        info = sandbox.info
        echo(f"sandbox serving at {info['base_url']} (seed {seed}, now {info['now']})")
        text = httpx.get(f"{info['base_url']}/sandbox/tweets.csv", timeout=30).text
        metadata = pl.read_csv(io.StringIO(text), schema_overrides={"tweet_id": pl.String}, infer_schema_length=0)
        owned = {a["handle"] for a in info["accounts"] if a["owned"]}
        public = metadata.filter(pl.col("status") != "protected")
        owners = {r["tweet_id"]: r["account"] for r in public.iter_rows(named=True) if r["account"] in owned}
        now = parse_time(info["now"])
        common: dict[str, Any] = {
            "credentials": Credentials.from_mapping(info),
            "out": out / "archive",
            "owners": owners,
            "base_url": info["base_url"],
            "now": now,
            "progress": progress,
        }
        if api == "x-v2":
            echo(f"X API v2 post analytics for the {len(owners)} tweets the authorised accounts own")
            result = fetch_analytics(_v2_query(owners, now), **common)
        else:
            result = fetch(_engagement_queries(public, now), **common)
    echo(result.summary())
    tidy = result.load(backend="polars")
    wide = per_tweet(tidy, metadata=metadata, rates=["engagement_rate"])
    assert isinstance(wide, pl.DataFrame)
    wide.write_csv(out / "per_tweet.csv")
    summary = _summary(wide)
    echo(f"\nloaded {tidy.height:,} tidy rows; {wide.height} tweets -> {out / 'per_tweet.csv'}\n")
    echo(str(summary))
    metadata.write_csv(out / "tweets.csv")
    html = None
    if report:
        html = render_report(
            archive=out / "archive",
            metadata=out / "tweets.csv",
            by="variant",
            control="A",
            where="campaign=spring_launch",
            title="Spring launch: variant B against variant A (engagement rate)",
            out=out / "report.html",
        )
    echo("\nverdicts (delta method with leverage-corrected variances, tweets as the units; Holm):")
    for campaign in ("spring_launch", "always_on"):
        campaign_tweets = wide.filter(pl.col("campaign") == campaign)
        comparison = compare(campaign_tweets, metric="engagement_rate", by="variant", control="A")
        naive = compare(campaign_tweets, metric="engagement_rate", by="variant", control="A", method="naive-z").rows[0]
        row = comparison.rows[0]
        echo(f"  {campaign}: {comparison.verdicts()[0]}")
        echo(f"    (the naive impression-level z-test would say p = {naive.p_value:.2g}; design effect {row.deff:.1f})")
        planned = plan(campaign_tweets.filter(pl.col("variant") == "A"), metric="engagement_rate", lift=0.1)
        echo(
            f"    (to tell a +10% lift 80% of the time: about {math.ceil(planned.tweets_per_arm):,} tweets per arm, "
            f"resampled from the {planned.history} A tweets)"
        )
    if html is not None:
        shown = html.relative_to(Path.cwd()) if html.is_relative_to(Path.cwd()) else html
        echo(f"\nreport: {shown}")
    return DemoRun(result, wide, summary, out, html)
