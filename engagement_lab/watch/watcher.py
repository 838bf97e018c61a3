"""The polling loop: paced polls of lifetime totals (/totals or X API v2), crossings recorded before their actions
run, retries with backoff."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from ..api import Credentials
from ..api.pacing import Clock, SystemClock
from ..errors import ConfigError, did_you_mean
from ..sources.x_v2 import catalog as v2
from ..sources.x_v2.client import TokenCallback
from .actions import outcome_unknown
from .readers import TotalsSource, Watched, reader
from .rules import Rule, check_rule, parse_rule
from .state import CrossingEvent, WatchState

__all__ = ["PollResult", "Watcher", "watch"]

_OWN_DEFAULTS: dict[str, Any] = {"max_window": v2.MAX_WINDOW_CHOICE, "on_token_refresh": None}
"""The options only some sources' readers take, and their defaults (given otherwise, they are refused)."""


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
    """Polls lifetime totals within the rate limit and fires crossings. ``poll()`` once; ``run()`` until stopped.

    ``api="engagement"`` (default) polls the Engagement API's ``/totals``; ``api="x-v2"`` polls X API v2 post
    analytics (``granularity=total`` from each tweet's creation hour, in windows of at most ``max_window``), with
    the same rules: v2's ``likes`` and ``follows`` are read as ``favorites`` and ``user_follows``, and v2-only
    totals such as ``bookmarks`` may be watched too. ``base_url`` defaults to the chosen API's host;
    ``on_token_refresh(handle, token)`` hears of each refreshed OAuth 2.0 token (save it: the old refresh token
    stops working).
    """

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
        api: str = "engagement",
        base_url: str | None = None,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        retry_base: float = 30.0,
        max_window: timedelta = v2.MAX_WINDOW_CHOICE,
        on_token_refresh: TokenCallback | None = None,
    ) -> None:
        api, source = reader(api)
        self.rules = [parse_rule(r, api) if isinstance(r, str) else check_rule(r, api) for r in rules]
        if not self.rules:
            raise ConfigError("give at least one rule, e.g. favorites>=100")
        names = [r.name for r in self.rules]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ConfigError(f"rules {repeated} are given more than once; each rule fires once per tweet, keep one")
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not interval > 0:
            raise ConfigError(f"interval must be a positive number of seconds, got {interval!r}")
        own = {"max_window": max_window, "on_token_refresh": on_token_refresh}
        given = [k for k, v in own.items() if v != _OWN_DEFAULTS[k] and k not in source.options]
        if given:
            raise ConfigError(f"{' and '.join(given)} do not apply to api={api!r}")
        metrics = sorted({m for r in self.rules for m in r.metrics})
        self.api, self.base_url = api, base_url or source.default_base_url
        self.clock = clock or SystemClock()
        watched = Watched(tweet_ids, metrics, credentials, owners, self.base_url, self.clock, transport)
        self.source: TotalsSource = source(watched, **{k: v for k, v in own.items() if k in source.options})
        try:
            self.state = state if isinstance(state, WatchState) else WatchState(state)
        except BaseException:
            self.source.close()
            raise
        self.on_cross, self.interval, self.retry_base = on_cross, interval, retry_base
        self.polls = 0
        self.skipped: dict[str, str] = {}
        """Tweets the API will not serve (protected, deleted, not owned): id -> reason."""

    def poll(self) -> PollResult:
        """Poll once: record crossings, then deliver what is due."""
        now = self.clock.time()
        last = self.state.last_poll()
        downtime = last is None or now - last > 1.5 * self.interval
        read = self.source.read(self.skipped)
        totals, missed, skipped, unexpected = read.totals, read.missed, read.skipped, read.unexpected
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
            self.state.begin(event.event_id)  # committed first: a crash from here on flags the next try
            try:
                self.on_cross(event)
            except Exception as exc:  # an action's failure must not stop the watcher
                failed += 1
                self.state.failed(
                    event.event_id,
                    f"{type(exc).__name__}: {exc}",
                    now,
                    retry_base=self.retry_base,
                    unsure=outcome_unknown(exc),
                )
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
        try:
            self.source.close()
        finally:
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
    """Watch tweets' lifetime totals and call ``on_cross(event)`` for each (tweet, rule) crossing, at least once:
    only an action in flight when the process dies runs again, with the same ``event.event_id`` and
    ``event.redelivery`` set, so make the action idempotent on ``event_id``.

    Examples
    --------
    Retweet a tweet from another owned account when it reaches 100 likes (a callback you write; the toolkit
    never posts on your behalf)::

        def boost(event):
            my_other_account.retweet(event.tweet_id)   # your own code, e.g. with the X API v2

        watch(ids, ["favorites>=100"], credentials=Credentials.load(), state="watch.db", on_cross=boost)
    """
    known = [name for name in inspect.signature(Watcher).parameters if name not in ("tweet_ids", "rules")]
    for name in options:
        if name not in known:
            raise ConfigError(f"watch() has no option {name!r}{did_you_mean(name, known)}; options: {known}")
    watcher = Watcher(
        tweet_ids, rules, credentials=credentials, state=state, on_cross=on_cross, interval=interval, **options
    )
    try:
        watcher.run(max_polls=max_polls)
    finally:
        watcher.close()
    return watcher
