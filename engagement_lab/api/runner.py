"""The one retry runner: every source's requests are paced, sent, retried, archived and judged here.

What is the same for every API lives here: the archive is asked first (a rerun never fetches a key twice), the
account's rate limiter is spent before each send, dropped connections and 5xx answers are retried with backoff,
429s wait for the announced reset, an API that stays unreachable ends the fetch with a resume hint, and an answer
worth keeping is archived before anything else happens. What an answer *means* (which statuses carry data, which
ids to set aside, what to send next, how to word a failure) is the source's :class:`Judge`.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol, TypedDict

import httpx

from ..errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConfigError,
    ResponseTooLargeError,
    did_you_mean,
)
from .archive import Archive
from .auth import Credentials
from .bounded import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, positive_bytes, positive_seconds
from .http import RawResponse, check_base_url
from .pacing import Clock, RateLimiter, RetryPolicy, SystemClock, WaitCallback

__all__ = [
    "FetchOptions",
    "FetchSettings",
    "Item",
    "Judge",
    "Outcome",
    "Runner",
    "Sender",
    "SummedWaits",
    "Waits",
    "drive",
]


@dataclass(frozen=True)
class Item:
    """One planned request and the account that signs it."""

    request: Any
    """The source's request (an ``EngagementRequest``, an ``AnalyticsRequest``): see :class:`api.http.Request`."""
    account: str


@dataclass
class Outcome:
    """What became of one request: what it sent and archived, what it set aside, and what to send next."""

    followups: list[Item] = field(default_factory=list)
    unowned: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    unsupported_video: list[str] = field(default_factory=list)
    unsupported_ie: list[str] = field(default_factory=list)
    error: str | None = None
    sent: int = 0
    retries: int = 0
    archived: bool = False
    skipped: bool = False


class Sender(Protocol):
    """A source's client: one HTTP call per ``send``, never raising for a status."""

    base_url: str

    def send(self, request: Any, *, account: str, check: bool = ...) -> RawResponse: ...


class Judge(Protocol):
    """What a source says of its answers."""

    @property
    def reset_header(self) -> str:
        """The header of a 429 that says when the budget resets."""

    @property
    def archive_tags(self) -> Mapping[str, str]:
        """Added to each archived answer's provenance (e.g. which API it came from)."""

    def keep(self, item: Item, status: int, body: Any) -> bool:
        """Whether this answer is archived: it carries data, or names ids to set aside."""

    def read(self, item: Item, status: int, body: Any, outcome: Outcome) -> None:
        """Fill ``outcome`` from a kept answer, live or archived: ids set aside, follow-up requests, problems."""

    def refusal(self, item: Item, raw: RawResponse, body: Any) -> tuple[str, bool]:
        """The one-line error for an answer that is not kept, and whether the account's credentials failed (its
        other requests are then not sent)."""


class Waits(Protocol):
    """What a fetch's pacing reports: one limiter, or several summed."""

    @property
    def waits(self) -> int: ...

    @property
    def waited_seconds(self) -> float: ...


@dataclass
class SummedWaits:
    """The waits of several limiters (one per account), as one."""

    limiters: Sequence[RateLimiter]

    @property
    def waits(self) -> int:
        return sum(limiter.waits for limiter in self.limiters)

    @property
    def waited_seconds(self) -> float:
        return sum(limiter.waited_seconds for limiter in self.limiters)


