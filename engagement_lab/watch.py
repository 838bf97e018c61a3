"""Threshold watcher: poll /totals, fire each (tweet, rule) crossing exactly once, survive restarts.

Every crossing is written to a SQLite state file (WAL, one transaction per poll) *before* its callback runs, so a
crash or restart never loses a crossing and never records it twice; undelivered events stay pending and are
retried with backoff. A crossing seen for the first time after downtime (or before the first poll) is marked
``late``. The callback may run again only if the process dies after it returned and before its success was
committed, so actions get a stable ``event_id`` to be idempotent with.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import shlex
import sqlite3
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from . import catalog
from .api import Credentials, EngagementClient, RateLimiter, RawResponse, route
from .api.client import raise_for_status
from .api.pacing import Clock, SystemClock
from .errors import APIConnectionError, APITimeoutError, ConfigError, EngagementLabError
from .metrics import NAMED_METRICS, Ratio
from .query import EngagementQuery, EngagementRequest

__all__ = [
    "CrossingEvent",
    "RateRule",
    "Threshold",
    "WatchState",
    "command_action",
    "parse_rule",
    "watch",
    "webhook_action",
]

SIGNATURE_HEADER = "X-Engagement-Lab-Signature"


@dataclass(frozen=True)
class Threshold:
    """Fires when a tweet's lifetime ``metric`` reaches ``value`` (e.g. favorites >= 100)."""

    metric: str
    value: float

    @property
    def name(self) -> str:
        return f"{self.metric}>={self.value:g}"

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.metric,)

    def measure(self, totals: Mapping[str, int]) -> float | None:
        return float(totals[self.metric]) if self.metric in totals else None

    def holds(self, measured: float) -> bool:
        return measured >= self.value


@dataclass(frozen=True)
class RateRule:
    """Fires when a named rate reaches ``value`` once its denominator is at least ``minimum`` (e.g. engagement
    rate >= 5% after >= 1,000 impressions)."""

    rate: str
    value: float
    minimum: float = 1000

    @property
    def name(self) -> str:
        return f"{self.rate}>={self.value:g}/{self.minimum:g}"

    @property
    def _ratio(self) -> Ratio:
        ratio = NAMED_METRICS[self.rate]
        assert isinstance(ratio, Ratio)
        return ratio

    @property
    def metrics(self) -> tuple[str, ...]:
        return self._ratio.columns

    def measure(self, totals: Mapping[str, int]) -> float | None:
        num, den = totals.get(self._ratio.numerator), totals.get(self._ratio.denominator)
        if num is None or den is None or den < self.minimum or den == 0:
            return None
        return num / den

    def holds(self, measured: float) -> bool:
        return measured >= self.value


Rule = Threshold | RateRule
_RULE = re.compile(r"^\s*([a-z_]+)\s*>=\s*([0-9.]+)\s*(?:/\s*([0-9.]+))?\s*$")


def parse_rule(text: str) -> Rule:
    """``"favorites>=100"``, or a named rate with an optional minimum denominator: ``"engagement_rate>=0.05/1000"``."""
    match = _RULE.match(text)
    if match is None:
        raise ConfigError(f"rule {text!r} is not of the form metric>=N (e.g. favorites>=100) or rate>=x/min")
    name, value, minimum = match.group(1), float(match.group(2)), match.group(3)
    if name in NAMED_METRICS and isinstance(NAMED_METRICS[name], Ratio):
        rule: Rule = RateRule(name, value, float(minimum) if minimum else 1000)
    elif name in catalog.ENDPOINTS["totals"].metrics and minimum is None:
        rule = Threshold(name, value)
    else:
        raise ConfigError(
            f"rule {text!r}: {name!r} is neither a /totals metric {list(catalog.ENDPOINTS['totals'].metrics)} "
            f"nor a named rate {[k for k, v in NAMED_METRICS.items() if isinstance(v, Ratio)]}"
        )
    unavailable = [m for m in rule.metrics if m not in catalog.ENDPOINTS["totals"].metrics]
    if unavailable:
        raise ConfigError(f"rule {text!r} needs {unavailable}, which /totals does not serve")
    return rule


@dataclass(frozen=True)
class CrossingEvent:
    """One (tweet, rule) crossing."""

    event_id: str
    tweet_id: str
    rule: str
    value: float
    previous_value: float | None
    crossed_at: str
    late: bool

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS observations (
    tweet_id TEXT, rule TEXT, value REAL, polled_at TEXT, PRIMARY KEY (tweet_id, rule));
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY, tweet_id TEXT, rule TEXT, value REAL, previous_value REAL, crossed_at TEXT, late INTEGER,
    status TEXT, attempts INTEGER DEFAULT 0, next_attempt REAL DEFAULT 0, last_error TEXT, delivered_at TEXT,
    UNIQUE (tweet_id, rule));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


