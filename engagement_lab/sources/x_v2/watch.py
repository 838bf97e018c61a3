"""The watcher's reader of X API v2: ``GET /2/tweets/analytics`` with ``granularity=total`` from each tweet's
creation hour to now; see :mod:`engagement_lab.watch.readers`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from ...api.pacing import RateLimiter
from ...errors import ConfigError
from ...ids import SNOWFLAKE_MIN_ID, tweet_created_at
from ...timeutil import ceil_hour, floor_hour
from ...watch.readers import Read, Watched, answer_body, send_paced
from ..checks import check_ids
from . import catalog as v2
from .client import AnalyticsClient, TokenCallback, raise_for_status
from .fetch import UNOWNED, classify_problems, split_by_owner
from .query import AnalyticsQuery, AnalyticsRequest

__all__ = ["AnalyticsTotals"]


class AnalyticsTotals:
    """``GET /2/tweets/analytics`` with ``granularity=total`` from each tweet's creation hour to now.

    v2 has no lifetime endpoint, so a tweet's lifetime total is its total over ``[creation hour, now)``: the
    creation time is read from the snowflake id, each account's tweets are batched (100 per request, oldest
    together) and a range longer than ``max_window`` is asked in contiguous windows whose totals are added
    (windows are disjoint stretches of time, so their amounts add; a cumulative snapshot never is). A metric the
    API leaves null in any window stays missing, never 0. Ids from before snowflake ids (2010-11-04) carry no
    creation time and are refused when the watcher is built.
    """

    what: ClassVar[str] = "X API v2 post analytics"
    served: ClassVar[tuple[str, ...]] = tuple(v2.TO_ENGAGEMENT_NAMES.get(m, m) for m in v2.POST_METRICS)
    default_base_url: ClassVar[str] = v2.V2_BASE_URL
    options: ClassVar[tuple[str, ...]] = ("max_window", "on_token_refresh")

    def __init__(
        self,
        watched: Watched,
        *,
        max_window: timedelta = v2.MAX_WINDOW_CHOICE,
        on_token_refresh: TokenCallback | None = None,
    ) -> None:
        ids = check_ids(list(watched.tweet_ids))
        old = [i for i in ids if int(i) < SNOWFLAKE_MIN_ID]
        if old:
            raise ConfigError(
                f"{len(old)} id(s) predate snowflake ids (e.g. {old[0]}), so their creation time is unknown and "
                "X API v2 cannot be asked for their lifetime totals; watch them with the Engagement API "
                "(api='engagement')"
            )
        self.fields = tuple(dict.fromkeys(v2.FROM_ENGAGEMENT_NAMES.get(m, m) for m in watched.metrics))
        self.max_window, self.clock = max_window, watched.clock
        self.groups = split_by_owner(ids, watched.credentials, watched.owners or {})
        self.limiters = {
            handle: RateLimiter(header_names=v2.RATE_LIMIT_HEADERS, clock=self.clock, window=v2.RATE_WINDOW_SECONDS)
            for handle in self.groups
        }
        for share in self.groups.values():  # plan once now, so a bad max_window is refused here, not at the first poll
            self._requests(share)
        self.client = AnalyticsClient(
            watched.credentials, base_url=watched.base_url, transport=watched.transport,
            on_token_refresh=on_token_refresh, oauth_clock=self.clock.time,
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
        raw = send_paced(self.client, self.limiters[account], request, account, v2.HEADER_RESET)
        if raw is None:
            return False
        if raw.status_code != 200:
            raise_for_status(raw)  # 4xx: bad tokens or a malformed request are not worth repeating
        body = answer_body(raw)
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