class Runner:
    """Runs one item at a time per worker thread; shared state (unreachable API, failed accounts) is locked.

    Parameters
    ----------
    client : Sender
    archive : Archive
    limiter_for : callable
        The rate limiter of an account (one shared limiter, or one per account).
    retry : RetryPolicy
    clock : Clock
    judge : Judge
    unreachable_after : float
        Seconds of consecutive connection failures after which every unfinished request gives up.
    """

    def __init__(
        self,
        client: Sender,
        archive: Archive,
        limiter_for: Callable[[str], RateLimiter],
        retry: RetryPolicy,
        clock: Clock,
        judge: Judge,
        unreachable_after: float = 20.0,
    ) -> None:
        self.client, self.archive, self.limiter_for = client, archive, limiter_for
        self.retry, self.clock, self.judge = retry, clock, judge
        self.unreachable_after = unreachable_after
        self.failed_accounts: dict[str, str] = {}
        self.unreachable: str | None = None
        self._down_since: float | None = None
        self._answered_at = -math.inf
        self._unanswered = 0
        self._health = threading.Lock()

    def _connection_failed(self, exc: Exception, sent_at: float) -> str | None:
        """Note a request sent at ``sent_at`` that got no answer; the give-up message once the API has answered
        nothing for too long (counted from the first such request's send, so a server that accepts and stays
        silent is given up on after ``unreachable_after``, not after a timeout more)."""
        with self._health:
            now = self.clock.time()
            start = max(sent_at, self._answered_at)  # an answer since this one was sent shows the API was up
            if self._down_since is None or start < self._down_since:
                self._down_since = start
            self._unanswered += 1
            # one unanswered request is never proof: a stalled connection is retried on a fresh one first (with the
            # default timeout longer than unreachable_after, a single timeout would otherwise end the whole fetch)
            if self.unreachable is None and self._unanswered >= 2 and now - self._down_since >= self.unreachable_after:
                self.unreachable = (
                    f"the API at {self.client.base_url} has been unreachable for {now - self._down_since:.0f} s "
                    f"({type(exc).__name__}: {exc}); gave up. Check --base-url and the network, then rerun the same "
                    "command to resume (everything archived is kept)"
                )
            return self.unreachable

    def _connected(self) -> None:
        with self._health:
            self._down_since = None
            self._unanswered = 0
            self._answered_at = self.clock.time()

    def from_archive(self, item: Item) -> Outcome:
        """An archived answer, read again: what it set aside and what it asked to send next."""
        status = self.archive.entries[item.request.key]["status"]
        outcome = Outcome(skipped=True)
        self.judge.read(item, status, json.loads(self.archive.body(item.request.key)), outcome)
        return outcome

    def run(self, item: Item) -> Outcome:
        """Send one item until it is answered for good (archived, refused) or gives up."""
        if item.request.key in self.archive:
            return self.from_archive(item)
        if item.account in self.failed_accounts:
            return Outcome(error=self.failed_accounts[item.account])
        outcome = Outcome()
        limiter = self.limiter_for(item.account)
        attempt = rate_limited = 0
        while self.unreachable is None:
            raw = self._send(item, limiter, outcome, attempt)
            if raw is None:  # no answer: retry after a backoff, or give up
                if outcome.error is not None:
                    return outcome
                attempt = self._back_off(attempt, outcome)
                continue
            if raw.status_code == 429:
                reset = raw.headers.get(self.judge.reset_header)
                limiter.exhausted(float(reset) if reset else None)
                rate_limited += 1
                if rate_limited > self.retry.max_rate_limited:
                    outcome.error = f"{item.request.path}: still rate limited after {rate_limited} waits"
                    return outcome
                outcome.retries += 1
                continue
            if self.retry.retryable(raw.status_code):
                if attempt + 1 >= self.retry.max_attempts:
                    outcome.error = (
                        f"HTTP {raw.status_code} from {item.request.path} (gave up after {attempt + 1} attempts)"
                    )
                    return outcome
                attempt = self._back_off(attempt, outcome)
                continue
            self._judge(item, raw, outcome)
            return outcome
        outcome.error = self.unreachable
        return outcome

    def _back_off(self, attempt: int, outcome: Outcome) -> int:
        pause = self.retry.backoff(attempt)
        with self._health:  # never sleep past the moment an unanswering API is given up on
            if self._down_since is not None:
                pause = min(pause, max(0.0, self._down_since + self.unreachable_after - self.clock.time()))
        self.clock.sleep(pause)
        outcome.retries += 1
        return attempt + 1

    def _send(self, item: Item, limiter: RateLimiter, outcome: Outcome, attempt: int) -> RawResponse | None:
        """One paced send. ``None`` with ``outcome.error`` set when the request gives up, else ``None`` to retry."""
        limiter.acquire()
        if self.unreachable is not None:  # given up while this one waited for its turn: send nothing more
            limiter.release(None)
            outcome.error = self.unreachable
            return None
        sent_at = self.clock.time()
        try:
            raw = self.client.send(item.request, account=item.account, check=False)
        except (APIConnectionError, APITimeoutError) as exc:
            limiter.release(None)
            outcome.sent += 1
            gave_up = self._connection_failed(exc, sent_at)
            if gave_up is not None or attempt + 1 >= self.retry.max_attempts:
                outcome.error = gave_up or f"{type(exc).__name__}: {exc} (gave up after {attempt + 1} attempts)"
            return None
        except ResponseTooLargeError as exc:  # it answered, unusably: another try would read as much again
            limiter.release(None)
            self._connected()
            outcome.sent += 1
            outcome.error = f"{type(exc).__name__}: {exc}"
            return None
        except AuthenticationError as exc:  # the account cannot sign (a token that could not be refreshed)
            limiter.release(None)
            self.failed_accounts[item.account] = outcome.error = str(exc)
            return None
        except BaseException:  # whatever it was, the slot goes back: the other workers must not wait forever
            limiter.release(None)
            raise
        self._connected()
        limiter.release(raw.headers)
        outcome.sent += 1
        return replace(raw, retrieved_at=datetime.fromtimestamp(self.clock.time(), UTC))  # the fetch's clock

    def _judge(self, item: Item, raw: RawResponse, outcome: Outcome) -> None:
        """Archive an answer worth keeping and read it; word any other."""
        try:
            body = raw.json()
        except ValueError:
            body = None
        if raw.status_code == 200 and not isinstance(body, dict):
            outcome.error = f"{item.request.path} answered 200 with a body that is not a JSON object"
            return
        if self.judge.keep(item, raw.status_code, body):
            self.archive.save(raw, extra=dict(self.judge.archive_tags) or None)
            outcome.archived = True
            self.judge.read(item, raw.status_code, body, outcome)
            return
        outcome.error, account_failed = self.judge.refusal(item, raw, body)
        if account_failed:
            self.failed_accounts[item.account] = outcome.error


