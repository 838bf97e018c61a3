"""Bounds on every network wait and every answer: a per-request deadline kept at the socket, and a size cap kept
while the body streams in.

httpx bounds each socket operation (connecting, one read), not a request: a server that sends a byte every few
seconds never trips a read timeout, and an endless chunked body is read until memory runs out. So:

- :func:`deadline` sets a request's total deadline (a context variable, so each worker thread has its own), and
  :func:`bounded_transport` is httpx's own transport whose sockets never wait past it: every connect, write and
  read is given ``min(its timeout, the time left)`` and fails with httpcore's timeout once none is left. This works
  in the header phase too, which no check between body chunks could reach.
- :class:`BodyReader` reads the raw body chunk by chunk, inflates gzip itself with a cap
  (:mod:`engagement_lab.load.inflate`; httpx's decoder inflates a whole network chunk at once, up to 1,000 times
  its size), refuses more than ``max_response_bytes`` sent or inflated, and checks the deadline between chunks
  (for transports without sockets, such as the sandbox's in-process one).

httpx offers no way to pass httpcore's ``network_backend`` to its transport, so :func:`bounded_transport` wraps the
backend of the pool it built (``_pool._network_backend``, the same attribute since httpcore 0.14); the hostile
server tests fail if that ever changes.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import operator
import time
import zlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, Final

import httpcore
import httpx

from ..errors import InflationLimitError
from ..load.inflate import Inflater

__all__ = [
    "CONNECT_TIMEOUT",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TIMEOUT",
    "BodyReader",
    "DeadlinePassed",
    "TooLarge",
    "bounded_transport",
    "deadline",
    "timeouts",
]

DEFAULT_TIMEOUT: Final = 60.0
"""Seconds one request may take in all: connecting, sending, and the whole answer."""
CONNECT_TIMEOUT: Final = 10.0
"""Seconds to open a connection (or the request's timeout, when shorter)."""
DEFAULT_MAX_RESPONSE_BYTES: Final = 256 * 2**20
"""The largest answer read, as sent or inflated (256 MiB; the largest real answers are tens of MB)."""

_deadline: ContextVar[float | None] = ContextVar("engagement_lab_request_deadline", default=None)


class DeadlinePassed(httpx.TimeoutException):
    """The request's total deadline passed between two chunks of its body."""


class TooLarge(Exception):
    """The answer passed ``max_response_bytes`` (``inflated``: once inflated). Mapped to ResponseTooLargeError."""

    def __init__(self, limit: int, *, inflated: bool) -> None:
        super().__init__(limit, inflated)
        self.limit, self.inflated = limit, inflated


def timeouts(timeout: float) -> httpx.Timeout:
    """httpx's per-operation timeouts for a request of ``timeout`` seconds in all."""
    return httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout))


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[float]:
    """Within the block, the sockets of :func:`bounded_transport` wait at most until ``seconds`` from now (a nested
    block may shorten it, never lengthen it). Yields the deadline on :func:`time.monotonic`'s clock."""
    outer = _deadline.get()
    until = time.monotonic() + seconds
    if outer is not None:
        until = min(until, outer)
    token = _deadline.set(until)
    try:
        yield until
    finally:
        _deadline.reset(token)


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` cut to the time the current deadline leaves; ``error`` once none is left."""
    until = _deadline.get()
    if until is None:
        return timeout
    left = until - time.monotonic()
    if left <= 0:
        raise error("the request's total deadline passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        inner = self._inner.start_tls(ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout))
        return _Stream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, left, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, left, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def bounded_transport() -> httpx.HTTPTransport:
    """httpx's default transport, its sockets bound by :func:`deadline`."""
    transport = httpx.HTTPTransport()
    pool = transport._pool
    pool._network_backend = _Backend(pool._network_backend)
    return transport


def bound_sockets(client: httpx.Client) -> httpx.Client:
    """``client`` with the sockets of its default transport and of every proxy mount httpx made from the
    environment (``HTTP(S)_PROXY``, ``ALL_PROXY``) bound by :func:`deadline`. httpx honours those variables only
    when no transport is passed, so the client is built without one and bound here."""
    for transport in (client._transport, *client._mounts.values()):
        pool = getattr(transport, "_pool", None)
        if pool is not None and hasattr(pool, "_network_backend"):
            pool._network_backend = _Backend(pool._network_backend)
    return client


class BodyReader:
    """A response body, read raw and inflated here, within ``limit`` bytes and before ``until``.

    Content encodings: none/identity, gzip (x-gzip) and deflate; any other was not asked for (the clients send
    ``Accept-Encoding: gzip``) and raises ``httpx.DecodingError``.
    """

    def __init__(self, response: httpx.Response, *, limit: int, until: float) -> None:
        self.limit, self.until = limit, until
        self.received = 0
        self.pieces: list[bytes] = []
        encoding = response.headers.get("content-encoding", "").strip().lower()
        wbits = {"gzip": 31, "x-gzip": 31, "deflate": 47}.get(encoding)
        if encoding not in ("", "identity") and wbits is None:
            raise httpx.DecodingError(
                f"the answer is encoded as {encoding!r}, which was not asked for (Accept-Encoding: gzip)",
                request=response.request,
            )
        self.inflater = (
            Inflater(limit, what="the answer", why="max_response_bytes", wbits=wbits) if wbits is not None else None
        )

    def feed(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received > self.limit:
            raise TooLarge(self.limit, inflated=False)
        if self.inflater is None:
            self.pieces.append(chunk)
        else:
            try:
                self.pieces += self.inflater.feed(chunk)
            except InflationLimitError:
                raise TooLarge(self.limit, inflated=True) from None
            except zlib.error as exc:
                raise httpx.DecodingError(f"the gzip body is damaged ({exc})") from None
        if time.monotonic() > self.until:
            raise DeadlinePassed("the request's total deadline passed while its body was arriving")

    def body(self) -> bytes:
        if self.inflater is not None:
            try:
                self.inflater.finish()
            except EOFError as exc:
                raise httpx.DecodingError(f"the gzip body is incomplete ({exc})") from None
        return b"".join(self.pieces)

    def _held(self, response: httpx.Response) -> bytes:
        """The body an in-process transport handed over whole (already decoded by httpx), checked for size."""
        if len(response.content) > self.limit:
            raise TooLarge(self.limit, inflated=True)
        return response.content

    def read(self, response: httpx.Response) -> bytes:
        """Read a streamed ``response``'s whole body."""
        if response.is_stream_consumed:
            return self._held(response)
        for chunk in response.iter_raw():
            self.feed(chunk)
        return self.body()

    async def aread(self, response: httpx.Response) -> bytes:
        """Read a streamed ``response``'s whole body (async)."""
        if response.is_stream_consumed:
            return self._held(response)
        async for chunk in response.aiter_raw():
            self.feed(chunk)
        return self.body()


def positive_seconds(name: str, value: object) -> float:
    """``value`` as seconds of a bound: a positive finite number (numpy's too), else a ConfigError naming ``name``
    (zero, negative, NaN or infinite would make every wait endless, or none possible)."""
    from ..errors import ConfigError

    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < float(value) < math.inf:
        raise ConfigError(f"{name} must be a positive number of seconds, got {value!r}; e.g. {name}=30")
    return float(value)


def positive_bytes(name: str, value: object) -> int:
    """``value`` as a size bound: a positive whole number (numpy's too), else a ConfigError naming ``name``."""
    from ..errors import ConfigError

    try:
        size = operator.index(value) if not isinstance(value, bool) else 0  # type: ignore[arg-type]
    except TypeError:
        size = 0
    if size < 1:
        raise ConfigError(
            f"{name} must be a positive whole number of bytes, got {value!r}; e.g. {name}={DEFAULT_MAX_RESPONSE_BYTES}"
        )
    return size
