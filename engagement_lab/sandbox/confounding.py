"""The confounded world (``World(seed, confounded=True)``, ``engagement-lab sandbox --confounded``).

Content types are never randomised in real accounts, and here they are not either:

* accounts differ in baseline engagement (``ACCOUNT_RATE``) and in content mix (``CONTENT_MIX``): the big,
  engaging account posts mostly videos and polls, the support account mostly text and links;
* posting time matters: the propensity is multiplied by ``hour_effect(UTC hour)`` (evening peak at 19:00 UTC)
  and by ``WEEKEND_EFFECT`` on Saturdays and Sundays (UTC), and videos, images and polls are posted at the
  evening peak and at weekends far more often than text and links (``PEAK_SHARE``, ``WEEKEND_SHARE``).

Holding account and posting time fixed, content type ``c`` multiplies the engagement rate by exactly
``BASE_RATE[c] / BASE_RATE["text"]`` (``true_rate_ratios()``); a naive comparison mixes that with the account
and timing effects and overstates videos and polls. The A/B and A/A campaigns keep their randomised variants
and true lifts (+20% and 0).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Final

import numpy as np

__all__ = [
    "ACCOUNT_RATE",
    "CONTENT_MIX",
    "PEAK_SHARE",
    "WEEKEND_EFFECT",
    "WEEKEND_SHARE",
    "hour_effect",
    "multiplier",
    "posting_time",
    "true_rate_ratios",
]

ACCOUNT_RATE: Final = {"acme": 1.0, "acme_support": 0.45, "acme_labs": 0.8, "rival_co": 1.6}
"""Baseline engagement multiplier of each account (its audience)."""
CONTENT_MIX: Final = {
    # probabilities of ("text", "image", "video", "link", "poll")
    "acme": (0.10, 0.20, 0.40, 0.15, 0.15),
    "acme_support": (0.50, 0.15, 0.05, 0.25, 0.05),
    "acme_labs": (0.30, 0.25, 0.15, 0.20, 0.10),
    "rival_co": (0.15, 0.25, 0.30, 0.10, 0.20),
}
PEAK_HOURS: Final = (17, 18, 19, 20, 21, 22)
PEAK_SHARE: Final = {"text": 0.15, "image": 0.55, "video": 0.75, "link": 0.10, "poll": 0.60}
"""Probability that a tweet of each content type is posted in the evening peak (17-22 UTC)."""
WEEKEND_SHARE: Final = {"text": 0.10, "image": 0.30, "video": 0.45, "link": 0.05, "poll": 0.45}
"""Probability that a tweet of each content type is posted on a Saturday or Sunday (UTC)."""
WEEKEND_EFFECT: Final = 1.3
TWEETS_SCALE: Final = 3
"""The confounded world has three times as many tweets per account (about 1,000 outside the campaigns), so a
content-type benchmark has the sample size of a real one and its confounding is larger than its noise."""


def hour_effect(hour: int) -> float:
    """Engagement multiplier of the UTC posting hour: 1.45 at 19:00, 0.55 at 07:00."""
    return 1.0 + 0.45 * math.cos(2 * math.pi * (hour - 19) / 24)


def multiplier(account: str, created_at: datetime) -> float:
    """Everything but content that moves a tweet's engagement rate in the confounded world."""
    weekend = WEEKEND_EFFECT if created_at.weekday() >= 5 else 1.0
    return ACCOUNT_RATE[account] * hour_effect(created_at.hour) * weekend


def posting_time(rng: np.random.Generator, created_at: datetime, content: str) -> datetime:
    """Move a drafted posting time to a day and hour that depend on the content type (same week)."""
    weekend = rng.random() < WEEKEND_SHARE[content]
    monday = created_at - timedelta(days=created_at.weekday())
    day = int(rng.integers(5, 7)) if weekend else int(rng.integers(0, 5))
    peak = rng.random() < PEAK_SHARE[content]
    off_peak = [h for h in range(24) if h not in PEAK_HOURS]
    hour = int(rng.choice(PEAK_HOURS)) if peak else int(rng.choice(off_peak))
    return (monday + timedelta(days=day)).replace(hour=hour, minute=int(rng.integers(0, 60)))


def true_rate_ratios(base_rate: dict[str, float], reference: str = "text") -> dict[str, float]:
    """Each content type's engagement-rate ratio against ``reference``, account and posting time held fixed."""
    return {c: rate / base_rate[reference] for c, rate in base_rate.items()}
