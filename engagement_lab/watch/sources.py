"""Where a watcher reads lifetime totals: the Engagement API's ``/totals``, or X API v2 post analytics.

Both sources answer one question per poll: each readable tweet's lifetime totals, under the Engagement API's
metric names (so rules read the same on either), plus what could not be read. Each batch is paced by its
account's rate limiter; 5xx answers, dropped connections and 429s are retried a few times, then left to the next
poll (counted as missed); a refusal that names tweets (protected, deleted, not owned) skips those tweets for good.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx

from .. import catalog
from .. import catalog_v2 as v2
from ..analytics_query import AnalyticsQuery, AnalyticsRequest
from ..api import Credentials, EngagementClient, RateLimiter, RawResponse, route
from ..api.analytics import UNOWNED, AnalyticsClient, TokenCallback, classify_problems, split_by_owner
from ..api.client import raise_for_status
from ..api.fetch import split_refusal
from ..api.pacing import Clock
from ..errors import APIConnectionError, APITimeoutError, ConfigError
from ..ids import tweet_created_at
from ..query import EngagementQuery, EngagementRequest
from ..rules import check_ids
from ..timeutil import ceil_hour, floor_hour

__all__ = ["AnalyticsTotals", "EngagementTotals", "Read", "TotalsSource"]

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


class TotalsSource(Protocol):
    def read(self, skipped: dict[str, str]) -> Read:
        """Lifetime totals of every watched tweet not in ``skipped``; newly unreadable tweets are added to it."""

    def close(self) -> None: ...


def _body(raw: RawResponse) -> dict[str, Any]:
    try:
        body = raw.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _send(
    client: EngagementClient, limiter: RateLimiter, request: Any, account: str, reset_header: str
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


class EngagementTotals:
    """``POST /insights/engagement/totals`` per account's batch (bearer for tweets no account owns)."""

    def __init__(
        self,
        tweet_ids: Sequence[str],
        metrics: Sequence[str],
        *,
        credentials: Credentials,
        owners: Mapping[str, str] | None,
        base_url: str,
        clock: Clock,
        transport: httpx.BaseTransport | None,
    ) -> None:
        query = EngagementQuery("totals", list(tweet_ids), list(metrics), "per_tweet")
        self.routes = route(query, credentials, owners)
        self.limiter = RateLimiter(clock=clock)
        # OAuth timestamps from the same clock, so a watcher on simulated time signs consistently
        self.client = EngagementClient(credentials, base_url=base_url, transport=transport, oauth_clock=clock.time)

    def read(self, skipped: dict[str, str]) -> Read:
        out = Read()
        for sub_query, account in self.routes:
            ids = [i for i in sub_query.tweet_ids if i not in skipped]  # type: ignore[union-attr]
            if not ids:
                continue
            queue: list[EngagementRequest] = list(replace(sub_query, tweet_ids=ids).plan(age_rules="allow"))
            while queue:
                request = queue.pop(0)
                raw = _send(self.client, self.limiter, request, account, catalog.HEADER_RESET)
                if raw is None:
                    out.missed += len(request.tweet_ids)
                    continue
                body = _body(raw)
                refusal = None if raw.status_code == 200 else split_refusal(request, account, raw.status_code, body)
                if raw.status_code != 200 and refusal is None:
                    raise_for_status(raw)  # bad credentials or ids are not worth repeating
                if refusal is not None:
                    dropped = refusal[1]
                else:
                    unavailable = body.get(catalog.UNAVAILABLE_TWEET_IDS, [])
                    listed = [str(i) for i in unavailable] if isinstance(unavailable, list) else []
                    dropped = dict.fromkeys(listed, "unavailable: deleted or protected")
                for tweet_id, reason in dropped.items():
                    if tweet_id in request.tweet_ids:
                        out.skip(skipped, tweet_id, reason)
                if refusal is not None:
                    queue.extend(refusal[0])
                    continue
                asked = set(request.tweet_ids)
                for tweet_id, metrics in (body.get("per_tweet") or {}).items():
                    if tweet_id not in asked or not isinstance(metrics, dict):
                        out.unexpected += 1
                        continue
                    out.totals.setdefault(tweet_id, {}).update({m: int(v) for m, v in metrics.items()})
        return out

    def close(self) -> None:
        self.client.close()


