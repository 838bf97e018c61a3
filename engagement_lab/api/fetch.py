"""fetch(): plan -> route to accounts -> paced concurrent sends -> archive -> FetchResult.

Nothing is lost and nothing is fetched twice: every answer that carries data (or tells which ids to drop)
is archived under its request key before the next step, and a rerun skips every archived key, re-deriving
follow-up requests (after a 403 for unowned ids, or a 400 for protected ones) from the archived answer.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from .. import catalog
from ..errors import APIConnectionError, APITimeoutError, ConfigError, EngagementLabError
from ..query import AgeRules, EngagementQuery, EngagementRequest
from .archive import Archive
from .auth import Credentials
from .client import BEARER, EngagementClient, RawResponse, check_base_url, forbidden_ids, raise_for_status
from .pacing import Clock, RateLimiter, RetryPolicy, SystemClock, WaitCallback
from .result import FetchResult

__all__ = ["FetchResult", "fetch", "route", "split_refusal"]

log = logging.getLogger("engagement_lab.api")


@dataclass(frozen=True)
class _Item:
    request: EngagementRequest
    account: str


@dataclass
class _Outcome:
    followups: list[_Item] = field(default_factory=list)
    unowned: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    unsupported_video: list[str] = field(default_factory=list)
    unsupported_ie: list[str] = field(default_factory=list)
    error: str | None = None
    sent: int = 0
    retries: int = 0
    archived: bool = False
    skipped: bool = False


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


def _follow_ups(item: _Item, status: int, body: Any, bearer: bool) -> _Outcome:
    """What to send instead after a partial refusal, from the answer's text (live or archived)."""
    out = _Outcome()
    request = item.request
    messages = _error_strings(body)
    if status == 403:
        out.unowned = [i for i in forbidden_ids(messages) if i in request.tweet_ids]
        drop = set(out.unowned)
        public = [m for m in request.engagement_types if m in catalog.PUBLIC_METRICS]
        if out.unowned and bearer and request.endpoint == "totals" and public and item.account != BEARER:
            out.followups.append(
                _Item(
                    replace(request, tweet_ids=tuple(out.unowned), engagement_types=tuple(public), auth="bearer"),
                    BEARER,
                )
            )
    else:  # 400 for protected tweets
        out.unavailable = [str(i) for i in body.get(catalog.UNAVAILABLE_TWEET_IDS, []) if str(i) in request.tweet_ids]
        drop = set(out.unavailable)
        if not drop and len(request.tweet_ids) > 1:  # the API did not say which: bisect
            half = len(request.tweet_ids) // 2
            out.followups += [_Item(replace(request, tweet_ids=request.tweet_ids[:half]), item.account)]
            out.followups += [_Item(replace(request, tweet_ids=request.tweet_ids[half:]), item.account)]
            return out
        if not drop:
            out.unavailable = list(request.tweet_ids)
            return out
    rest = tuple(i for i in request.tweet_ids if i not in drop)
    if rest:
        out.followups.insert(0, _Item(replace(request, tweet_ids=rest), item.account))
    return out


def split_refusal(
    request: EngagementRequest, account: str, status: int, body: Any
) -> tuple[list[EngagementRequest], dict[str, str]] | None:
    """For a partial refusal (403 naming unowned ids, 400 for unavailable ones): the requests to send instead
    (the rest of the ids, or halves when the API did not name them) and each dropped id with the reason.
    ``None`` when the answer is not a partial refusal."""
    if not _partial(status, body):
        return None
    found = _follow_ups(_Item(request, account), status, body, bearer=False)
    dropped = dict.fromkeys(found.unowned, "not owned by the account (403)")
    dropped.update(dict.fromkeys(found.unavailable, "unavailable: deleted or protected"))
    return [f.request for f in found.followups], dropped


def _partial(raw_status: int, body: Any) -> bool:
    """A refusal that names ids to drop: 403 'Forbidden to access tweets', or 400 for unavailable tweets."""
    messages = _error_strings(body)
    if raw_status == 403:
        return bool(forbidden_ids(messages))
    return raw_status == 400 and any("Tweet ID(s) are unavailable" in m for m in messages)


def _reserved(outcome: _Outcome, body: Any) -> None:
    if isinstance(body, dict):
        outcome.unavailable += [str(i) for i in body.get(catalog.UNAVAILABLE_TWEET_IDS, [])]
        outcome.unsupported_video += [str(i) for i in body.get(catalog.UNSUPPORTED_VIDEO_VIEWS, [])]
        outcome.unsupported_ie += [str(i) for i in body.get(catalog.UNSUPPORTED_IMPRESSIONS_ENGAGEMENTS, [])]


