"""One request to the Engagement API: send (gzip, auth, timeout), and map the status to an exception.

Sync (:class:`EngagementClient`) and async (:class:`AsyncEngagementClient`) share everything but the send.
Pacing, retries and partial failures are the job of :mod:`engagement_lab.api.fetch`.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self

import httpx

from .. import catalog
from .._version import __version__
from ..analytics_query import AnalyticsRequest
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
    ServerError,
)
from ..query import EngagementRequest
from .auth import BearerAuth, Credentials, OAuth1Auth

__all__ = ["BEARER", "AsyncEngagementClient", "EngagementClient", "RawResponse", "forbidden_ids", "raise_for_status"]

log = logging.getLogger("engagement_lab.api")
BEARER = "bearer"
"""The ``account`` of requests made with the app-only bearer token."""
_FORBIDDEN = re.compile(r"Forbidden to access tweets(?: for author id \d+)?:\s*(.+)$")


@dataclass(frozen=True)
class RawResponse:
    """A response as received: status, headers and the decoded body bytes, with what was sent."""

    status_code: int
    body: bytes = field(repr=False)
    headers: dict[str, str] = field(repr=False)
    request: EngagementRequest | AnalyticsRequest = field(repr=False)
    account: str
    sent: bytes = field(repr=False)
    retrieved_at: datetime
    elapsed: float

    def json(self) -> Any:
        return json.loads(self.body)


def forbidden_ids(messages: list[str]) -> list[str]:
    """The tweet ids named in ``Forbidden to access tweets: ...`` messages (both documented wordings)."""
    ids: list[str] = []
    for message in messages:
        match = _FORBIDDEN.search(message)
        if match:
            ids.extend(i.strip() for i in match.group(1).split(",") if i.strip().isdigit())
    return list(dict.fromkeys(ids))


def _messages(body: bytes) -> list[str]:
    try:
        errors = json.loads(body).get("errors", [])
    except (ValueError, AttributeError):
        return [body[:200].decode(errors="replace")] if body else []
    return [e if isinstance(e, str) else str(e.get("message", e)) for e in errors if isinstance(e, (str, dict))]


def _describe(request: EngagementRequest | AnalyticsRequest, account: str) -> dict[str, Any]:
    return {"endpoint": request.endpoint, "key": request.key, "tweet_ids": len(request.tweet_ids), "account": account}


def raise_for_status(response: RawResponse) -> None:
    """Raise the exception of the design's tree for a non-200 response."""
    status = response.status_code
    if status == 200:
        return
    messages = _messages(response.body)
    where = f"HTTP {status} from /{response.request.endpoint} ({response.account})"
    said = "; ".join(messages) or "no error text"
    common: dict[str, Any] = {
        "status_code": status,
        "body": response.body[:2000].decode(errors="replace"),
        "messages": messages,
        "request": _describe(response.request, response.account),
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
        ids = forbidden_ids(messages)
        hint = f" {len(ids)} tweet(s) are not owned by this account." if ids else ""
        raise ForbiddenError(f"{where}: {said}.{hint}", tweet_ids=ids, **common)
    if status == 406:
        raise NotAcceptableError(f"{where}: {said}", **common)
    if status == 429:
        reset = response.headers.get(catalog.HEADER_RESET)
        reset_at = datetime.fromtimestamp(float(reset), UTC) if reset and reset.replace(".", "").isdigit() else None
        raise RateLimitError(f"{where}: {said}", reset_at=reset_at, **common)
    if status >= 500:
        raise ServerError(f"{where}: {said}. A server-side failure; safe to retry.", **common)
    raise APIStatusError(f"{where}: {said}", **common)


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


class _Base:
    def __init__(
        self,
        credentials: Credentials,
        *,
        base_url: str = catalog.BASE_URL,
        timeout: float = 60.0,
        oauth_clock: Callable[[], float] | None = None,
    ) -> None:
        if not isinstance(credentials, Credentials):
            raise ConfigError(
                f"credentials must be a Credentials object (Credentials.load()), got {type(credentials).__name__}"
            )
        self.credentials = credentials
        self.base_url = check_base_url(base_url)
        self.timeout = timeout
        self._oauth_clock = oauth_clock
        self._auths: dict[str, httpx.Auth] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, accounts={self.credentials.handles})"

    def auth_for(self, account: str) -> httpx.Auth:
        """Bearer for ``"bearer"``, else OAuth 1.0a with that account's tokens."""
        if account not in self._auths:
            if account == BEARER:
                if self.credentials.bearer_token is None:
                    raise AuthenticationError(
                        "a bearer token is needed for public metrics of unowned tweets; set ENGAGEMENT_BEARER_TOKEN "
                        "or run `engagement-lab auth --bearer`",
                        status_code=401,
                    )
                self._auths[account] = BearerAuth(self.credentials.bearer_token)
            else:
                tokens = self.credentials.account(account)
                c = self.credentials
                clock = self._oauth_clock
                stamp = (lambda: str(int(clock()))) if clock is not None else None
                self._auths[account] = OAuth1Auth(
                    c.consumer_key, c.consumer_secret, tokens.access_token, tokens.access_token_secret, timestamp=stamp
                )
        return self._auths[account]

    def _prepare(self, request: EngagementRequest) -> tuple[str, bytes, dict[str, str]]:
        sent = json.dumps(request.to_body(), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
            "User-Agent": f"engagement-lab/{__version__}",
        }
        return self.base_url + request.path, sent, headers

    def _finish(
        self, request: EngagementRequest, account: str, sent: bytes, response: httpx.Response, t0: float
    ) -> RawResponse:
        raw = RawResponse(
            status_code=response.status_code,
            body=response.content,
            headers={k.lower(): v for k, v in response.headers.items()},
            request=request,
            account=account,
            sent=sent,
            retrieved_at=datetime.now(UTC),
            elapsed=time.perf_counter() - t0,
        )
        log.debug(
            "POST /%s key=%s ids=%d account=%s -> %d in %.3fs",
            request.endpoint,
            request.key,
            len(request.tweet_ids),
            account,
            raw.status_code,
            raw.elapsed,
        )
        return raw


