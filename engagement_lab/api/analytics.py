"""X API v2 post and media analytics: a client (one GET, user-context auth) and ``fetch_analytics`` (plan ->
route to accounts -> paced by each user's ``x-rate-limit-*`` budget -> retried -> archived -> FetchResult).

The archive, resume, retry policy and result are the Engagement API's (:mod:`engagement_lab.api.fetch`): a
rerun skips every archived request key; an answer is archived before anything else happens. What differs: a
``GET`` with comma-joined ids; the budget is 300 requests per 15 minutes *per user*, so each account has its own
limiter; a 200 may carry one RFC 7807 ``Problem`` per failed id (recorded per id, the rest kept); an app-only
bearer token is not accepted, so every id needs an account.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from .. import catalog_v2 as v2
from .._version import __version__
from ..analytics_query import AnalyticsQuery, AnalyticsRequest, MediaAnalyticsQuery
from ..errors import APIConnectionError, APITimeoutError, AuthenticationError, ConfigError
from .archive import Archive
from .auth import AccountTokens, Credentials, OAuth1Auth, OAuth2Token
from .client import EngagementClient, RawResponse, check_base_url
from .oauth2 import OAuth2UserAuth
from .pacing import Clock, RateLimiter, RetryPolicy, SystemClock, WaitCallback
from .result import FetchResult

__all__ = ["AnalyticsClient", "classify_problems", "fetch_analytics", "problems_of", "split_by_owner"]

Query = AnalyticsQuery | MediaAnalyticsQuery
TokenCallback = Callable[[str, OAuth2Token], None]


class AnalyticsClient(EngagementClient):
    """``send(request, account=...)``: one ``GET`` of ``/2/tweets/analytics`` or ``/2/media/analytics``.

    Each account signs with its OAuth 2.0 user token when it has one (refreshed when expired; ``on_token_refresh
    (handle, token)`` hears of each new token), else with OAuth 1.0a user context."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        base_url: str = v2.V2_BASE_URL,
        transport: httpx.BaseTransport | None = None,
        on_token_refresh: TokenCallback | None = None,
        **options: Any,
    ) -> None:
        super().__init__(credentials, base_url=base_url, transport=transport, **options)
        self._on_refresh = on_token_refresh
        self._auth_lock = threading.Lock()

    def auth_for(self, account: str) -> httpx.Auth:
        with self._auth_lock:
            if account not in self._auths:
                tokens: AccountTokens = self.credentials.account(account)
                if tokens.oauth2 is not None:
                    callback = self._on_refresh
                    self._auths[account] = OAuth2UserAuth(
                        tokens.oauth2,
                        client_id=self.credentials.oauth2_client_id,
                        base_url=self.base_url,
                        on_refresh=(lambda token: callback(account, token)) if callback else None,
                    )
                elif tokens.access_token:
                    c, clock = self.credentials, self._oauth_clock
                    stamp = (lambda: str(int(clock()))) if clock is not None else None
                    self._auths[account] = OAuth1Auth(
                        c.consumer_key,
                        c.consumer_secret,
                        tokens.access_token,
                        tokens.access_token_secret,
                        timestamp=stamp,
                    )
                else:
                    raise ConfigError(
                        f"account {account!r} has no user token for X API v2; run `engagement-lab auth v2`"
                    )
            return self._auths[account]

    def send(self, request: Any, *, account: str, check: bool = False) -> RawResponse:
        """Send one analytics request (never raises for a status: the fetch judges every answer)."""
        assert isinstance(request, AnalyticsRequest)
        url = self.base_url + request.path
        params = request.params()
        headers = {
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
            "User-Agent": f"engagement-lab/{__version__}",
        }
        t0 = time.perf_counter()
        try:
            response = self._http.get(url, params=params, headers=headers, auth=self.auth_for(account))
            response.read()
        except (httpx.TransportError, httpx.DecodingError) as exc:
            kind = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
            raise kind(f"{request.path}: {type(exc).__name__}; safe to retry", request={"key": request.key}) from None
        return RawResponse(
            status_code=response.status_code,
            body=response.content,
            headers={k.lower(): v for k, v in response.headers.items()},
            request=request,
            account=account,
            sent=str(response.request.url).encode(),
            retrieved_at=datetime.now(UTC),
            elapsed=time.perf_counter() - t0,
        )


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
        401: " Check the account's OAuth 2.0 token (`engagement-lab auth v2`) or OAuth 1.0a tokens.",
        403: " X API v2 analytics needs a user token (OAuth 2.0 or 1.0a), not the app-only bearer token.",
        400: " The request broke a rule the API enforces.",
    }.get(status, "")
    return f"HTTP {status} from {request.path} ({account}): {detail or 'no error text'}.{hint}"


