"""The polling loop: paced /totals polls, crossings recorded before their actions run, retries with backoff."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from .. import catalog
from ..api import Credentials, EngagementClient, RateLimiter, RawResponse, route
from ..api.client import raise_for_status
from ..api.fetch import split_refusal
from ..api.pacing import Clock, SystemClock
from ..errors import APIConnectionError, APITimeoutError, ConfigError
from ..query import EngagementQuery, EngagementRequest
from .rules import Rule, parse_rule
from .state import CrossingEvent, WatchState

__all__ = ["PollResult", "Watcher", "watch"]


Refusal = tuple[list[EngagementRequest], dict[str, str]]
"""What a partial refusal says: the requests to send instead, and each dropped id with the reason."""


def _body(raw: RawResponse) -> dict[str, Any]:
    try:
        body = raw.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _unavailable(body: dict[str, Any]) -> list[str]:
    ids = body.get(catalog.UNAVAILABLE_TWEET_IDS, [])
    return [str(i) for i in ids] if isinstance(ids, list) else []


@dataclass(frozen=True)
class PollResult:
    """What one poll saw and did."""

    polled_at: float
    tweets: int
    missed: int
    new_events: tuple[CrossingEvent, ...]
    delivered: int
    failed: int
    pending: int
    newly_skipped: tuple[tuple[str, str], ...] = ()
    """Tweets found unreadable in this poll (id, reason): reported once, then left out of every poll."""
    unexpected: int = 0
    """Ids in answers that were not asked for (or are not ids): ignored, never events."""

    @property
    def nothing_polled(self) -> bool:
        """True when tweets were due but no answer came back for any of them (the API is down or refusing)."""
        return self.tweets == 0 and self.missed > 0


class Watcher:
    """Polls /totals within the rate limit and fires crossings. ``poll()`` once; ``run()`` until stopped."""

    def __init__(
        self,
        tweet_ids: Sequence[str],
        rules: Sequence[Rule | str],
        *,
        credentials: Credentials,
        state: str | Path | WatchState,
        on_cross: Callable[[CrossingEvent], None],
        interval: float = 300.0,
        owners: Mapping[str, str] | None = None,
        base_url: str = catalog.BASE_URL,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        retry_base: float = 30.0,
    ) -> None:
        self.rules = [parse_rule(r) if isinstance(r, str) else r for r in rules]
        if not self.rules:
            raise ConfigError("give at least one rule, e.g. favorites>=100")
        names = [r.name for r in self.rules]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ConfigError(f"rules {repeated} are given more than once; each rule fires once per tweet, keep one")
        metrics = sorted({m for r in self.rules for m in r.metrics})
        query = EngagementQuery("totals", list(tweet_ids), metrics, "per_tweet")
        self.routes = route(query, credentials, owners)
        self.state = state if isinstance(state, WatchState) else WatchState(state)
        self.on_cross, self.interval, self.retry_base = on_cross, interval, retry_base
        self.clock = clock or SystemClock()
        self.limiter = RateLimiter(clock=self.clock)
        # OAuth timestamps from the same clock, so a watcher on simulated time signs consistently
        self.client = EngagementClient(credentials, base_url=base_url, transport=transport, oauth_clock=self.clock.time)
        self.polls = 0
        self.skipped: dict[str, str] = {}
        """Tweets the API will not serve (protected, deleted, not owned): id -> reason."""

    def _send(self, request: EngagementRequest, account: str) -> tuple[dict[str, Any], Refusal | None] | None:
        """One batch, paced; 5xx, dropped connections and 429s are retried a few times, then left to the next poll.

        Returns the decoded answer and, for a partial refusal, the requests to send instead and the dropped ids
        (``None`` when nothing came back); other 4xx raise (bad credentials or ids are not worth repeating).
        """
        for _ in range(5):
            self.limiter.acquire()
            raw = None
            try:
                raw = self.client.send(request, account=account, check=False)
            except (APIConnectionError, APITimeoutError):
                pass
            finally:
                self.limiter.release(raw.headers if raw is not None else None)
            if raw is None or raw.status_code >= 500:
                continue
            if raw.status_code == 429:
                reset = raw.headers.get(catalog.HEADER_RESET)
                self.limiter.exhausted(float(reset) if reset else None)
                continue
            body = _body(raw)
            refusal = None if raw.status_code == 200 else split_refusal(request, account, raw.status_code, body)
            if raw.status_code != 200 and refusal is None:
                raise_for_status(raw)
            return body, refusal
        return None

    def _totals(self) -> tuple[dict[str, dict[str, int]], int, list[tuple[str, str]], int]:
        """Lifetime totals of every readable tweet; misses, newly skipped tweets and ignored answer ids."""
        totals: dict[str, dict[str, int]] = {}
        missed = unexpected = 0
        skipped: list[tuple[str, str]] = []
        for sub_query, account in self.routes:
            ids = [i for i in sub_query.tweet_ids if i not in self.skipped]  # type: ignore[union-attr]
            if not ids:
                continue
            queue = list(replace(sub_query, tweet_ids=ids).plan(age_rules="allow"))
            while queue:
                request = queue.pop(0)
                answer = self._send(request, account)
                if answer is None:
                    missed += len(request.tweet_ids)
                    continue
                body, refusal = answer
                dropped = (
                    refusal[1] if refusal else dict.fromkeys(_unavailable(body), "unavailable: deleted or protected")
                )
                for tweet_id, reason in dropped.items():
                    if tweet_id in request.tweet_ids and tweet_id not in self.skipped:
                        self.skipped[tweet_id] = reason
                        skipped.append((tweet_id, reason))
                if refusal:
                    queue.extend(refusal[0])
                    continue
                asked = set(request.tweet_ids)
                for tweet_id, metrics in (body.get("per_tweet") or {}).items():
                    if tweet_id not in asked or not isinstance(metrics, dict):
                        unexpected += 1
                        continue
                    totals.setdefault(tweet_id, {}).update({m: int(v) for m, v in metrics.items()})
        return totals, missed, skipped, unexpected

    def poll(self) -> PollResult:
        """Poll once: record crossings, then deliver what is due."""
        now = self.clock.time()
        last = self.state.last_poll()
        downtime = last is None or now - last > 1.5 * self.interval
        totals, missed, skipped, unexpected = self._totals()
        previous, fired = self.state.previous(), self.state.fired()
        observations, events = [], []
        stamp = datetime.fromtimestamp(now, UTC).isoformat()
        for tweet_id, values in totals.items():
            for rule in self.rules:
                measured = rule.measure(values)
                if measured is None:
                    continue
                observations.append((tweet_id, rule.name, measured))
                if rule.holds(measured) and (tweet_id, rule.name) not in fired:
                    before = previous.get((tweet_id, rule.name))
                    event_id = hashlib.sha256(f"{tweet_id}|{rule.name}".encode()).hexdigest()[:20]
                    events.append(
                        CrossingEvent(
                            event_id, tweet_id, rule.name, measured, before, stamp, downtime or before is None
                        )
                    )
        self.state.record(observations, events, now)
        delivered = failed = 0
        for event in self.state.due(now):
            try:
                self.on_cross(event)
            except Exception as exc:  # an action's failure must not stop the watcher
                failed += 1
                self.state.failed(event.event_id, f"{type(exc).__name__}: {exc}", now, retry_base=self.retry_base)
            else:
                delivered += 1
                self.state.delivered(event.event_id, now)
        self.polls += 1
        pending = self.state.pending()
        return PollResult(
            now, len(totals), missed, tuple(events), delivered, failed, pending, tuple(skipped), unexpected
        )

    def run(
        self,
        *,
        max_polls: int | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        on_status: Callable[[PollResult], None] | None = None,
    ) -> None:
        """Poll every ``interval`` seconds until ``should_stop()`` or ``max_polls``."""
        while not should_stop() and (max_polls is None or self.polls < max_polls):
            result = self.poll()
            if on_status is not None:
                on_status(result)
            if should_stop() or (max_polls is not None and self.polls >= max_polls):
                break
            remaining = self.interval
            while remaining > 0 and not should_stop():  # short naps, so a stop request is honoured promptly
                nap = min(1.0, remaining)
                self.clock.sleep(nap)
                remaining -= nap

    def close(self) -> None:
        self.client.close()
        self.state.close()


def watch(
    tweet_ids: Sequence[str],
    rules: Sequence[Rule | str],
    *,
    credentials: Credentials,
    state: str | Path,
    on_cross: Callable[[CrossingEvent], None],
    interval: float = 300.0,
    max_polls: int | None = None,
    **options: Any,
) -> Watcher:
    """Watch tweets' lifetime totals and call ``on_cross(event)`` once per (tweet, rule) crossing.

    Examples
    --------
    Retweet a tweet from another owned account when it reaches 100 likes (a callback you write; the toolkit
    never posts on your behalf)::

        def boost(event):
            my_other_account.retweet(event.tweet_id)   # your own code, e.g. with the X API v2

        watch(ids, ["favorites>=100"], credentials=Credentials.load(), state="watch.db", on_cross=boost)
    """
    watcher = Watcher(
        tweet_ids, rules, credentials=credentials, state=state, on_cross=on_cross, interval=interval, **options
    )
    try:
        watcher.run(max_polls=max_polls)
    finally:
        watcher.close()
    return watcher
