"""X API v2 post and media analytics fetched into an archive: plan -> route to accounts -> paced by each user's
``x-rate-limit-*`` budget -> retried -> archived -> FetchResult.

The runner, archive, resume, retry policy and result are shared with the Engagement API
(:mod:`engagement_lab.api.runner`): a rerun skips every archived request key; an answer is archived before
anything else happens. What is X API v2's own (:class:`AnalyticsJudge`): a ``GET`` with comma-joined ids; a budget
of 300 requests per 15 minutes *per user*, so each account has its own limiter; a 200 may carry one RFC 7807
``Problem`` per failed id (recorded per id, the rest kept); an app-only bearer token is not accepted, so every id
needs an account.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Unpack

from ...api.archive import Archive
from ...api.auth import Credentials
from ...api.http import RawResponse
from ...api.pacing import RateLimiter
from ...api.result import FetchResult
from ...api.runner import FetchOptions, FetchSettings, Item, Outcome, Runner, SummedWaits, drive
from ...errors import ConfigError
from . import catalog as v2
from .client import AnalyticsClient, TokenCallback
from .query import AnalyticsQuery, AnalyticsRequest, MediaAnalyticsQuery

__all__ = [
    "AnalyticsClient",
    "AnalyticsJudge",
    "classify_problems",
    "fetch_analytics",
    "problems_of",
    "set_aside_unowned",
    "split_by_owner",
]

Query = AnalyticsQuery | MediaAnalyticsQuery


def problems_of(body: Any) -> list[dict[str, Any]]:
    """The RFC 7807 problems of a v2 answer (``errors``); plain ``{code, message}`` errors are kept as they are."""
    found = body.get("errors", []) if isinstance(body, dict) else []
    return [p for p in found if isinstance(p, dict)]


def _explain(status: int, body: Any, request: AnalyticsRequest, account: str) -> str:
    detail = ""
    if isinstance(body, dict):
        detail = str(body.get("detail") or body.get("title") or "")
        if not detail:
            detail = "; ".join(str(p.get("message", p)) for p in problems_of(body))
    hint = {
        401: " Check the account's OAuth 2.0 token (`engagement-lab auth oauth2`) or OAuth 1.0a tokens.",
        403: " X API v2 analytics needs a user token (OAuth 2.0 or 1.0a), not the app-only bearer token.",
        400: " The request broke a rule the API enforces.",
    }.get(status, "")
    return f"HTTP {status} from {request.path} ({account}): {detail or 'no error text'}.{hint}"


UNOWNED, UNAVAILABLE = "unowned", "unavailable"


def classify_problems(body: Any, ids: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """The per-id problems of a 200, by kind: an asked id that is not the user's post -> ``"unowned"``, missing,
    deleted or protected -> ``"unavailable"``; every other problem as a line of text."""
    kinds: dict[str, str] = {}
    others = []
    for p in problems_of(body):
        item = str(p.get("resource_id") or p.get("value") or "")
        kind = str(p.get("type", "")).removeprefix(v2.PROBLEM_PREFIX)
        if item and item in ids and kind == "not-authorized-for-resource":
            kinds[item] = UNOWNED
        elif item and item in ids and kind in ("resource-not-found", "resource-unavailable"):
            kinds[item] = UNAVAILABLE
        else:
            others.append(f"{item or '?'}: {p.get('title') or kind} ({p.get('detail', '')})")
    return kinds, others


def _classify(outcome: Outcome, body: Any, request: AnalyticsRequest) -> None:
    kinds, others = classify_problems(body, request.ids)
    outcome.unowned += [item for item, kind in kinds.items() if kind == UNOWNED]
    outcome.unavailable += [item for item, kind in kinds.items() if kind == UNAVAILABLE]
    if others:
        outcome.error = f"{request.path} reported problems for some ids: " + "; ".join(others[:5])


@dataclass(frozen=True)
class AnalyticsJudge:
    """What X API v2 analytics answers mean: a 200 whose body is an object carries data (and one problem per id
    it could not serve: not the user's post, deleted, protected); any other status is an error, and a 401 or 403
    means the account's token cannot read analytics (its other requests are not sent)."""

    reset_header: str = v2.HEADER_RESET
    archive_tags: Mapping[str, str] = field(default_factory=lambda: {"api": "x-v2"})

    def keep(self, item: Item, status: int, body: Any) -> bool:
        return status == 200 and isinstance(body, dict)

    def read(self, item: Item, status: int, body: Any, outcome: Outcome) -> None:
        _classify(outcome, body, item.request)

    def refusal(self, item: Item, raw: RawResponse, body: Any) -> tuple[str, bool]:
        return _explain(raw.status_code, body, item.request, item.account), raw.status_code in (401, 403)


def split_by_owner(ids: Iterable[str], credentials: Credentials, owners: Mapping[str, str]) -> dict[str, list[str]]:
    """Each account's share of ``ids`` (v2 has no app-only fallback, so every id needs the account that owns it;
    with one account, all of them). Raises ConfigError naming an id without an owner or a missing account."""
    groups: dict[str, list[str]] = {}
    only = next(iter(credentials.accounts)) if len(credentials.accounts) == 1 else None
    for item in ids:
        handle = owners.get(item) or only
        if handle is None:
            raise ConfigError(
                f"id {item} has no known owner and there are {len(credentials.accounts)} accounts with tokens; "
                "give owners (an 'account' column in the ids file) so each id is read with its owner's token"
            )
        groups.setdefault(handle, []).append(item)
    for handle in groups:
        credentials.account(handle)  # fail early, naming a missing account
    return groups


def set_aside_unowned(
    ids: Iterable[str], credentials: Credentials, owners: Mapping[str, str]
) -> tuple[list[str], dict[str, list[str]]]:
    """The ids to fetch, and those set aside by account: ids whose owner (the ids file's ``account`` column) has no
    user token here, e.g. a competitor's or a protected account. X API v2 serves analytics only to a post's author
    and has no app-only fallback, so nothing could read them; they are reported as unowned, as the Engagement
    API's fetch reports the tweets an account does not own, and the rest are fetched."""
    kept: list[str] = []
    aside: dict[str, list[str]] = {}
    for item in ids:
        handle = owners.get(item)
        if handle is not None and handle not in credentials.accounts:
            aside.setdefault(handle, []).append(item)
        else:
            kept.append(item)
    return kept, aside


def _route(
    queries: list[Query], credentials: Credentials, owners: Mapping[str, str], now: datetime | None
) -> tuple[list[Item], dict[str, list[str]]]:
    """Split each query's ids by the account that must read them, then plan each account's share, so no request
    mixes two users' ids. Ids of accounts without a token are set aside (:func:`set_aside_unowned`)."""
    routed: list[Item] = []
    aside: dict[str, list[str]] = {}
    for query in queries:
        kept, skipped = set_aside_unowned(query.validate(now=now).ids, credentials, owners)
        for handle, ids in skipped.items():
            aside.setdefault(handle, []).extend(i for i in ids if i not in aside[handle])
        for handle, ids in split_by_owner(kept, credentials, owners).items():
            share: Query = (
                replace(query, tweet_ids=ids) if isinstance(query, AnalyticsQuery) else replace(query, media_keys=ids)
            )
            routed += [Item(request, handle) for request in share.plan(now=now)]
    return routed, aside


def fetch_analytics(
    queries: Query | Iterable[Query],
    *,
    credentials: Credentials,
    out: str | Path,
    owners: Mapping[str, str] | None = None,
    base_url: str = v2.V2_BASE_URL,
    on_token_refresh: TokenCallback | None = None,
    rate_window_seconds: float = v2.RATE_WINDOW_SECONDS,
    **options: Unpack[FetchOptions],
) -> FetchResult:
    """Fetch v2 post (or media) analytics into an archive directory: paced, retried, resumable.

    Parameters
    ----------
    queries : AnalyticsQuery, MediaAnalyticsQuery, or an iterable of them
    credentials : Credentials
        Accounts with an OAuth 2.0 user token (``engagement-lab auth oauth2``) or OAuth 1.0a tokens.
    out : path
        The archive directory (the same format as the Engagement API's; both can share one).
    owners : mapping of id -> account handle, optional
        Which account reads each id; with one account, all of them. Ids of an account with no user token in
        ``credentials`` (a competitor's, a protected account) are set aside and reported in
        ``unowned_tweet_ids`` and ``set_aside``; the rest are fetched.
    base_url : str
        The API (the sandbox's URL for local work).
    on_token_refresh : callable, optional
        ``(handle, token)`` after an OAuth 2.0 token was refreshed: save it (the CLI rewrites the credentials
        file), since the old refresh token stops working.
    rate_window_seconds : float
        The budget window (900 s for the real API).
    **options
        How the fetch runs, as for :func:`engagement_lab.fetch` (:class:`engagement_lab.api.runner.FetchOptions`);
        ``requests_per_window`` is each user's budget per ``rate_window_seconds``.
    """
    run = FetchSettings.of(options, credentials, base_url)
    started = time.perf_counter()
    with (
        Archive(Path(out)) as archive,
        AnalyticsClient(
            credentials,
            base_url=base_url,
            **run.client_options(),
            on_token_refresh=on_token_refresh,
            oauth_clock=run.clock.time,  # OAuth 1.0a timestamps by the fetch's clock
        ) as client,
    ):
        now = run.now if run.now is not None else client.server_time(give_up_after=run.unreachable_after)
        listed = [queries] if isinstance(queries, (AnalyticsQuery, MediaAnalyticsQuery)) else list(queries)
        items, aside = _route(listed, credentials, owners or {}, now)
        limiters = {
            handle: RateLimiter(
                header_names=v2.RATE_LIMIT_HEADERS,
                clock=run.clock,
                per_window=run.requests_per_window,
                on_wait=run.on_wait,
                window=rate_window_seconds,
            )
            for handle in {item.account for item in items}
        }
        judge = AnalyticsJudge()
        runner = Runner(client, archive, limiters.__getitem__, run.retry, run.clock, judge, run.unreachable_after)
        outcomes = drive(runner, items, run.concurrency, run.progress, "fetch v2")
    return FetchResult.collect(
        outcomes, archive=archive.root, planned=len(items), limiter=SummedWaits(list(limiters.values())),
        elapsed=time.perf_counter() - started, api="x-v2",
        routed_unowned=[i for ids in aside.values() for i in ids],
        set_aside=tuple(f"{who}: {len(ids)} id(s) (no user token for this account)" for who, ids in aside.items()),
    )  # fmt: skip
