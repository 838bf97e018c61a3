"""What every API client shares: the base URL check, one answer as received, signing per account, the server's
clock, and transport failures mapped to the design's errors.

Each source's client (``sources/*/client.py``) adds how it builds a request and which auth an account signs with.
Pacing, retries and partial failures are the job of :mod:`engagement_lab.api.runner`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Protocol, Self

import httpx

from .._version import __version__
from ..errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigError,
    ForbiddenError,
    NotAcceptableError,
    RateLimitError,
    ResponseTooLargeError,
    ServerError,
)
from .auth import Credentials
from .bounded import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
    BodyReader,
    TooLarge,
    bound_sockets,
    deadline,
    positive_bytes,
    positive_seconds,
    timeouts,
)

__all__ = [
    "USER_AGENT",
    "BaseClient",
    "RawResponse",
    "Request",
    "check_base_url",
    "raise_for_status",
    "too_large",
    "transport_error",
]

USER_AGENT = f"engagement-lab/{__version__}"


class Request(Protocol):
    """What the shared machinery needs of one planned request, whatever the source."""

    @property
    def endpoint(self) -> str: ...

    @property
    def path(self) -> str: ...

    @property
    def key(self) -> str: ...

    @property
    def tweet_ids(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class RawResponse:
    """A response as received: status, headers and the decoded body bytes, with what was sent."""

    status_code: int
    body: bytes = field(repr=False)
    headers: dict[str, str] = field(repr=False)
    request: Any = field(repr=False)
    """The planned request it answers (an ``EngagementRequest`` or an ``AnalyticsRequest``)."""
    account: str
    sent: bytes = field(repr=False)
    retrieved_at: datetime
    elapsed: float

    def json(self) -> Any:
        return json.loads(self.body)


def check_base_url(base_url: object) -> str:
    """The API's base URL, checked before any request: ``http(s)://host[:port][/path]``.

    Raises
    ------
    ConfigError
        Naming what is wrong (no scheme, no host, a bad port) and an example of a right one.
    """
    example = "e.g. http://127.0.0.1:8787 (the sandbox) or https://data-api.x.com"
    if not isinstance(base_url, str) or not base_url.strip():
        raise ConfigError(f"base URL must be a non-empty string, got {base_url!r}; {example}")
    try:
        url = httpx.URL(base_url.strip())
    except httpx.InvalidURL as exc:
        raise ConfigError(f"base URL {base_url!r} is not a valid URL ({exc}); {example}") from None
    if url.scheme not in ("http", "https"):
        hint = f"write http://{base_url}" if not url.scheme or not url.host else "use http or https"
        raise ConfigError(f"base URL {base_url!r} has no http:// or https:// scheme ({hint}); {example}")
    if not url.host:
        raise ConfigError(f"base URL {base_url!r} names no host; {example}")
    if url.port is not None and not 0 < url.port < 65536:
        raise ConfigError(f"base URL {base_url!r} has port {url.port}, outside 1-65535; {example}")
    return base_url.strip().rstrip("/")


def _described(request: Request, account: str) -> dict[str, Any]:
    return {"endpoint": request.endpoint, "key": request.key, "tweet_ids": len(request.tweet_ids), "account": account}


def transport_error(exc: Exception, request: Request, account: str, timeout: float | None = None) -> Exception:
    """The design's error for an answer that never arrived whole: a timeout, or a failed connection."""
    described = _described(request, account)
    if isinstance(exc, httpx.TimeoutException):
        within = f"no complete answer within the {timeout:g} s timeout" if timeout is not None else "timed out"
        return APITimeoutError(f"{request.path}: {within} ({type(exc).__name__}); safe to retry", request=described)
    return APIConnectionError(
        f"{request.path}: connection failed or the body arrived incomplete ({type(exc).__name__}); safe to retry",
        request=described,
    )


def too_large(exc: TooLarge, request: Request, account: str) -> ResponseTooLargeError:
    """The design's error for an answer past ``max_response_bytes``."""
    how = "once inflated" if exc.inflated else "as sent"
    return ResponseTooLargeError(
        f"{request.path}: the answer passed max_response_bytes={exc.limit:,} ({how}); the read stopped there and "
        "nothing of it was archived. If the API really sends answers this large, raise it (--max-response-size)",
        limit=exc.limit,
        request=_described(request, account),
    )


