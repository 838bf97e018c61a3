"""The watcher's reader of the Engagement API: ``POST /insights/engagement/totals`` per account's batch (the
bearer token for tweets no account owns); see :mod:`engagement_lab.watch.readers`."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from ...api.pacing import RateLimiter
from ...errors import ResponseFormatError
from ...watch.readers import Read, Watched, answer_body, send_paced
from . import catalog
from .client import EngagementClient, raise_for_status
from .fetch import route, split_refusal
from .query import EngagementQuery, EngagementRequest

__all__ = ["EngagementTotals"]


class EngagementTotals:
    """``POST /insights/engagement/totals`` per account's batch (bearer for tweets no account owns)."""

    what: ClassVar[str] = "/totals"
    served: ClassVar[tuple[str, ...]] = catalog.ENDPOINTS["totals"].metrics
    default_base_url: ClassVar[str] = catalog.BASE_URL
    options: ClassVar[tuple[str, ...]] = ()

    def __init__(self, watched: Watched) -> None:
        query = EngagementQuery("totals", list(watched.tweet_ids), list(watched.metrics), "per_tweet")
        self.routes = route(query, watched.credentials, watched.owners)
        self.limiter = RateLimiter(header_names=catalog.RATE_LIMIT_HEADERS, clock=watched.clock)
        self.client = EngagementClient(
            watched.credentials, base_url=watched.base_url, transport=watched.transport, oauth_clock=watched.clock.time
        )

    def read(self, skipped: dict[str, str]) -> Read:
        out = Read()
        for sub_query, account in self.routes:
            ids = [i for i in sub_query.tweet_ids if i not in skipped]  # type: ignore[union-attr]
            if not ids:
                continue
            queue: list[EngagementRequest] = list(replace(sub_query, tweet_ids=ids).plan(age_rules="allow"))
            while queue:
                request = queue.pop(0)
                raw = send_paced(self.client, self.limiter, request, account, catalog.HEADER_RESET)
                if raw is None:
                    out.missed += len(request.tweet_ids)
                    continue
                body = answer_body(raw)
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
                    out.totals.setdefault(tweet_id, {}).update({m: _count(tweet_id, m, v) for m, v in metrics.items()})
        return out

    def close(self) -> None:
        self.client.close()


def _count(tweet_id: str, metric: str, value: object) -> int:
    """A lifetime total as the API sends it (a string of decimal digits, or a JSON integer); anything else (a sign,
    hex, spaces, ``1_000``, other scripts' digits, which ``int()`` would accept) is refused, never guessed."""
    if type(value) is int and value >= 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise ResponseFormatError(
        f"tweet {tweet_id!r} {metric!r}: {value!r} is not a count (the API sends decimal digits only)",
        path=f"$['per_tweet'][{tweet_id!r}][{metric!r}]",
    )