class _Runner:
    def __init__(
        self,
        client: EngagementClient,
        archive: Archive,
        limiter: RateLimiter,
        retry: RetryPolicy,
        clock: Clock,
        bearer: bool,
        unreachable_after: float = 20.0,
    ) -> None:
        self.client, self.archive, self.limiter, self.retry, self.clock = client, archive, limiter, retry, clock
        self.bearer = bearer
        self.failed_accounts: dict[str, str] = {}
        self.unreachable_after = unreachable_after
        self._down_since: float | None = None
        self.unreachable: str | None = None
        self._health = threading.Lock()

    def _connection_failed(self, exc: Exception) -> str | None:
        """Note a failed connection; the give-up message once the API has been unreachable for too long."""
        with self._health:
            now = self.clock.time()
            if self._down_since is None:
                self._down_since = now
            elif self.unreachable is None and now - self._down_since >= self.unreachable_after:
                self.unreachable = (
                    f"the API at {self.client.base_url} has been unreachable for {now - self._down_since:.0f} s "
                    f"({exc}); gave up. Check --base-url and the network, then rerun the same command to resume "
                    "(everything archived is kept)"
                )
            return self.unreachable

    def _connected(self) -> None:
        with self._health:
            self._down_since = None

    def from_archive(self, item: _Item) -> _Outcome:
        entry = self.archive.entries[item.request.key]
        body = json.loads(self.archive.body(item.request.key))
        outcome = _follow_ups(item, entry["status"], body, self.bearer) if entry["status"] != 200 else _Outcome()
        if entry["status"] == 200:
            _reserved(outcome, body)
        outcome.skipped = True
        return outcome

    def run(self, item: _Item) -> _Outcome:
        if item.request.key in self.archive:
            return self.from_archive(item)
        if item.account in self.failed_accounts:
            return _Outcome(error=self.failed_accounts[item.account])
        outcome = _Outcome()
        attempt = rate_limited = 0
        while True:
            if self.unreachable is not None:
                outcome.error = self.unreachable
                return outcome
            self.limiter.acquire()
            try:
                raw = self.client.send(item.request, account=item.account, check=False)
            except (APIConnectionError, APITimeoutError) as exc:
                self.limiter.release(None)
                outcome.sent += 1
                gave_up = self._connection_failed(exc)
                if gave_up is not None or attempt + 1 >= self.retry.max_attempts:
                    outcome.error = gave_up or f"{exc} (gave up after {attempt + 1} attempts)"
                    return outcome
                self.clock.sleep(self.retry.backoff(attempt))
                attempt += 1
                outcome.retries += 1
                continue
            except BaseException:  # whatever it was, the slot goes back: the other workers must not wait forever
                self.limiter.release(None)
                raise
            self._connected()
            self.limiter.release(raw.headers)
            raw = replace(raw, retrieved_at=datetime.fromtimestamp(self.clock.time(), UTC))  # the fetch's clock
            outcome.sent += 1
            verdict = self._judge(item, raw, outcome)
            if verdict == "done":
                return outcome
            if verdict == "rate_limited":
                rate_limited += 1
                if rate_limited > self.retry.max_rate_limited:
                    outcome.error = f"/{item.request.endpoint}: still rate limited after {rate_limited} waits"
                    return outcome
            else:
                if attempt + 1 >= self.retry.max_attempts:
                    outcome.error = (
                        f"HTTP {raw.status_code} from /{item.request.endpoint} (gave up after {attempt + 1} attempts)"
                    )
                    return outcome
                self.clock.sleep(self.retry.backoff(attempt))
                attempt += 1
            outcome.retries += 1

    def _judge(self, item: _Item, raw: RawResponse, outcome: _Outcome) -> str:
        """Archive or classify one answer: "done", "rate_limited" or "retry"."""
        status = raw.status_code
        if status == 429:
            reset = raw.headers.get(catalog.HEADER_RESET)
            self.limiter.exhausted(float(reset) if reset else None)
            return "rate_limited"
        if self.retry.retryable(status):
            return "retry"
        try:
            body = raw.json()
        except ValueError:
            body = None
        if status == 200 and not isinstance(body, dict):
            outcome.error = f"/{item.request.endpoint} answered 200 with a body that is not a JSON object"
            return "done"
        if status == 200 or _partial(status, body):
            self.archive.save(raw)
            outcome.archived = True
            if status == 200:
                _reserved(outcome, body)
            else:
                found = _follow_ups(item, status, body, self.bearer)
                outcome.followups, outcome.unowned, outcome.unavailable = (
                    found.followups,
                    found.unowned,
                    found.unavailable,
                )
            return "done"
        try:
            raise_for_status(raw)
        except EngagementLabError as exc:
            outcome.error = str(exc)
            if status == 401:
                self.failed_accounts[item.account] = str(exc)
        return "done"


