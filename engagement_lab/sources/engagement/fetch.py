"""fetch(): plan -> route to accounts -> paced concurrent sends -> archive -> FetchResult.

Nothing is lost and nothing is fetched twice: every answer that carries data (or tells which ids to drop)
is archived under its request key before the next step, and a rerun skips every archived key, re-deriving
follow-up requests (after a 403 for unowned ids, or a 400 for protected ones) from the archived answer.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Unpack

from ...api.archive import Archive
from ...api.auth import BEARER, Credentials
from ...api.http import RawResponse
from ...api.pacing import RateLimiter
from ...api.result import FetchResult
from ...api.runner import FetchOptions, FetchSettings, Item, Outcome, Runner, drive
from ...errors import ConfigError, EngagementLabError
from ...options import renamed
from . import catalog
from .client import EngagementClient, forbidden_ids, raise_for_status
from .query import AgeRules, EngagementQuery, EngagementRequest

__all__ = ["EngagementJudge", "FetchResult", "fetch", "route", "split_refusal"]


def route(
    query: EngagementQuery,
    credentials: Credentials,
    owners: Mapping[str, str] | None = None,
    *,
    now: datetime | None = None,
) -> list[tuple[EngagementQuery, str]]:
    """Split a query by the account that must sign for each tweet.

    Owned tweets go to their owner's tokens; with one account, unknown owners go to it. On ``/totals``, tweets
    no account owns go to the bearer token for the query's public metrics (the others need the owner).
    """
    if query.auth == "bearer":
        return [(query, BEARER)]
    owners = owners or {}
    validated = query.validate(now=now, age_rules="allow")  # an empty or malformed query fails here, clearly
    ids = list(validated.tweet_ids)
    groups: dict[str, list[str]] = {}
    orphans: list[str] = []
    for tweet_id in ids:
        handle = owners.get(tweet_id)
        if handle is None and len(credentials.accounts) == 1:
            handle = next(iter(credentials.accounts))
        if handle is None:
            orphans.append(tweet_id)
        else:
            groups.setdefault(handle, []).append(tweet_id)
    routed: list[tuple[EngagementQuery, str]] = []
    if orphans:
        public = [m for m in validated.engagement_types if m in catalog.PUBLIC_METRICS]
        if query.endpoint == "totals" and public and credentials.bearer_token:
            routed.append((replace(query, tweet_ids=orphans, engagement_types=public, auth="bearer"), BEARER))
        else:
            raise ConfigError(
                f"{len(orphans)} tweet id(s) have no known owner (e.g. {orphans[0]}) and there are "
                f"{len(credentials.accounts)} accounts with tokens; give owners (an 'account' column in the ids "
                "file) so each tweet is fetched with its owner's tokens"
            )
    for handle in groups:
        credentials.account(handle)  # fail early, naming the missing account
    return [(replace(query, tweet_ids=g), h) for h, g in groups.items()] + routed


def _error_strings(body: Any) -> list[str]:
    """The ``errors`` strings of a decoded answer (none when it is not an object)."""
    return [str(m) for m in body.get("errors", [])] if isinstance(body, dict) else []


def _follow_ups(item: Item, status: int, body: Any, bearer: bool) -> Outcome:
    """What to send instead after a partial refusal, from the answer's text (live or archived)."""
    out = Outcome()
    request = item.request
    messages = _error_strings(body)
    if status == 403:
        out.unowned = [i for i in forbidden_ids(messages) if i in request.tweet_ids]
        drop = set(out.unowned)
        public = [m for m in request.engagement_types if m in catalog.PUBLIC_METRICS]
        if out.unowned and bearer and request.endpoint == "totals" and public and item.account != BEARER:
            out.followups.append(
                Item(
                    replace(request, tweet_ids=tuple(out.unowned), engagement_types=tuple(public), auth="bearer"),
                    BEARER,
                )
            )
    else:  # 400 for protected tweets
        out.unavailable = [str(i) for i in body.get(catalog.UNAVAILABLE_TWEET_IDS, []) if str(i) in request.tweet_ids]
        drop = set(out.unavailable)
        if not drop and len(request.tweet_ids) > 1:  # the API did not say which: bisect
            half = len(request.tweet_ids) // 2
            out.followups += [Item(replace(request, tweet_ids=request.tweet_ids[:half]), item.account)]
            out.followups += [Item(replace(request, tweet_ids=request.tweet_ids[half:]), item.account)]
            return out
        if not drop:
            out.unavailable = list(request.tweet_ids)
            return out
    rest = tuple(i for i in request.tweet_ids if i not in drop)
    if rest:
        out.followups.insert(0, Item(replace(request, tweet_ids=rest), item.account))
    return out


def split_refusal(
    request: EngagementRequest, account: str, status: int, body: Any
) -> tuple[list[EngagementRequest], dict[str, str]] | None:
    """For a partial refusal (403 naming unowned ids, 400 for unavailable ones): the requests to send instead
    (the rest of the ids, or halves when the API did not name them) and each dropped id with the reason.
    ``None`` when the answer is not a partial refusal."""
    if not _partial(status, body):
        return None
    found = _follow_ups(Item(request, account), status, body, bearer=False)
    dropped = dict.fromkeys(found.unowned, "not owned by the account (403)")
    dropped.update(dict.fromkeys(found.unavailable, "unavailable: deleted or protected"))
    return [f.request for f in found.followups], dropped


