"""Bundled sample data: an archive fetched from the sandbox through the real client, plus tweet metadata.

``data/sample/`` holds ``archive/`` (totals for every public tweet; hourly history of the owned accounts'
tweets over the last 28 days), ``tweets.csv`` and ``ground_truth.json``. ``write_sample`` regenerates it
byte for byte: the world is seeded, its clock fixed, requests run one at a time in plan order, and archive
timestamps come from the fetch's fixed clock.
"""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl

from .api import Credentials, FetchResult
from .api.pacing import SystemClock
from .errors import DataError
from .load import load_archive, read_metadata
from .load.archive_format import LOCK
from .load.frames import Backend, to_frame
from .sandbox import SandboxApp, SandboxTransport, World
from .sources.engagement.fetch import fetch
from .sources.engagement.query import EngagementQuery

__all__ = ["SAMPLE_DIR", "Sample", "load_sample", "sample", "write_sample"]

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample"
HOURLY_METRICS = ("impressions", "engagements", "favorites")


class _FixedClock(SystemClock):
    """Sleeps for real (there is nothing to wait for) but reports a fixed time, for reproducible archives."""

    def __init__(self, at: float) -> None:
        self.at = at

    def time(self) -> float:
        return self.at


@dataclass(frozen=True)
class Sample:
    """The sample: tidy frame (with provenance), per-tweet metadata and the world's ground truth.

    ``path`` is the folder it was read from, or ``None`` for a sample fetched in memory (:func:`sample`)."""

    tidy: Any
    metadata: Any
    ground_truth: dict[str, Any]
    path: Path | None