@dataclass
class _Outcome:
    unowned: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    unsupported_video: list[str] = field(default_factory=list)
    unsupported_ie: list[str] = field(default_factory=list)
    error: str | None = None
    sent: int = 0
    retries: int = 0
    archived: bool = False
    skipped: bool = False


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


def _classify(outcome: _Outcome, body: Any, request: AnalyticsRequest) -> None:
    kinds, others = classify_problems(body, request.ids)
    outcome.unowned += [item for item, kind in kinds.items() if kind == UNOWNED]
    outcome.unavailable += [item for item, kind in kinds.items() if kind == UNAVAILABLE]
    if others:
        outcome.error = f"{request.path} reported problems for some ids: " + "; ".join(others[:5])


@dataclass
class _Waited:
    limiters: Sequence[RateLimiter]

    @property
    def waits(self) -> int:
        return sum(limiter.waits for limiter in self.limiters)

    @property
    def waited_seconds(self) -> float:
        return sum(limiter.waited_seconds for limiter in self.limiters)


class _Runner:
    def __init__(
        self,
        client: AnalyticsClient,
        archive: Archive,
        limiters: dict[str, RateLimiter],
        retry: RetryPolicy,
        clock: Clock,
        unreachable_after: float,
    ) -> None:
        self.client, self.archive, self.limiters, self.retry, self.clock = client, archive, limiters, retry, clock
        self.unreachable_after = unreachable_after
        self.failed_accounts: dict[str, str] = {}
        self._down_since: float | None = None
        self.unreachable: str | None = None
        self._health = threading.Lock()

    def _down(self, exc: Exception) -> str | None:
        with self._health:
            now = self.clock.time()
            if self._down_since is None:
                self._down_since = now
            elif self.unreachable is None and now - self._down_since >= self.unreachable_after:
                self.unreachable = (
                    f"the API at {self.client.base_url} has been unreachable for {now - self._down_since:.0f} s "
                    f"({exc}); gave up. Rerun the same command to resume (everything archived is kept)"
                )
            return self.unreachable

    def run(self, item: tuple[AnalyticsRequest, str]) -> _Outcome:
        request, account = item
        if request.key in self.archive:
            outcome = _Outcome(skipped=True)
            _classify(outcome, json.loads(self.archive.body(request.key)), request)
            return outcome
        outcome = _Outcome()
        if account in self.failed_accounts:
            outcome.error = self.failed_accounts[account]
            return outcome
        limiter = self.limiters[account]
        attempt = rate_limited = 0
        while True:
            if self.unreachable is not None:
                outcome.error = self.unreachable
                return outcome
            limiter.acquire()
            try:
                raw = self.client.send(request, account=account)
            except (APIConnectionError, APITimeoutError) as exc:
                limiter.release(None)
                outcome.sent += 1
                gave_up = self._down(exc)
                if gave_up is not None or attempt + 1 >= self.retry.max_attempts:
                    outcome.error = gave_up or f"{exc} (gave up after {attempt + 1} attempts)"
                    return outcome
                self.clock.sleep(self.retry.backoff(attempt))
                attempt, outcome.retries = attempt + 1, outcome.retries + 1
                continue
            except AuthenticationError as exc:  # a token that could not be refreshed
                limiter.release(None)
                self.failed_accounts[account] = outcome.error = str(exc)
                return outcome
            except BaseException:
                limiter.release(None)
                raise
            with self._health:
                self._down_since = None
            limiter.release(raw.headers)
            raw = replace(raw, retrieved_at=datetime.fromtimestamp(self.clock.time(), UTC))
            outcome.sent += 1
            if raw.status_code == 429:
                reset = raw.headers.get(v2.HEADER_RESET)
                limiter.exhausted(float(reset) if reset else None)
                rate_limited += 1
                if rate_limited > self.retry.max_rate_limited:
                    outcome.error = f"{request.path}: still rate limited after {rate_limited} waits"
                    return outcome
                outcome.retries += 1
                continue
            if raw.status_code >= 500:
                if attempt + 1 >= self.retry.max_attempts:
                    outcome.error = f"HTTP {raw.status_code} from {request.path} (gave up after {attempt + 1} attempts)"
                    return outcome
                self.clock.sleep(self.retry.backoff(attempt))
                attempt, outcome.retries = attempt + 1, outcome.retries + 1
                continue
            try:
                body = raw.json()
            except ValueError:
                body = None
            if raw.status_code == 200 and isinstance(body, dict):
                self.archive.save(raw, extra={"api": "x-v2"})
                outcome.archived = True
                _classify(outcome, body, request)
                return outcome
            outcome.error = (
                f"{request.path} answered 200 with a body that is not a JSON object"
                if raw.status_code == 200
                else _explain(raw.status_code, body, request, account)
            )
            if raw.status_code in (401, 403):
                self.failed_accounts[account] = outcome.error
            return outcome


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


