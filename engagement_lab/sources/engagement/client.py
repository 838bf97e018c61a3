"""One request to the Engagement API: send (gzip, auth, timeout), and map the status to an exception.

Sync (:class:`EngagementClient`) and async (:class:`AsyncEngagementClient`) share everything but the send.
Pacing, retries and partial failures are the job of :mod:`engagement_lab.sources.engagement.fetch`.
"""

from __future__ import annotations

import json
import logging
import re
import time
from types import TracebackType
from typing import Any, Self

import anyio
import httpx

from ...api import http
from ...api.auth import BEARER, BearerAuth, Credentials, OAuth1Auth
from ...api.bounded import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, BodyReader, TooLarge, timeouts
from ...api.http import USER_AGENT, BaseClient, RawResponse, check_base_url, too_large, transport_error
from ...errors import AuthenticationError
from . import catalog
from .query import EngagementRequest

__all__ = [
    "BEARER",
    "AsyncEngagementClient",
    "EngagementClient",
    "RawResponse",
    "check_base_url",
    "forbidden_ids",
    "raise_for_status",
]

log = logging.getLogger("engagement_lab.api")
_FORBIDDEN = re.compile(r"Forbidden to access tweets(?: for author id \d+)?:\s*(.+)$")


def forbidden_ids(messages: list[str]) -> list[str]:
    """The tweet ids named in ``Forbidden to access tweets: ...`` messages (both documented wordings)."""
    ids: list[str] = []
    for message in messages:
        match = _FORBIDDEN.search(message)
        if match:
            ids.extend(i.strip() for i in match.group(1).split(",") if i.strip().isdigit())
    return list(dict.fromkeys(ids))


def raise_for_status(response: RawResponse) -> None:
    """Raise the exception of the design's tree for a non-200 answer of the Engagement API."""
    http.raise_for_status(response, reset_header=catalog.HEADER_RESET, forbidden=forbidden_ids)


def _auth_for(client: BaseClient, account: str) -> httpx.Auth:
    """Bearer for ``"bearer"``, else OAuth 1.0a with that account's tokens (cached per account)."""
    if account not in client._auths:
        credentials = client.credentials
        if account == BEARER:
            if credentials.bearer_token is None:
                raise AuthenticationError(
                    "a bearer token is needed for public metrics of unowned tweets; set ENGAGEMENT_BEARER_TOKEN "
                    "or run `engagement-lab auth --bearer`",
                    status_code=401,
                )
            client._auths[account] = BearerAuth(credentials.bearer_token)
        else:
            tokens = credentials.account(account)
            client._auths[account] = OAuth1Auth(
                credentials.consumer_key,
                credentials.consumer_secret,
                tokens.access_token,
                tokens.access_token_secret,
                timestamp=client._timestamp(),
            )
    return client._auths[account]


def _prepare(base_url: str, request: EngagementRequest) -> tuple[str, bytes, dict[str, str]]:
    sent = json.dumps(request.to_body(), separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Accept-Encoding": "gzip",
        "User-Agent": USER_AGENT,
    }
    return base_url + request.path, sent, headers


def _logged(raw: RawResponse) -> RawResponse:
    request = raw.request
    log.debug(
        "POST /%s key=%s ids=%d account=%s -> %d in %.3fs",
        request.endpoint, request.key, len(request.tweet_ids), raw.account, raw.status_code, raw.elapsed,
    )  # fmt: skip
    return raw


class EngagementClient(BaseClient):
    """Synchronous client: ``send(request, account=...)`` makes exactly one HTTP call.

    Parameters
    ----------
    credentials : Credentials
    base_url : str
        The real host by default; the sandbox's URL for local work.
    timeout : float
        Seconds one request may take in all (see :class:`engagement_lab.api.http.BaseClient`).
    max_response_bytes : int
        The largest answer read, as sent or once inflated (256 MiB by default).
    transport : httpx.BaseTransport, optional
        E.g. the sandbox's in-process transport.
    """

    def __init__(self, credentials: Credentials, *, base_url: str = catalog.BASE_URL, **options: Any) -> None:
        super().__init__(credentials, base_url=base_url, **options)

    def auth_for(self, account: str) -> httpx.Auth:
        """Bearer for ``"bearer"``, else OAuth 1.0a with that account's tokens."""
        return _auth_for(self, account)

    def send(self, request: EngagementRequest, *, account: str, check: bool = True) -> RawResponse:
        """Send one request; return the response, raising the mapped error for non-200 when ``check``."""
        url, sent, headers = _prepare(self.base_url, request)
        auth = self.auth_for(account)
        raw = _logged(self._exchange(request, account, sent, "POST", url, content=sent, headers=headers, auth=auth))
        if check:
            raise_for_status(raw)
        return raw


class AsyncEngagementClient:
    """Asynchronous twin of :class:`EngagementClient` (``await client.send(...)``), with the same bounds: the whole
    request within ``timeout`` seconds (cancelled by anyio, so under asyncio or trio), the answer within
    ``max_response_bytes``."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        base_url: str = catalog.BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._sync = EngagementClient(
            credentials, base_url=base_url, timeout=timeout, max_response_bytes=max_response_bytes
        )  # auth, checks, repr
        self._http = httpx.AsyncClient(transport=transport, timeout=timeouts(timeout))

    def __repr__(self) -> str:
        return repr(self._sync).replace("EngagementClient", type(self).__name__, 1)

    async def send(self, request: EngagementRequest, *, account: str, check: bool = True) -> RawResponse:
        url, sent, headers = _prepare(self._sync.base_url, request)
        timeout, started = self._sync.timeout, time.perf_counter()
        try:
            with anyio.fail_after(timeout):
                auth = self._sync.auth_for(account)
                async with self._http.stream("POST", url, content=sent, headers=headers, auth=auth) as response:
                    reader = BodyReader(response, limit=self._sync.max_response_bytes, until=time.monotonic() + timeout)
                    body = await reader.aread(response)
        except TimeoutError:
            raise transport_error(httpx.TimeoutException("deadline"), request, account, timeout) from None
        except TooLarge as exc:
            raise too_large(exc, request, account) from None
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise transport_error(exc, request, account, timeout) from None
        raw = _logged(self._sync._received(request, account, sent, response, body, started))
        if check:
            raise_for_status(raw)
        return raw

    async def aclose(self) -> None:
        await self._http.aclose()
        self._sync.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.aclose()
