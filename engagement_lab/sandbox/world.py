"""A seeded synthetic world of accounts and tweets whose true effects are known.

Every count is a pure function of ``(seed, tweet, hour)``: each tweet's hourly series over its active life
is drawn once from a generator seeded by ``(seed, tweet index)``, so any window or subset of a request sees
the same numbers, and lifetime totals equal the sum of the hourly series up to "now".

How the numbers arise (the ground truth, also returned by :meth:`World.ground_truth`):

* each tweet draws a lifetime reach (log-normal, with rare viral tweets ten times larger) and spreads it
  over hours after posting by a two-speed decay (a fast one of a few hours and a slow one of days) times a
  day/night rhythm in the account's time zone; hourly impressions are Poisson around that curve;
* each tweet draws its own engagement propensity from a Beta distribution around its content type's rate
  (times the variant's lift in the A/B campaign), so impressions cluster within tweets as in reality;
  engagements are Binomial(impressions, propensity) per hour, split into the itemised metrics by a
  tweet-specific Dirichlet mix (url clicks only with a URL, hashtag clicks only with hashtags, media
  engagements only with media, video views only on video); an "other" share keeps engagements above
  the itemised sum, as the docs warn.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from threading import Lock
from typing import Any, Final

import numpy as np

from ..ids import snowflake_id
from ..sources.engagement import catalog
from ..timeutil import floor_hour
from . import confounding

__all__ = ["DEFAULT_NOW", "Account", "Tweet", "World", "hourly_counts"]

DEFAULT_NOW: Final = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HORIZON_HOURS: Final = 24 * 60
"""Hours after posting during which a tweet gathers impressions; after that it is quiet."""
METRICS: Final = tuple(catalog.METRICS)
"""Row order of every tweet's series matrix: the catalog's 18 metrics."""
CONTENT_TYPES: Final = ("text", "image", "video", "link", "poll")
BASE_RATE: Final = {"text": 0.020, "image": 0.026, "video": 0.032, "link": 0.018, "poll": 0.038}
"""True mean engagement propensity (engagements / impressions) by content type."""
CONCENTRATION: Final = 300.0
"""Beta concentration of per-tweet propensities: lower means more between-tweet spread."""
AB_CAMPAIGN: Final = "spring_launch"
AB_LIFT: Final = 0.20
AA_CAMPAIGN: Final = "always_on"
_ITEMISED: Final = {
    # share of engagements, before tweet-level Dirichlet noise; zeroed where the tweet lacks the feature
    "favorites": 0.32,
    "retweets": 0.06,
    "quote_tweets": 0.012,
    "replies": 0.03,
    "url_clicks": 0.22,
    "hashtag_clicks": 0.035,
    "detail_expands": 0.14,
    "permalink_clicks": 0.02,
    "user_profile_clicks": 0.05,
    "media_engagements": 0.14,
    "app_install_attempts": 0.002,
    "app_opens": 0.002,
    "email_tweet": 0.003,
    "user_follows": 0.01,
    "other": 0.09,
}


@dataclass(frozen=True)
class Account:
    """A sandbox account. Owned accounts authorised the app and have access tokens."""

    handle: str
    user_id: str
    owned: bool
    protected: bool = False
    utc_offset_hours: int = 0
    access_token: str = field(default="", repr=False)
    access_token_secret: str = field(default="", repr=False)


@dataclass(frozen=True)
class Tweet:
    """A tweet and its hidden parameters."""

    index: int
    tweet_id: str
    account: str
    created_at: datetime
    content_type: str
    hashtags: tuple[str, ...]
    url: str
    campaign: str
    variant: str
    status: str  # "ok" | "deleted" | "protected"
    reach: float
    propensity_mean: float

    @property
    def has_media(self) -> bool:
        return self.content_type in ("image", "video")

    def metadata(self) -> dict[str, Any]:
        """The public metadata row (no hidden parameters)."""
        return {
            "tweet_id": self.tweet_id,
            "account": self.account,
            "created_at": self.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "content_type": self.content_type,
            "hashtags": ";".join(self.hashtags),
            "url": self.url,
            "campaign": self.campaign,
            "variant": self.variant,
            "status": self.status,
        }


_ACCOUNTS: Final = (
    # handle, owned, protected, utc offset, tweets in the last 120 days
    ("acme", True, False, -5, 400),
    ("acme_support", True, False, 1, 200),
    ("acme_labs", True, True, 0, 6),
    ("rival_co", False, False, -8, 60),
)


def _token(seed: int, *parts: object) -> str:
    digest = hashlib.sha256(repr((seed, *parts)).encode()).hexdigest()
    return digest[:40]


class World:
    """The seeded synthetic world.

    Parameters
    ----------
    seed : int
        Everything (accounts, tweets, counts, tokens) follows from it.
    now : datetime
        The world's "now" when generated; tweets are posted over the 120 days before it, plus a few
        video tweets about five years old.
    confounded : bool
        Accounts with different baseline rates and content mixes, and posting hour and weekday effects that
        content types are not spread evenly over (see :mod:`engagement_lab.sandbox.confounding`); content
        effects holding account and time fixed are ``BASE_RATE[c] / BASE_RATE["text"]``. Off by default, and
        then every number is what it always was.

    Examples
    --------
    >>> world = World(seed=7)
    >>> len(world.tweets) > 500, world.tweets[0].tweet_id.isdigit()
    (True, True)
    """

    def __init__(self, seed: int = 7, now: datetime = DEFAULT_NOW, *, confounded: bool = False) -> None:
        self.seed = seed
        self.now = now
        self.confounded = confounded
        self._series: dict[int, np.ndarray] = {}
        self._lock = Lock()
        rng = np.random.default_rng([seed, 0])
        self.accounts = self._make_accounts()
        self.tweets = self._make_tweets(rng)
        self.by_id = {t.tweet_id: t for t in self.tweets}

    # --- generation ---------------------------------------------------------------------------------

    def _make_accounts(self) -> tuple[Account, ...]:
        out = []
        for i, (handle, owned, protected, offset, _) in enumerate(_ACCOUNTS):
            token = f"{1000 + i}-{_token(self.seed, handle, 'token')}" if owned else ""
            secret = _token(self.seed, handle, "secret") if owned else ""
            out.append(Account(handle, str(1000 + i), owned, protected, offset, token, secret))
        return tuple(out)

    def _make_tweets(self, rng: np.random.Generator) -> tuple[Tweet, ...]:
        drafts: list[dict[str, Any]] = []
        scale = confounding.TWEETS_SCALE if self.confounded else 1
        for handle, _, protected, _, count in _ACCOUNTS:
            for _ in range(count * scale):
                age_h = float(rng.uniform(1, 120 * 24))
                drafts.append(self._draft(rng, handle, age_h, protected))
        for _ in range(3):  # video tweets older than the 1800-day video_views limit
            drafts.append({**self._draft(rng, "acme", float(rng.uniform(1850, 1990) * 24), False)})
            drafts[-1]["content_type"] = "video"
        self._assign_campaigns(rng, drafts)
        for handle in ("acme", "acme_support", "rival_co"):  # one deleted tweet per public account
            pool = [d for d in drafts if d["account"] == handle and d["status"] == "ok" and not d["campaign"]]
            pool[int(rng.integers(len(pool)))]["status"] = "deleted"
        drafts.sort(key=lambda d: d["created_at"])
        return tuple(self._finish(i, d, rng) for i, d in enumerate(drafts))

    def _draft(self, rng: np.random.Generator, handle: str, age_h: float, protected: bool) -> dict[str, Any]:
        created = self.now - timedelta(hours=age_h)
        created = created.replace(microsecond=int(rng.integers(0, 1000)) * 1000)
        content = str(rng.choice(CONTENT_TYPES, p=[0.3, 0.25, 0.15, 0.2, 0.1]))
        if self.confounded:  # extra draws only here: the default world's numbers never change
            content = str(rng.choice(CONTENT_TYPES, p=confounding.CONTENT_MIX[handle]))
            moved = confounding.posting_time(rng, created, content)
            created = moved if moved < self.now - timedelta(hours=1) else created
        n_tags = int(rng.choice([0, 1, 2], p=[0.5, 0.35, 0.15]))
        tags = tuple(str(t) for t in rng.choice(["launch", "tips", "news", "ai", "deals"], n_tags, replace=False))
        return {
            "account": handle,
            "created_at": created,
            "content_type": content,
            "hashtags": tags,
            "campaign": "",
            "variant": "",
            "status": "protected" if protected else "ok",
        }

    def _assign_campaigns(self, rng: np.random.Generator, drafts: list[dict[str, Any]]) -> None:
        """A/B campaign: 180 recent image tweets of owned accounts, variant randomised 50/50, B lifts the
        engagement propensity by AB_LIFT. A/A campaign: 120 recent tweets of any content, no effect."""
        recent = [
            d
            for d in drafts
            if d["account"] in ("acme", "acme_support") and self.now - d["created_at"] < timedelta(days=75)
        ]
        order = rng.permutation(len(recent))
        for rank, k in enumerate(order[:360]):
            d = recent[k]
            d["campaign"] = AB_CAMPAIGN if rank < 220 else AA_CAMPAIGN
            if d["campaign"] == AB_CAMPAIGN:
                d["content_type"] = "image"
            d["variant"] = "A" if rng.random() < 0.5 else "B"

    def _finish(self, index: int, d: dict[str, Any], rng: np.random.Generator) -> Tweet:
        account = next(a for a in _ACCOUNTS if a[0] == d["account"])
        base_reach = {"acme": 3000.0, "acme_support": 900.0, "acme_labs": 200.0, "rival_co": 5000.0}[account[0]]
        reach = base_reach * float(rng.lognormal(0.0, 0.7)) * (6.0 if rng.random() < 0.02 else 1.0)
        lift = 1.0 + AB_LIFT if (d["campaign"] == AB_CAMPAIGN and d["variant"] == "B") else 1.0
        has_url = d["content_type"] == "link" or rng.random() < 0.1
        seq = index * 7 + int(rng.integers(0, 7))
        return Tweet(
            index=index,
            tweet_id=snowflake_id(d["created_at"], seq),
            url=f"https://example.com/p/{index}" if has_url else "",
            reach=reach,
            propensity_mean=BASE_RATE[d["content_type"]] * lift * self._context(d["account"], d["created_at"]),
            **d,
        )

    def _context(self, account: str, created_at: datetime) -> float:
        """What besides content and variant moves a tweet's propensity (only in the confounded world)."""
        return confounding.multiplier(account, created_at) if self.confounded else 1.0

    # --- series -------------------------------------------------------------------------------------

    def series(self, tweet: Tweet) -> np.ndarray:
        """The tweet's hourly counts, shape ``(len(METRICS), HORIZON_HOURS)`` (int64).

        Column ``h`` is the hour starting ``floor_hour(created_at) + h`` hours; rows follow ``METRICS``.
        """
        cached = self._series.get(tweet.index)
        if cached is None:
            cached = self._draw_series(tweet)
            with self._lock:
                self._series.setdefault(tweet.index, cached)
        return cached

    def _draw_series(self, t: Tweet) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 1, t.index])
        hours = np.arange(HORIZON_HOURS, dtype=float) + 0.5
        fast, slow = rng.uniform(2.0, 9.0), rng.uniform(36.0, 120.0)
        curve = 0.85 * np.exp(-hours / fast) / fast + 0.15 * np.exp(-hours / slow) / slow
        offset = next(a.utc_offset_hours for a in self.accounts if a.handle == t.account)
        local = (t.created_at.hour + offset + np.arange(HORIZON_HOURS)) % 24
        curve *= 1.0 + 0.7 * np.cos(2 * np.pi * (local - 15) / 24)
        impressions = rng.poisson(t.reach * curve / curve.sum())
        k = CONCENTRATION
        p = rng.beta(k * t.propensity_mean, k * (1 - t.propensity_mean))
        engagements = rng.binomial(impressions, p)
        weights = self._item_weights(t, rng)
        split = rng.multinomial(engagements, weights)  # (hours, items)
        out = np.zeros((len(METRICS), HORIZON_HOURS), dtype=np.int64)
        row = {m: i for i, m in enumerate(METRICS)}
        out[row["impressions"]] = impressions
        out[row["engagements"]] = engagements
        for j, name in enumerate(_ITEMISED):
            if name != "other":
                out[row[name]] = split[:, j]
        if t.has_media:
            out[row["media_views"]] = rng.binomial(impressions, rng.uniform(0.25, 0.6))
        if t.content_type == "video":
            out[row["video_views"]] = rng.binomial(impressions, rng.uniform(0.15, 0.4))
        return out

    def _item_weights(self, t: Tweet, rng: np.random.Generator) -> np.ndarray:
        base = dict(_ITEMISED)
        if not t.url:
            base["url_clicks"] = 0.0
        if not t.hashtags:
            base["hashtag_clicks"] = 0.0
        if not t.has_media:
            base["media_engagements"] = 0.0
        if t.content_type != "link":
            base["app_install_attempts"] = base["app_opens"] = 0.0
        alpha = np.array([v * 60 + 1e-9 for v in base.values()])
        w = rng.dirichlet(alpha)
        w[alpha < 1e-6] = 0.0
        return np.asarray(w / w.sum())

    # --- public views -------------------------------------------------------------------------------

    @cached_property
    def accounts_by_handle(self) -> dict[str, Account]:
        return {a.handle: a for a in self.accounts}

    def owner(self, tweet_id: str) -> Account | None:
        tweet = self.by_id.get(tweet_id)
        return None if tweet is None else self.accounts_by_handle[tweet.account]

    def metadata(self) -> list[dict[str, Any]]:
        """One public metadata row per tweet (ids as strings)."""
        return [t.metadata() for t in self.tweets]

    def ground_truth(self) -> dict[str, Any]:
        """The true effects the statistics should recover."""
        return {
            "seed": self.seed,
            "engagement_rate_by_content_type": dict(BASE_RATE),
            "ab_campaign": {
                "campaign": AB_CAMPAIGN,
                "metric": "engagement_rate",
                "control": "A",
                "treatment": "B",
                "true_lift": AB_LIFT,
                "content_type": "image",
            },
            "aa_campaign": {"campaign": AA_CAMPAIGN, "control": "A", "treatment": "B", "true_lift": 0.0},
            "propensity_concentration": CONCENTRATION,
            **({"confounded": self._confounding_truth()} if self.confounded else {}),
        }

    def _confounding_truth(self) -> dict[str, Any]:
        return {
            "true_rate_ratio_vs_text": confounding.true_rate_ratios(BASE_RATE),
            "holding_fixed": ["account", "hour_of_day (UTC)", "weekday (UTC)"],
            "account_rate": dict(confounding.ACCOUNT_RATE),
            "weekend_effect": confounding.WEEKEND_EFFECT,
            "hour_effect": "1 + 0.45 cos(2 pi (hour - 19) / 24), UTC",
        }


def hourly_counts(
    world: World, tweet: Tweet, rows: list[int], start: datetime, hours: int, now: datetime
) -> np.ndarray:
    """Hourly counts of ``tweet`` for ``hours`` buckets from ``start``; buckets not yet begun are 0."""
    out = np.zeros((len(rows), hours), dtype=np.int64)
    first = floor_hour(tweet.created_at)
    offset = int((start - first) / timedelta(hours=1))
    visible = min(hours, int(np.ceil((now - start) / timedelta(hours=1))))  # buckets that have begun by now
    lo, hi = max(0, -offset), min(visible, HORIZON_HOURS - offset)
    if hi > lo:
        out[:, lo:hi] = world.series(tweet)[rows, offset + lo : offset + hi]
    return out