def fetch(
    queries: EngagementQuery | Iterable[EngagementQuery],
    *,
    credentials: Credentials,
    out: str | Path,
    owners: Mapping[str, str] | None = None,
    base_url: str = catalog.BASE_URL,
    concurrency: int = 4,
    requests_per_minute: int | None = None,
    retry: RetryPolicy | None = None,
    clock: Clock | None = None,
    on_wait: WaitCallback | None = None,
    transport: httpx.BaseTransport | None = None,
    now: datetime | None = None,
    age_rules: AgeRules = "allow",
    progress: bool = True,
    timeout: float = 60.0,
    unreachable_after: float = 20.0,
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
    concurrency : int
        Requests in flight at once.
    requests_per_minute : int, optional
        Budget before the API has announced one (it is learned from the headers anyway).
    retry, clock, on_wait, transport
        Retry policy, injectable clock and sleep, a callback on rate-limit waits, an httpx transport.
    now : datetime, optional
        For planning (the future-end rule and default windows); by default the API's own clock (its ``Date``
        header), so a skewed local clock does not make every request "end in the future".
    age_rules : {"allow", "raise"}
        Whether metrics the API does not serve at a tweet's age are an error before sending (default: let
        the API answer partially; the tweets are listed in the result).
    progress : bool
        Show a tqdm progress bar.
    timeout : float
        Seconds per HTTP request.
    unreachable_after : float
        Seconds of consecutive connection failures (no answer at all from the API) after which the fetch
        stops retrying and returns, every unfinished request marked failed with the resume hint.

    Returns
    -------
    FetchResult
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigError(f"concurrency must be a whole number of at least 1, got {concurrency!r}")
    if not (isinstance(unreachable_after, (int, float)) and unreachable_after > 0):
        raise ConfigError(f"unreachable_after must be a positive number of seconds, got {unreachable_after!r}")
    if not isinstance(credentials, Credentials):
        raise ConfigError(
            f"credentials must be a Credentials object (Credentials.load()), got {type(credentials).__name__}"
        )
    check_base_url(base_url)
    clock = clock or SystemClock()
    limiter = RateLimiter(clock=clock, per_minute=requests_per_minute, on_wait=on_wait)
    started = time.perf_counter()
    with (
        Archive(Path(out)) as archive,
        EngagementClient(credentials, base_url=base_url, transport=transport, timeout=timeout) as client,
    ):
        if now is None:  # plan by the API's clock: "the end is in the future" is the server's judgement
            now = client.server_time()
        items, unowned = _plan(queries, credentials, owners, now, age_rules)
        bearer = credentials.bearer_token is not None
        runner = _Runner(client, archive, limiter, retry or RetryPolicy(), clock, bearer, float(unreachable_after))
        outcomes = _drive(runner, items, concurrency, progress)
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
) -> tuple[list[_Item], list[str]]:
    """Every planned request with the account that signs it, and the ids routed to the bearer token."""
    items, unowned = [], []
    for query in [queries] if isinstance(queries, EngagementQuery) else list(queries):
        for sub_query, account in route(query, credentials, owners, now=now):
            if account == BEARER and query.auth == "user":
                unowned += [str(i) for i in sub_query.tweet_ids]  # type: ignore[union-attr]
            items += [_Item(request, account) for request in sub_query.plan(now=now, age_rules=age_rules)]
    return items, unowned


def _drive(runner: _Runner, items: Sequence[_Item], concurrency: int, progress: bool) -> list[_Outcome]:
    """Run items on a thread pool; follow-ups join the queue as answers arrive."""
    from tqdm.auto import tqdm  # imported here: importing the package must not print widget warnings

    queue = list(items)
    outcomes: list[_Outcome] = []
    bar = tqdm(total=len(queue), desc="fetch", unit="req", disable=not progress, leave=False)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="engagement-fetch") as pool:
        running: set[Future[_Outcome]] = set()
        while queue or running:
            while queue and len(running) < concurrency:
                running.add(pool.submit(runner.run, queue.pop(0)))
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                outcome = future.result()
                outcomes.append(outcome)
                queue.extend(outcome.followups)
                bar.total += len(outcome.followups)
                bar.update(1)
    bar.close()
    return outcomes