class WatchState:
    """The watcher's SQLite state: last observation per (tweet, rule), events and their delivery status."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def last_poll(self) -> float | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'last_poll'").fetchone()
        return float(row[0]) if row else None

    def previous(self) -> dict[tuple[str, str], float]:
        return {(t, r): v for t, r, v in self.db.execute("SELECT tweet_id, rule, value FROM observations")}

    def fired(self) -> set[tuple[str, str]]:
        return {(t, r) for t, r in self.db.execute("SELECT tweet_id, rule FROM events")}

    def record(
        self, observations: Iterable[tuple[str, str, float]], events: Sequence[CrossingEvent], polled: float
    ) -> None:
        """One transaction: new observations, new events (pending), and the poll time."""
        stamp = datetime.fromtimestamp(polled, UTC).isoformat()
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT OR REPLACE INTO observations VALUES (?, ?, ?, ?)", [(*o, stamp) for o in observations]
            )
            self.db.executemany(
                "INSERT OR IGNORE INTO events "
                "(event_id, tweet_id, rule, value, previous_value, crossed_at, late, status) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
                [
                    (e.event_id, e.tweet_id, e.rule, e.value, e.previous_value, e.crossed_at, int(e.late))
                    for e in events
                ],
            )
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('last_poll', ?)", (repr(polled),))

    def due(self, now: float) -> list[CrossingEvent]:
        rows = self.db.execute(
            "SELECT event_id, tweet_id, rule, value, previous_value, crossed_at, late FROM events "
            "WHERE status = 'pending' AND next_attempt <= ? ORDER BY crossed_at, event_id",
            (now,),
        ).fetchall()
        return [
            CrossingEvent(
                event_id=r[0],
                tweet_id=r[1],
                rule=r[2],
                value=r[3],
                previous_value=r[4],
                crossed_at=r[5],
                late=bool(r[6]),
            )
            for r in rows
        ]

    def delivered(self, event_id: str, now: float) -> None:
        with self.db:
            self.db.execute(
                "UPDATE events SET status = 'delivered', attempts = attempts + 1, delivered_at = ? WHERE event_id = ?",
                (datetime.fromtimestamp(now, UTC).isoformat(), event_id),
            )

    def failed(self, event_id: str, error: str, retry_at: float) -> None:
        with self.db:
            self.db.execute(
                "UPDATE events SET attempts = attempts + 1, last_error = ?, next_attempt = ? WHERE event_id = ?",
                (error[:500], retry_at, event_id),
            )

    def listing(self) -> list[dict[str, Any]]:
        """Every event with its delivery status, attempts and last error (for a status display)."""
        cursor = self.db.execute(
            "SELECT event_id, tweet_id, rule, value, crossed_at, late, status, attempts, last_error, delivered_at "
            "FROM events ORDER BY crossed_at, event_id"
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# --- actions ------------------------------------------------------------------------------------------------


def webhook_action(
    url: str, secret: str, *, timeout: float = 10.0, transport: httpx.BaseTransport | None = None
) -> Callable[[CrossingEvent], None]:
    """POST the event as JSON, signed: header ``X-Engagement-Lab-Signature: sha256=<hex HMAC of the body>``."""

    def send(event: CrossingEvent) -> None:
        body = event.to_json().encode()
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: f"sha256={signature}"}
        with httpx.Client(timeout=timeout, transport=transport) as client:
            response = client.post(url, content=body, headers=headers)
        if response.status_code >= 300:
            raise EngagementLabError(f"webhook answered HTTP {response.status_code}")

    return send


def command_action(command: str, *, timeout: float = 60.0) -> Callable[[CrossingEvent], None]:
    """Run a shell-free command with the event JSON on stdin and in ``ENGAGEMENT_EVENT``; non-zero exit fails."""
    import os

    argv = shlex.split(command)

    def run(event: CrossingEvent) -> None:
        env = {**os.environ, "ENGAGEMENT_EVENT": event.to_json()}
        done = subprocess.run(
            argv, input=event.to_json(), text=True, env=env, timeout=timeout, capture_output=True, check=False
        )
        if done.returncode != 0:
            raise EngagementLabError(f"command exited {done.returncode}: {done.stderr.strip()[:200]}")

    return run


# --- the loop -----------------------------------------------------------------------------------------------


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

    def _send(self, request: EngagementRequest, account: str) -> RawResponse | None:
        """One batch, paced; 5xx, dropped connections and 429s are retried a few times, then left to the next poll."""
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
            raise_for_status(raw)  # 4xx: bad credentials or ids, not worth repeating
            return raw
        return None

    def _totals(self) -> tuple[dict[str, dict[str, int]], int]:
        totals: dict[str, dict[str, int]] = {}
        missed = 0
        for sub_query, account in self.routes:
            for request in sub_query.plan(age_rules="allow"):
                raw = self._send(request, account)
                if raw is None:
                    missed += len(request.tweet_ids)
                    continue
                for tweet_id, metrics in raw.json().get("per_tweet", {}).items():
                    totals.setdefault(tweet_id, {}).update({m: int(v) for m, v in metrics.items()})
        return totals, missed

    def poll(self) -> PollResult:
        """Poll once: record crossings, then deliver what is due."""
        now = self.clock.time()
        last = self.state.last_poll()
        downtime = last is None or now - last > 1.5 * self.interval
        totals, missed = self._totals()
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
                attempts = next(e["attempts"] for e in self.state.listing() if e["event_id"] == event.event_id)
                self.state.failed(
                    event.event_id, f"{type(exc).__name__}: {exc}", now + min(3600.0, self.retry_base * 2**attempts)
                )
            else:
                delivered += 1
                self.state.delivered(event.event_id, now)
        self.polls += 1
        pending = sum(e["status"] == "pending" for e in self.state.listing())
        return PollResult(now, len(totals), missed, tuple(events), delivered, failed, pending)

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