def _transport_error(exc: Exception, request: EngagementRequest, account: str) -> Exception:
    described = _describe(request, account)
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(
            f"/{request.endpoint} timed out ({type(exc).__name__}); safe to retry", request=described
        )
    return APIConnectionError(
        f"/{request.endpoint}: connection failed or the body arrived incomplete ({type(exc).__name__}); safe to retry",
        request=described,
    )


class EngagementClient(_Base):
    """Synchronous client: ``send(request, account=...)`` makes exactly one HTTP call.

    Parameters
    ----------
    credentials : Credentials
    base_url : str
        The real host by default; the sandbox's URL for local work.
    timeout : float
        Seconds for connect and read.
    transport : httpx.BaseTransport, optional
        E.g. the sandbox's in-process transport.
    """

    def __init__(
        self, credentials: Credentials, *, transport: httpx.BaseTransport | None = None, **options: Any
    ) -> None:
        super().__init__(credentials, **options)
        self._http = httpx.Client(transport=transport, timeout=self.timeout)

    def send(self, request: EngagementRequest, *, account: str, check: bool = True) -> RawResponse:
        """Send one request; return the response, raising the mapped error for non-200 when ``check``."""
        url, sent, headers = self._prepare(request)
        t0 = time.perf_counter()
        try:
            response = self._http.post(url, content=sent, headers=headers, auth=self.auth_for(account))
            response.read()
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise _transport_error(exc, request, account) from None
        raw = self._finish(request, account, sent, response, t0)
        if check:
            raise_for_status(raw)
        return raw

    def server_time(self, *, attempts: int = 3) -> datetime | None:
        """The API's clock, from the ``Date`` header of one unauthenticated GET of the base URL (any status).

        Planning by this clock keeps "the end is in the future" and default windows right when the local clock
        and the server's differ (a sandbox with a fixed world clock, a skewed laptop). ``None`` when the server
        sends no usable ``Date``. A server that cannot be reached after ``attempts`` tries raises
        :class:`APIConnectionError` naming the URL, so a wrong ``--base-url`` fails at once.
        """
        last: Exception | None = None
        for attempt in range(attempts):
            try:
                response = self._http.get(self.base_url + "/", headers={"User-Agent": f"engagement-lab/{__version__}"})
                break
            except httpx.TransportError as exc:
                last = exc
                time.sleep(0.2 * (attempt + 1))
        else:
            raise APIConnectionError(
                f"cannot reach the API at {self.base_url} ({type(last).__name__}: {last}); check --base-url and the "
                "network. Nothing was fetched."
            )
        try:
            return parsedate_to_datetime(response.headers["date"]).astimezone(UTC)
        except (KeyError, TypeError, ValueError):
            return None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


class AsyncEngagementClient(_Base):
    """Asynchronous twin of :class:`EngagementClient` (``await client.send(...)``)."""

    def __init__(
        self, credentials: Credentials, *, transport: httpx.AsyncBaseTransport | None = None, **options: Any
    ) -> None:
        super().__init__(credentials, **options)
        self._http = httpx.AsyncClient(transport=transport, timeout=self.timeout)

    async def send(self, request: EngagementRequest, *, account: str, check: bool = True) -> RawResponse:
        url, sent, headers = self._prepare(request)
        t0 = time.perf_counter()
        try:
            response = await self._http.post(url, content=sent, headers=headers, auth=self.auth_for(account))
            await response.aread()
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise _transport_error(exc, request, account) from None
        raw = self._finish(request, account, sent, response, t0)
        if check:
            raise_for_status(raw)
        return raw

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.aclose()