def drive(runner: Runner, items: Sequence[Item], concurrency: int, progress: bool, label: str) -> list[Outcome]:
    """Run items on a thread pool; follow-ups join the queue as answers arrive."""
    from tqdm.auto import tqdm  # imported here: importing the package must not print widget warnings

    queue = list(items)
    outcomes: list[Outcome] = []
    bar = tqdm(total=len(queue), desc=label, unit="req", disable=not progress, leave=False)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="engagement-fetch") as pool:
        running: set[Future[Outcome]] = set()
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


class FetchOptions(TypedDict, total=False):
    """How a fetch runs, the same for every source (``fetch(..., **options)``, ``fetch_analytics(..., **options)``).

    Attributes
    ----------
    concurrency : int
        Requests in flight at once (default 4).
    requests_per_window : int, optional
        Requests per rate-limit window (a minute on the Engagement API, 15 minutes per user on X API v2) before the
        API has announced its budget (it is learned from the answers' headers anyway).
    retry : RetryPolicy, optional
        What to retry and how long to back off.
    clock : Clock, optional
        Wall time and sleep (injected in tests, so nothing waits for real).
    on_wait : callable, optional
        ``on_wait(reason, seconds)`` before every pause for the rate limit.
    transport : httpx.BaseTransport, optional
        E.g. the sandbox's in-process transport.
    now : datetime, optional
        For planning (the future-end rule and default windows); by default the API's own clock (its ``Date``
        header), so a skewed local clock does not make every request "end in the future".
    progress : bool
        Show a progress bar (default True).
    timeout : float
        Seconds one HTTP request may take in all: connecting (at most 10 of them), sending and the whole answer
        (default 60). Kept at the socket, so a server that drips a byte now and then cannot stretch it; a request
        that runs out is retried like a dropped connection.
    max_response_bytes : int
        The largest answer read, as sent or once inflated (default 256 MiB). A larger one (an endless body, a gzip
        bomb) fails that request with ``ResponseTooLargeError`` after reading no more than this; it is not retried
        and nothing of it is archived.
    unreachable_after : float
        Seconds without any answer from the API (counted from the first request that got none) after which the
        fetch stops retrying and returns, every unfinished request marked failed with the resume hint (default 20).
        The start-up probe of the API's clock gives up after as long. One unanswered request alone never ends a
        fetch: it is retried once first (a stalled connection). So a fetch against an API that stops answering
        ends within ``max(unreachable_after, timeout) + timeout`` seconds.
    """

    concurrency: int
    requests_per_window: int | None
    retry: RetryPolicy | None
    clock: Clock | None
    on_wait: WaitCallback | None
    transport: httpx.BaseTransport | None
    now: datetime | None
    progress: bool
    timeout: float
    max_response_bytes: int
    unreachable_after: float


@dataclass(frozen=True)
class FetchSettings:
    """:class:`FetchOptions` checked, with every default filled in."""

    concurrency: int = 4
    requests_per_window: int | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Clock = field(default_factory=SystemClock)
    on_wait: WaitCallback | None = None
    transport: httpx.BaseTransport | None = None
    now: datetime | None = None
    progress: bool = True
    timeout: float = DEFAULT_TIMEOUT
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    unreachable_after: float = 20.0

    @classmethod
    def of(cls, options: Mapping[str, Any], credentials: object, base_url: object) -> FetchSettings:
        """Check every option before anything is sent or created: an unknown name gets the closest one."""
        known = list(FetchOptions.__annotations__)
        for name in options:
            if name not in known:
                raise ConfigError(f"fetch has no option {name!r}{did_you_mean(name, known)}; options: {known}")
        settings = cls(**{k: v for k, v in options.items() if v is not None})
        settings.check(credentials, base_url)
        return settings

    def client_options(self) -> dict[str, Any]:
        """What the source's client takes of these settings."""
        return {"transport": self.transport, "timeout": self.timeout, "max_response_bytes": self.max_response_bytes}

    def check(self, credentials: object, base_url: object) -> None:
        concurrency, size = self.concurrency, self.max_response_bytes
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigError(f"concurrency must be a whole number of at least 1, got {concurrency!r}")
        for name in ("unreachable_after", "timeout"):
            positive_seconds(name, getattr(self, name))
        positive_bytes("max_response_bytes", size)
        if not isinstance(credentials, Credentials):
            raise ConfigError(
                f"credentials must be a Credentials object (Credentials.load()), got {type(credentials).__name__}"
            )
        check_base_url(base_url)