def write_sample(out: str | Path = SAMPLE_DIR, *, seed: int = 7) -> FetchResult:
    """Fetch the sample from an in-process sandbox into ``out`` (replacing what is there)."""
    out = Path(out)
    if (out / "archive").exists():
        shutil.rmtree(out / "archive")
    out.mkdir(parents=True, exist_ok=True)
    world = World(seed)
    app = SandboxApp(world, rate_limit_per_minute=1_000_000)
    rows = world.metadata()
    with open(out / "tweets.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    (out / "ground_truth.json").write_text(json.dumps(world.ground_truth(), indent=2, sort_keys=True) + "\n")
    _write_other_sources(world, out)
    public = [t for t in world.tweets if t.status != "protected"]
    owners = {t.tweet_id: t.account for t in public if world.accounts_by_handle[t.account].owned}
    queries = [
        EngagementQuery("totals", [t.tweet_id for t in public], "all", "per_tweet"),
        EngagementQuery(
            "historical",
            list(owners),
            list(HOURLY_METRICS),
            "hourly",
            start=world.now - timedelta(days=28),
            end=world.now,
        ),
    ]
    result = fetch(
        queries,
        credentials=Credentials.from_mapping(app.info("https://sandbox.local")),
        out=out / "archive",
        owners=owners,
        base_url="https://sandbox.local",
        transport=SandboxTransport(app),
        now=world.now,
        concurrency=1,
        clock=_FixedClock(world.now.timestamp()),
        progress=False,
    )
    (out / "archive" / LOCK).unlink(missing_ok=True)  # the fetch is over: a shipped sample carries no writer's pid
    return result


_CSV_COLUMNS = (
    ("impressions", "impressions"),
    ("engagements", "engagements"),
    ("retweets", "retweets"),
    ("replies", "replies"),
    ("likes", "favorites"),
    ("user profile clicks", "user_profile_clicks"),
    ("url clicks", "url_clicks"),
    ("hashtag clicks", "hashtag_clicks"),
    ("detail expands", "detail_expands"),
    ("permalink clicks", "permalink_clicks"),
    ("app opens", "app_opens"),
    ("app installs", "app_install_attempts"),
    ("follows", "user_follows"),
    ("email tweet", "email_tweet"),
    ("media views", "media_views"),
    ("media engagements", "media_engagements"),
)


def _lifetime(world: World, tweet: Any) -> dict[str, int]:
    from .sandbox.world import METRICS

    hours = int((world.now - tweet.created_at.replace(minute=0, second=0, microsecond=0)) / timedelta(hours=1))
    totals = world.series(tweet)[:, :hours].sum(axis=1)
    return {m: int(v) for m, v in zip(METRICS, totals, strict=True)}


def _write_other_sources(world: World, out: Path) -> None:
    """The same world as an analytics.twitter.com tweet-activity export and an X API v2 lookup response."""
    acme = [
        t
        for t in world.tweets
        if t.account == "acme" and t.status == "ok" and world.now - t.created_at < timedelta(days=90)
    ]
    with open(out / "tweet_activity_metrics_acme_en.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(
            ["Tweet id", "Tweet permalink", "Tweet text", "time", *(c for c, _ in _CSV_COLUMNS), "promoted impressions"]
        )
        for t in acme:
            totals = _lifetime(world, t)
            counts = [f"{totals[m]}.0" if i < 10 else str(totals[m]) for i, (_, m) in enumerate(_CSV_COLUMNS)]
            text = f"{t.content_type} post #{t.index}" + (f" #{' #'.join(t.hashtags)}" if t.hashtags else "")
            stamp = t.created_at.strftime("%Y-%m-%d %H:%M +0000")
            writer.writerow([t.tweet_id, f"https://twitter.com/acme/status/{t.tweet_id}", text, stamp, *counts, "-"])
    recent = [t for t in acme if world.now - t.created_at < timedelta(days=30)]
    data = []
    for t in recent:
        c = _lifetime(world, t)
        public = {
            "retweet_count": c["retweets"],
            "reply_count": c["replies"],
            "like_count": c["favorites"],
            "quote_count": c["quote_tweets"],
            "impression_count": c["impressions"],
            "bookmark_count": 0,
        }
        organic = {
            "impression_count": c["impressions"],
            "like_count": c["favorites"],
            "reply_count": c["replies"],
            "retweet_count": c["retweets"],
            "url_link_clicks": c["url_clicks"],
            "user_profile_clicks": c["user_profile_clicks"],
        }
        data.append(
            {
                "id": t.tweet_id,
                "text": f"{t.content_type} post #{t.index}",
                "public_metrics": public,
                "organic_metrics": organic,
            }
        )
    (out / "v2_tweets.json").write_text(json.dumps({"data": data}, indent=1) + "\n")


def load_sample(*, backend: Backend = "pandas", path: str | Path = SAMPLE_DIR) -> Sample:
    """The bundled sample as frames of the chosen backend."""
    root = Path(path)
    if not (root / "archive").is_dir():
        raise DataError(f"no sample data at {root}; create it with `engagement-lab sample-data --out {root}`")
    tidy = load_archive(root / "archive", backend=backend)
    metadata = read_metadata(root / "tweets.csv")
    meta = to_frame(metadata.to_arrow(), backend) if backend == "pandas" else metadata
    truth = json.loads((root / "ground_truth.json").read_text())
    assert isinstance(metadata, pl.DataFrame)
    return Sample(tidy, meta, truth, root)


def sample(*, seed: int = 7, confounded: bool = False, backend: Backend = "pandas") -> Sample:
    """Lifetime totals of every public tweet of a fresh sandbox world, fetched in process (no server, no files kept).

    Unlike :func:`load_sample` (the bundled files, which also hold hourly history), this builds the world it is
    asked for, e.g. the *confounded* one, where content types are not randomised: the big, engaging account posts
    mostly videos and polls at the best hours, so a raw comparison of content types is biased and
    ``ground_truth()["confounded"]`` holds the true rate ratios an adjusted comparison should recover.

    Parameters
    ----------
    seed : int
        The world's seed (the bundled sample is seed 7).
    confounded : bool
        Build the confounded world (see :class:`engagement_lab.sandbox.World`).
    backend : {"pandas", "polars"}

    Returns
    -------
    Sample
        ``tidy`` (one row per tweet and metric, from the Engagement API's totals endpoint, fetched through the
        real client), ``metadata`` (one row per tweet, ids as strings), ``ground_truth`` and ``path=None``.

    Examples
    --------
    >>> world = sample(confounded=True, backend="polars")
    >>> sorted(world.ground_truth["confounded"]["true_rate_ratio_vs_text"])
    ['image', 'link', 'poll', 'text', 'video']
    """
    import tempfile

    from .errors import ConfigError, check_choice

    check_choice("backend", backend, ("pandas", "polars"), ConfigError)
    if not isinstance(confounded, bool):
        raise ConfigError(f"confounded must be True or False, got {confounded!r}")
    world = World(seed, confounded=confounded)
    app = SandboxApp(world, rate_limit_per_minute=1_000_000)
    rows = world.metadata()
    # protected tweets are refused by the API; deleted ones answer with nothing: ask only for what can be counted
    public = [t for t in world.tweets if t.status == "ok"]
    query = EngagementQuery(
        "totals", [t.tweet_id for t in public], ["impressions", "engagements", "favorites"], "per_tweet"
    )
    with tempfile.TemporaryDirectory() as tmp:
        result = fetch(
            query,
            credentials=Credentials.from_mapping(app.info("https://sandbox.local")),
            out=Path(tmp) / "archive",
            # the owned accounts' tweets with their user tokens, the others' with the app's (as write_sample)
            owners={t.tweet_id: t.account for t in public if world.accounts_by_handle[t.account].owned},
            base_url="https://sandbox.local",
            transport=SandboxTransport(app),
            now=world.now,
            clock=_FixedClock(world.now.timestamp()),  # retrieved_at is the world's time: the same every run
            progress=False,
        )
        if not result.ok:  # an in-process world that fails to answer is a bug, not a partial sample
            raise DataError(f"the sandbox world (seed={seed}) did not answer every request: {result.errors}")
        tidy = load_archive(Path(tmp) / "archive", backend=backend)
        # the same metadata file and reader as the bundled sample, so both give the same columns and types
        with open(Path(tmp) / "tweets.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        metadata = read_metadata(Path(tmp) / "tweets.csv")
    assert isinstance(metadata, pl.DataFrame)
    meta = to_frame(metadata.to_arrow(), backend) if backend == "pandas" else metadata
    return Sample(tidy, meta, world.ground_truth(), None)
