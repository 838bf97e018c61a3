"""What a watcher asks of a source: each readable tweet's lifetime totals, once per poll.

Every source's reader (``sources/<name>/watch.py``, named in the registry) answers with a :class:`Read`: the totals
under the Engagement API's metric names (so rules read the same on any source), plus what could not be read. Each
batch is paced by its account's rate limiter; 5xx answers, dropped connections and 429s are retried a few times
(:func:`send_paced`), then left to the next poll (counted as missed); a refusal that names tweets (protected,
deleted, not owned) skips those tweets for good.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import httpx

from .. import sources
from ..api.auth import Credentials
from ..api.http import RawResponse
from ..api.pacing import Clock, RateLimiter
from ..api.runner import Sender
from ..errors import APIConnectionError, APITimeoutError

__all__ = ["ATTEMPTS", "Read", "TotalsSource", "Watched", "answer_body", "reader", "send_paced"]

ATTEMPTS = 5
"""Tries per batch and poll (each paced by the limiter); after that the batch waits for the next poll."""


@dataclass
class Read:
    """One poll's reading: totals of every tweet that answered, and what did not."""

    totals: dict[str, dict[str, int]] = field(default_factory=dict)
    missed: int = 0
    """Tweets due but unanswered (the API down, refusing, or still rate limited after the retries)."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """Tweets found unreadable in this poll (id, reason)."""
    unexpected: int = 0
    """Ids in answers that were not asked for (or are not ids): ignored."""

    def skip(self, known: dict[str, str], tweet_id: str, reason: str) -> None:
        if tweet_id not in known:
            known[tweet_id] = reason
            self.skipped.append((tweet_id, reason))


@dataclass(frozen=True)
class Watched:
    """What every reader is built from: the tweets, the totals the rules need, and how to reach the API."""

    tweet_ids: Sequence[str]
    metrics: Sequence[str]
    """Lifetime totals the rules use, by their Engagement API names."""
    credentials: Credentials
    owners: Mapping[str, str] | None
    base_url: str
    clock: Clock
    """Paces the polls and stamps OAuth 1.0a signatures (a watcher on simulated time signs consistently)."""
    transport: httpx.BaseTransport | None = None


class TotalsSource(Protocol):
    """A source's reader of lifetime totals (the class named by its registry entry's ``watch``)."""

    what: ClassVar[str]
    """How a message names what it reads (``"/totals"``)."""
    served: ClassVar[tuple[str, ...]]
    """The lifetime totals it can read, by their Engagement API names: what a rule may use."""
    default_base_url: ClassVar[str]
    options: ClassVar[tuple[str, ...]]
    """Keyword options of its own, beyond the :class:`Watched` every reader is built from."""

    def __init__(self, watched: Watched, **options: Any) -> None: ...

    def read(self, skipped: dict[str, str]) -> Read:
        """Lifetime totals of every watched tweet not in ``skipped``; newly unreadable tweets are added to it."""

    def close(self) -> None: ...


def reader(api: object) -> tuple[str, type[TotalsSource]]:
    """The name and reader class of the source called ``api`` (the previous release's spelling warns; an unknown
    one is refused with the closest name and every choice)."""
    source = sources.get(api, "watch")
    found: type[TotalsSource] = source.part("watch")
    return source.name, found


def answer_body(raw: RawResponse) -> dict[str, Any]:
    try:
        body = raw.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def send_paced(
    client: Sender, limiter: RateLimiter, request: Any, account: str, reset_header: str
) -> RawResponse | None:
    """One request, paced and retried on 5xx, dropped connections and 429s; ``None`` when none of the tries got
    a judgeable answer."""
    for _ in range(ATTEMPTS):
        limiter.acquire()
        raw = None
        try:
            raw = client.send(request, account=account, check=False)
        except (APIConnectionError, APITimeoutError):
            pass
        finally:
            limiter.release(raw.headers if raw is not None else None)
        if raw is None or raw.status_code >= 500:
            continue
        if raw.status_code == 429:
            reset = raw.headers.get(reset_header)
            limiter.exhausted(float(reset) if reset else None)
            continue
        return raw
    return None
