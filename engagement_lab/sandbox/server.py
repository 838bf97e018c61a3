"""Serve the sandbox over a real loopback socket, in a thread (``Sandbox``) or in the foreground (CLI).

``Sandbox.transport()`` gives an in-process httpx transport with the same behaviour as the socket, for
unit-speed tests: a dropped connection or a truncated body surfaces as the ``httpx`` transport error a real
socket would give.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from collections.abc import Iterable
from datetime import datetime
from socketserver import ThreadingMixIn
from types import TracebackType
from typing import Any, Self
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

import httpx

from .app import SandboxApp
from .faults import DroppedConnection

__all__ = ["Sandbox", "SandboxTransport", "make_server"]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _Handler(ServerHandler):
    def handle_error(self) -> None:
        if isinstance(sys.exc_info()[1], DroppedConnection):
            raise  # reaches _RequestHandler.handle, which closes the socket without a response
        super().handle_error()


class _RequestHandler(WSGIRequestHandler):
    """Quiet, and closes the socket without a response when the app drops the connection."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if not self.parse_request():
            return
        wfile: Any = self.wfile
        handler = _Handler(self.rfile, wfile, self.get_stderr(), self.get_environ(), multithread=True)
        handler.request_handler = self  # type: ignore[attr-defined]
        try:
            handler.run(self.server.get_app())  # type: ignore[attr-defined]
        except DroppedConnection:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)


def make_server(app: SandboxApp, host: str = "127.0.0.1", port: int = 0) -> WSGIServer:
    """A threaded WSGI server bound to ``host:port`` (port 0 picks a free one)."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"the sandbox serves loopback only, got host={host!r}")
    server = _ThreadingServer((host, port), _RequestHandler)
    server.set_app(app)
    return server


class Sandbox:
    """Run a sandbox server on a free loopback port in a background thread.

    Parameters
    ----------
    app : SandboxApp, optional
        Built from ``**app_options`` when not given (``seed``, ``clock``, ``rate_limit_per_minute``,
        ``faults``...).

    Examples
    --------
    >>> with Sandbox(seed=7) as sandbox:
    ...     sandbox.base_url.startswith("http://127.0.0.1:")
    True
    """

    def __init__(self, app: SandboxApp | None = None, **app_options: Any) -> None:
        self.app = app if app is not None else SandboxApp(**app_options)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not running; use it as a context manager or call start()")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def now(self) -> datetime:
        """The sandbox world's current time (aware UTC; fixed unless the app was given a moving clock).

        Pass it as ``now=`` to a query's ``plan`` or a fetch, so requests ask for hours the world has data for.

        Examples
        --------
        >>> Sandbox(seed=7).now.isoformat()
        '2026-06-01T12:00:00+00:00'
        """
        return self.app.clock.now()

    @property
    def info(self) -> dict[str, Any]:
        """Base URL, app credentials and accounts (see :meth:`SandboxApp.info`)."""
        return self.app.info(self.base_url)

    def start(self) -> Self:
        self._server = make_server(self.app)
        self._thread = threading.Thread(target=self._server.serve_forever, name="engagement-lab-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.stop()

    def transport(self) -> SandboxTransport:
        """An in-process transport to the same app (no socket)."""
        return SandboxTransport(self.app)


class SandboxTransport(httpx.BaseTransport):
    """``httpx.WSGITransport`` over the sandbox app, with socket-like failures for injected faults."""

    def __init__(self, app: SandboxApp) -> None:
        self._inner = httpx.WSGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = self._inner.handle_request(request)
        except DroppedConnection as exc:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request) from exc
        promised = response.headers.get("Content-Length")
        raw = _read_all(response.stream)
        if promised is not None and len(raw) < int(promised):
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body", request=request
            )
        return httpx.Response(response.status_code, headers=response.headers, content=raw, request=request)


def _read_all(stream: Any) -> bytes:
    parts: Iterable[bytes] = stream
    return b"".join(parts)