class BaseClient:
    """Credentials, the checked base URL, one ``httpx.Auth`` per account, and the HTTP connection pool.

    Parameters
    ----------
    credentials : Credentials
    base_url : str
        The real host; the sandbox's URL for local work.
    timeout : float
        Seconds one request may take in all (connecting, sending, the whole answer; 60 by default); connecting
        alone may take 10 (or ``timeout`` when shorter). Kept at the socket, so a server sending a byte now and
        then cannot stretch it.
    max_response_bytes : int
        The largest answer read, as sent or once inflated (256 MiB by default); a larger one raises
        :class:`~engagement_lab.errors.ResponseTooLargeError` after reading no more than that.
    oauth_clock : callable, optional
        Seconds since the epoch for OAuth 1.0a timestamps (a fetch on simulated time signs by its own clock).
    transport : httpx.BaseTransport, optional
        E.g. the sandbox's in-process transport.
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        base_url: str,
        timeout: float = DEFAULT_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        oauth_clock: Callable[[], float] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not isinstance(credentials, Credentials):
            raise ConfigError(
                f"credentials must be a Credentials object (Credentials.load()), got {type(credentials).__name__}"
            )
        self.credentials = credentials
        self.base_url = check_base_url(base_url)
        self.timeout = positive_seconds("timeout", timeout)
        self.max_response_bytes = positive_bytes("max_response_bytes", max_response_bytes)
        self._oauth_clock = oauth_clock
        self._auths: dict[str, httpx.Auth] = {}
        http = httpx.Client(transport=transport, timeout=timeouts(timeout))
        self._http = bound_sockets(http) if transport is None else http  # proxies from the environment still apply

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, accounts={self.credentials.handles})"

    def _timestamp(self) -> Callable[[], str] | None:
        """OAuth 1.0a timestamps by the injected clock (``None``: the real one)."""
        clock = self._oauth_clock
        return (lambda: str(int(clock()))) if clock is not None else None

    def _exchange(
        self, request: Request, account: str, sent: bytes | None, method: str, url: str, **options: Any
    ) -> RawResponse:
        """One HTTP call within :attr:`timeout` and :attr:`max_response_bytes`, mapped to the design's errors
        (``sent=None``: what was sent is the URL, as for a ``GET``)."""
        started = time.perf_counter()
        try:
            with deadline(self.timeout) as until, self._http.stream(method, url, **options) as response:
                body = BodyReader(response, limit=self.max_response_bytes, until=until).read(response)
        except TooLarge as exc:
            raise too_large(exc, request, account) from None
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise transport_error(exc, request, account, self.timeout) from None
        return self._received(
            request, account, str(response.request.url).encode() if sent is None else sent, response, body, started
        )

    def _received(
        self, request: Request, account: str, sent: bytes, response: httpx.Response, body: bytes, started: float
    ) -> RawResponse:
        return RawResponse(
            status_code=response.status_code,
            body=body,
            headers={k.lower(): v for k, v in response.headers.items()},
            request=request,
            account=account,
            sent=sent,
            retrieved_at=datetime.now(UTC),
            elapsed=time.perf_counter() - started,
        )

    def server_time(self, *, attempts: int = 3, give_up_after: float | None = None) -> datetime | None:
        """The API's clock, from the ``Date`` header of one unauthenticated GET of the base URL (any status; its
        body is never read).

        Planning by this clock keeps "the end is in the future" and default windows right when the local clock
        and the server's differ (a sandbox with a fixed world clock, a skewed laptop). ``None`` when the server
        sends no usable ``Date``. A server that cannot be reached after ``attempts`` tries, or that has not
        answered within ``give_up_after`` seconds (default :attr:`timeout`; each try also within :attr:`timeout`),
        raises :class:`APIConnectionError` (:class:`APITimeoutError` when it accepted but never answered) naming
        the URL, so a wrong ``--base-url`` fails at once and a silent server within the budget.
        """
        budget = self.timeout if give_up_after is None else give_up_after
        started = time.monotonic()
        left = budget
        last: Exception = httpx.ConnectTimeout("no time was left for a try")
        date: str | None = None
        for attempt in range(attempts):
            left = budget - (time.monotonic() - started)
            if left <= 0:
                break
            try:
                with (
                    deadline(min(self.timeout, left)),
                    self._http.stream("GET", self.base_url + "/", headers={"User-Agent": USER_AGENT}) as response,
                ):
                    date = response.headers.get("date")
                break
            except httpx.TransportError as exc:
                last = exc
                if attempt + 1 < attempts:
                    time.sleep(max(0.0, min(0.2 * (attempt + 1), budget - (time.monotonic() - started))))
        else:
            self._unreachable(last, time.monotonic() - started, budget)
        if left <= 0:  # the budget ran out before a try answered
            self._unreachable(last, time.monotonic() - started, budget)
        try:
            return parsedate_to_datetime(date or "").astimezone(UTC)
        except (TypeError, ValueError):
            return None

    def _unreachable(self, last: Exception, waited: float, budget: float) -> None:
        if isinstance(last, httpx.TimeoutException):
            raise APITimeoutError(
                f"cannot reach the API at {self.base_url}: no answer within {waited:.1f} s ({type(last).__name__}; "
                f"at most {self.timeout:g} s per try, {budget:g} s in all); check --base-url and the network, or "
                "raise --timeout / --give-up-after. Nothing was fetched."
            )
        raise APIConnectionError(
            f"cannot reach the API at {self.base_url} ({type(last).__name__}: {last}); check --base-url and the "
            "network. Nothing was fetched."
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


def _messages(body: bytes) -> list[str]:
    """The ``errors`` of an answer as text (plain strings, or each object's ``message``)."""
    try:
        errors = json.loads(body).get("errors", [])
    except (ValueError, AttributeError):
        return [body[:200].decode(errors="replace")] if body else []
    return [e if isinstance(e, str) else str(e.get("message", e)) for e in errors if isinstance(e, (str, dict))]


def raise_for_status(
    response: RawResponse, *, reset_header: str, forbidden: Callable[[list[str]], list[str]] | None = None
) -> None:
    """Raise the exception of the design's tree for a non-200 answer.

    ``reset_header`` names the header that says when a 429's budget resets; ``forbidden`` reads the ids a 403
    names from its messages (the Engagement API's wording), for :class:`ForbiddenError`'s ``tweet_ids``.
    """
    status = response.status_code
    if status == 200:
        return
    messages = _messages(response.body)
    request = response.request
    where = f"HTTP {status} from /{request.endpoint} ({response.account})"
    said = "; ".join(messages) or "no error text"
    described = {"endpoint": request.endpoint, "key": request.key, "tweet_ids": len(request.tweet_ids)}
    common: dict[str, Any] = {
        "status_code": status,
        "body": response.body[:2000].decode(errors="replace"),
        "messages": messages,
        "request": {**described, "account": response.account},
    }
    if status == 400:
        raise BadRequestError(
            f"{where}: {said}. The request broke a rule the API enforces; fix it and retry.", **common
        )
    if status == 401:
        raise AuthenticationError(
            f"{where}: {said}. Check the consumer key/secret and this account's access tokens (ENGAGEMENT_* or "
            "--credentials); the machine clock must be right for OAuth timestamps.",
            **common,
        )
    if status == 403:
        ids = forbidden(messages) if forbidden is not None else []
        hint = f" {len(ids)} tweet(s) are not owned by this account." if ids else ""
        raise ForbiddenError(f"{where}: {said}.{hint}", tweet_ids=ids, **common)
    if status == 406:
        raise NotAcceptableError(f"{where}: {said}", **common)
    if status == 429:
        reset = response.headers.get(reset_header)
        reset_at = datetime.fromtimestamp(float(reset), UTC) if reset and reset.replace(".", "").isdigit() else None
        raise RateLimitError(f"{where}: {said}", reset_at=reset_at, **common)
    if status >= 500:
        raise ServerError(f"{where}: {said}. A server-side failure; safe to retry.", **common)
    raise APIStatusError(f"{where}: {said}", **common)