def _route(
    queries: list[Query], credentials: Credentials, owners: Mapping[str, str], now: datetime | None
) -> list[tuple[AnalyticsRequest, str]]:
    """Split each query's ids by the account that must read them, then plan each account's share, so no request
    mixes two users' ids."""
    routed: list[tuple[AnalyticsRequest, str]] = []
    for query in queries:
        for handle, ids in split_by_owner(query.validate(now=now).ids, credentials, owners).items():
            share = replace(query, ids=ids) if isinstance(query, AnalyticsQuery) else replace(query, media_keys=ids)
            routed += [(request, handle) for request in share.plan(now=now)]
    return routed


def fetch_analytics(
    queries: Query | Iterable[Query],
    *,
    credentials: Credentials,
    out: str | Path,
    owners: Mapping[str, str] | None = None,
    base_url: str = v2.V2_BASE_URL,
    concurrency: int = 4,
    requests_per_window: int | None = None,
    retry: RetryPolicy | None = None,
    clock: Clock | None = None,
    on_wait: WaitCallback | None = None,
    on_token_refresh: TokenCallback | None = None,
    transport: httpx.BaseTransport | None = None,
    now: datetime | None = None,
    progress: bool = True,
    timeout: float = 60.0,
    unreachable_after: float = 20.0,
    rate_window_seconds: float = v2.RATE_WINDOW_SECONDS,
) -> FetchResult:
    """Fetch v2 post (or media) analytics into an archive directory: paced, retried, resumable.

    Parameters
    ----------
    queries : AnalyticsQuery, MediaAnalyticsQuery, or an iterable of them
    credentials : Credentials
        Accounts with an OAuth 2.0 user token (``engagement-lab auth v2``) or OAuth 1.0a tokens.
    out : path
        The archive directory (the same format as the Engagement API's; both can share one).
    owners : mapping of id -> account handle, optional
        Which account reads each id; with one account, all of them.
    requests_per_window : int, optional
        Each user's budget before the API announces it (learned from ``x-rate-limit-*`` anyway).
    rate_window_seconds : float
        The budget window (900 s for the real API).
    on_token_refresh : callable, optional
        ``(handle, token)`` after an OAuth 2.0 token was refreshed: save it (the CLI rewrites the credentials
        file), since the old refresh token stops working.

    The other parameters are those of :func:`engagement_lab.fetch`.
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigError(f"concurrency must be a whole number of at least 1, got {concurrency!r}")
    if not isinstance(credentials, Credentials):
        raise ConfigError(
            f"credentials must be a Credentials object (Credentials.load()), got {type(credentials).__name__}"
        )
    check_base_url(base_url)
    clock = clock or SystemClock()
    started = time.perf_counter()
    with (
        Archive(Path(out)) as archive,
        AnalyticsClient(
            credentials,
            base_url=base_url,
            transport=transport,
            timeout=timeout,
            on_token_refresh=on_token_refresh,
            oauth_clock=clock.time,  # OAuth 1.0a timestamps by the fetch's clock
        ) as client,
    ):
        if now is None:
            now = client.server_time()
        listed = [queries] if isinstance(queries, (AnalyticsQuery, MediaAnalyticsQuery)) else list(queries)
        items = _route(listed, credentials, owners or {}, now)
        limiters = {
            handle: RateLimiter(
                clock=clock,
                per_minute=requests_per_window,
                on_wait=on_wait,
                window=rate_window_seconds,
                header_names=(v2.HEADER_LIMIT, v2.HEADER_REMAINING, v2.HEADER_RESET),
            )
            for handle in {account for _, account in items}
        }
        runner = _Runner(client, archive, limiters, retry or RetryPolicy(), clock, float(unreachable_after))
        outcomes = _drive(runner, items, concurrency, progress)
    return FetchResult.collect(
        outcomes, archive=archive.root, planned=len(items), limiter=_Waited(list(limiters.values())),
        elapsed=time.perf_counter() - started, api="x-v2",
    )  # fmt: skip


def _drive(
    runner: _Runner, items: list[tuple[AnalyticsRequest, str]], concurrency: int, progress: bool
) -> list[_Outcome]:
    from tqdm.auto import tqdm

    outcomes: list[_Outcome] = []
    bar = tqdm(total=len(items), desc="fetch v2", unit="req", disable=not progress, leave=False)
    queue = list(items)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="engagement-fetch-v2") as pool:
        running: set[Future[_Outcome]] = set()
        while queue or running:
            while queue and len(running) < concurrency:
                running.add(pool.submit(runner.run, queue.pop(0)))
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                outcomes.append(future.result())
                bar.update(1)
    bar.close()
    return outcomes