def _partial(raw_status: int, body: Any) -> bool:
    """A refusal that names ids to drop: 403 'Forbidden to access tweets', or 400 for unavailable tweets."""
    messages = _error_strings(body)
    if raw_status == 403:
        return bool(forbidden_ids(messages))
    return raw_status == 400 and any("Tweet ID(s) are unavailable" in m for m in messages)


def _reserved(outcome: Outcome, body: Any) -> None:
    if isinstance(body, dict):
        outcome.unavailable += [str(i) for i in body.get(catalog.UNAVAILABLE_TWEET_IDS, [])]
        outcome.unsupported_video += [str(i) for i in body.get(catalog.UNSUPPORTED_VIDEO_VIEWS, [])]
        outcome.unsupported_ie += [str(i) for i in body.get(catalog.UNSUPPORTED_IMPRESSIONS_ENGAGEMENTS, [])]


@dataclass(frozen=True)
class EngagementJudge:
    """What the Engagement API's answers mean: a 200 carries data (and lists the tweets it could not serve); a
    403 naming unowned tweets or a 400 for protected ones is archived, and the rest of the batch is sent again
    (unowned tweets' public metrics through the bearer token when there is one); any other status is an error."""

    bearer: bool
    """Whether the credentials hold an app-only bearer token."""
    reset_header: str = catalog.HEADER_RESET
    archive_tags: Mapping[str, str] = field(default_factory=dict)

    def keep(self, item: Item, status: int, body: Any) -> bool:
        return status == 200 or _partial(status, body)

    def read(self, item: Item, status: int, body: Any, outcome: Outcome) -> None:
        if status == 200:
            _reserved(outcome, body)
            return
        found = _follow_ups(item, status, body, self.bearer)
        outcome.followups, outcome.unowned, outcome.unavailable = found.followups, found.unowned, found.unavailable

    def refusal(self, item: Item, raw: RawResponse, body: Any) -> tuple[str, bool]:
        try:
            raise_for_status(raw)
        except EngagementLabError as exc:
            return str(exc), raw.status_code == 401
        return f"HTTP {raw.status_code} from {item.request.path}", False


def fetch(
    queries: EngagementQuery | Iterable[EngagementQuery],
    *,
    credentials: Credentials,
    out: str | Path,
    owners: Mapping[str, str] | None = None,
    base_url: str = catalog.BASE_URL,
    age_rules: AgeRules = "allow",
    requests_per_minute: int | None = None,
    **options: Unpack[FetchOptions],
) -> FetchResult:
    """Fetch one or more queries into an archive directory, paced, retried and resumable.

    Parameters
    ----------
    queries : EngagementQuery or iterable of them
    credentials : Credentials
    out : path
        The archive directory; a rerun with the same queries skips every archived request.
    owners : mapping of tweet id -> account handle, optional
        Which account's tokens read each tweet (an ids CSV's ``account`` column).
    base_url : str
        The API (the sandbox's URL for local work).
    age_rules : {"allow", "raise"}
        Whether metrics the API does not serve at a tweet's age are an error before sending (default: let
        the API answer partially; the tweets are listed in the result).
    requests_per_minute : int, optional
        The previous release's name of ``requests_per_window``.
    **options
        How the fetch runs, the same for every API: ``concurrency``, ``requests_per_window``, ``retry``,
        ``clock``, ``on_wait``, ``transport``, ``now``, ``progress``, ``timeout``, ``max_response_bytes``,
        ``unreachable_after`` (:class:`engagement_lab.api.runner.FetchOptions`).

    Returns
    -------
    FetchResult
    """
    per_window = renamed("requests_per_minute", requests_per_minute, "requests_per_window",
                         options.get("requests_per_window"))  # fmt: skip
    run = FetchSettings.of({**options, "requests_per_window": per_window}, credentials, base_url)
    limiter = RateLimiter(
        header_names=catalog.RATE_LIMIT_HEADERS, clock=run.clock, per_window=run.requests_per_window,
        on_wait=run.on_wait,
    )  # fmt: skip
    started = time.perf_counter()
    with (
        Archive(Path(out)) as archive,
        EngagementClient(credentials, base_url=base_url, **run.client_options()) as client,
    ):
        # plan by the API's clock: "the end is in the future" is the server's judgement
        now = run.now if run.now is not None else client.server_time(give_up_after=run.unreachable_after)
        items, unowned = _plan(queries, credentials, owners, now, age_rules)
        judge = EngagementJudge(bearer=credentials.bearer_token is not None)
        runner = Runner(client, archive, lambda _: limiter, run.retry, run.clock, judge, run.unreachable_after)
        outcomes = drive(runner, items, run.concurrency, run.progress, "fetch")
    return FetchResult.collect(
        outcomes,
        archive=archive.root,
        planned=len(items),
        limiter=limiter,
        elapsed=time.perf_counter() - started,
        routed_unowned=unowned,
    )


def _plan(
    queries: EngagementQuery | Iterable[EngagementQuery],
    credentials: Credentials,
    owners: Mapping[str, str] | None,
    now: datetime | None,
    age_rules: AgeRules,
) -> tuple[list[Item], list[str]]:
    """Every planned request with the account that signs it, and the ids routed to the bearer token."""
    items, unowned = [], []
    for query in [queries] if isinstance(queries, EngagementQuery) else list(queries):
        for sub_query, account in route(query, credentials, owners, now=now):
            if account == BEARER and query.auth == "user":
                unowned += [str(i) for i in sub_query.tweet_ids]  # type: ignore[union-attr]
            items += [Item(request, account) for request in sub_query.plan(now=now, age_rules=age_rules)]
    return items, unowned