class AnalyticsTotals:
    """``GET /2/tweets/analytics`` with ``granularity=total`` from each tweet's creation hour to now.

    v2 has no lifetime endpoint, so a tweet's lifetime total is its total over ``[creation hour, now)``: the
    creation time is read from the snowflake id, each account's tweets are batched (100 per request, oldest
    together) and a range longer than ``max_window`` is asked in contiguous windows whose totals are added
    (windows are disjoint stretches of time, so their amounts add; a cumulative snapshot never is). A metric the
    API leaves null in any window stays missing, never 0. Ids from before snowflake ids (2010-11-04) carry no
    creation time and are refused when the watcher is built.
    """

    def __init__(
        self,
        tweet_ids: Sequence[str],
        metrics: Sequence[str],
        *,
        credentials: Credentials,
        owners: Mapping[str, str] | None,
        base_url: str,
        clock: Clock,
        transport: httpx.BaseTransport | None,
        max_window: timedelta = v2.MAX_WINDOW_CHOICE,
        on_token_refresh: TokenCallback | None = None,
    ) -> None:
        ids = check_ids(list(tweet_ids))
        old = [i for i in ids if int(i) < catalog.SNOWFLAKE_MIN_ID]
        if old:
            raise ConfigError(
                f"{len(old)} id(s) predate snowflake ids (e.g. {old[0]}), so their creation time is unknown and "
                "X API v2 cannot be asked for their lifetime totals; watch them with the Engagement API "
                "(api='engagement')"
            )
        self.fields = tuple(dict.fromkeys(v2.FROM_ENGAGEMENT_NAMES.get(m, m) for m in metrics))
        self.max_window, self.clock = max_window, clock
        self.groups = split_by_owner(ids, credentials, owners or {})
        self.limiters = {
            handle: RateLimiter(
                clock=clock,
                window=v2.RATE_WINDOW_SECONDS,
                header_names=(v2.HEADER_LIMIT, v2.HEADER_REMAINING, v2.HEADER_RESET),
            )
            for handle in self.groups
        }
        for share in self.groups.values():  # plan once now, so a bad max_window is refused here, not at the first poll
            self._requests(share)
        self.client = AnalyticsClient(
            credentials, base_url=base_url, transport=transport, on_token_refresh=on_token_refresh,
            oauth_clock=clock.time,
        )  # fmt: skip

    def _requests(self, ids: list[str]) -> list[list[AnalyticsRequest]]:
        """Per batch of up to 100 ids (oldest first), the windows from the oldest's creation hour to now."""
        now = datetime.fromtimestamp(self.clock.time(), UTC)
        end = ceil_hour(now)
        ordered = sorted(ids, key=int)  # snowflake ids sort by creation time
        batches = []
        for i in range(0, len(ordered), v2.MAX_IDS):
            batch = ordered[i : i + v2.MAX_IDS]
            start = min(floor_hour(tweet_created_at(batch[0])), end - timedelta(hours=1))
            query = AnalyticsQuery(batch, start, end, "total", list(self.fields), self.max_window)
            batches.append(query.plan(now=now))
        return batches

    def read(self, skipped: dict[str, str]) -> Read:
        out = Read()
        for account, ids in self.groups.items():
            due = [i for i in ids if i not in skipped]
            for windows in self._requests(due) if due else []:
                sums: dict[str, dict[str, int | None]] = {}
                answers: dict[str, int] = {}
                complete = all(self._window(request, account, sums, answers, skipped, out) for request in windows)
                for tweet_id in windows[0].ids:
                    if tweet_id in skipped:
                        continue
                    if not complete or answers.get(tweet_id) != len(windows):
                        out.missed += 1  # a window without its answer: no total this poll (never a partial one)
                        continue
                    out.totals[tweet_id] = {
                        v2.TO_ENGAGEMENT_NAMES.get(m, m): v for m, v in sums[tweet_id].items() if v is not None
                    }
        return out

    def _window(
        self,
        request: AnalyticsRequest,
        account: str,
        sums: dict[str, dict[str, int | None]],
        answers: dict[str, int],
        skipped: dict[str, str],
        out: Read,
    ) -> bool:
        """Add one window's totals into ``sums`` (``answers`` counts the windows each id answered in); False when
        the window could not be read this poll."""
        raw = _send(self.client, self.limiters[account], request, account, v2.HEADER_RESET)
        if raw is None:
            return False
        if raw.status_code != 200:
            raise_for_status(raw)  # 4xx: bad tokens or a malformed request are not worth repeating
        body = _body(raw)
        kinds, _others = classify_problems(body, request.ids)  # any other problem: that id is missed this poll
        for tweet_id, kind in kinds.items():
            reason = (
                f"not a post of account {account!r} (X API v2 serves analytics only to the post's owner)"
                if kind == UNOWNED
                else "unavailable: deleted, missing or protected"
            )
            out.skip(skipped, tweet_id, reason)
        asked = set(request.ids)
        for item in body.get("data") or []:
            found = item.get("id") if isinstance(item, dict) else None
            if not isinstance(found, str) or found not in asked or found in kinds:
                out.unexpected += 1
                continue
            tweet_id = found
            asked.discard(tweet_id)  # an id answered twice in one window counts once
            answers[tweet_id] = answers.get(tweet_id, 0) + 1
            window = sums.setdefault(tweet_id, dict.fromkeys(self.fields, 0))
            for metric in self.fields:
                value, before = _window_total(item, metric), window[metric]
                window[metric] = None if value is None or before is None else before + value
        return True

    def close(self) -> None:
        self.client.close()


def _window_total(item: dict[str, Any], metric: str) -> int | None:
    """A metric's total over the window: the flat integer when the answer has one, else the sum of its buckets;
    ``None`` when it is missing or null anywhere or not an integer (a missing count is not a zero)."""
    if metric in item:  # a flat value that is null or not an integer is not replaced by a guess
        flat = item[metric]
        return flat if isinstance(flat, int) and not isinstance(flat, bool) else None
    buckets = item.get("timestamped_metrics")
    if not isinstance(buckets, list) or not buckets:
        return None
    total = 0
    for bucket in buckets:
        value = bucket.get("metrics", {}).get(metric) if isinstance(bucket, dict) else None
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        total += value
    return total
