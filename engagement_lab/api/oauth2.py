"""OAuth 2.0 user context for X API v2: the Authorization Code flow with PKCE, and tokens that refresh themselves.

The protocol steps (authorization URL with an S256 code challenge, the code exchange, the refresh body, parsing
the token answer) are oauthlib's :class:`~oauthlib.oauth2.WebApplicationClient`; this module adds the loopback
redirect listener (a one-shot HTTP server on 127.0.0.1 that captures ``?code=...&state=...``), the paste-the-URL
mode, and an ``httpx.Auth`` that refreshes an expired token once, under a lock, and reports the new one so the
credentials file can be rewritten (0600, atomically, by :meth:`Credentials.save`).
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from oauthlib.oauth2 import WebApplicationClient
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from ..errors import AuthenticationError, ConfigError
from ..sources.x_v2 import catalog as v2
from .auth import OAuth2Token, Secret

__all__ = ["LoopbackRedirect", "OAuth2UserAuth", "PKCEFlow", "authorize_url_base", "token_url"]


def token_url(base_url: str) -> str:
    """Where tokens are exchanged: ``https://api.x.com/2/oauth2/token`` or the sandbox's."""
    return base_url.rstrip("/") + v2.TOKEN_PATH


def authorize_url_base(base_url: str) -> str:
    """The consent page: X's web page for the real API, the sandbox's own route locally."""
    return v2.AUTHORIZE_URL if base_url.rstrip("/") == v2.V2_BASE_URL else base_url.rstrip("/") + "/i/oauth2/authorize"


def _is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


@contextmanager
def _loopback_allowed(*urls: str) -> Iterator[None]:
    """oauthlib refuses plain-http URLs; RFC 8252 §7.3 makes ``http://127.0.0.1`` redirects the norm for native
    apps, and the sandbox runs on loopback. Allow http only while handling such URLs, and only those."""
    if not all(_is_loopback(u) or u.startswith("https://") for u in urls):
        raise ConfigError(f"OAuth 2.0 URLs must be https or loopback http, got {[u[:60] for u in urls]}")
    previous = os.environ.get("OAUTHLIB_INSECURE_TRANSPORT")
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("OAUTHLIB_INSECURE_TRANSPORT", None)
        else:
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = previous


def _token_from(answer: dict[str, Any], now: float) -> OAuth2Token:
    if not isinstance(answer.get("access_token"), str):
        raise AuthenticationError(
            f"the token endpoint answered without an access_token: {sorted(answer)}", status_code=400
        )
    expires = answer.get("expires_in")
    return OAuth2Token(
        Secret(answer["access_token"]),
        Secret(answer["refresh_token"]) if isinstance(answer.get("refresh_token"), str) else None,
        now + float(expires) if isinstance(expires, (int, float)) else None,
        " ".join(answer["scope"]) if isinstance(answer.get("scope"), list) else str(answer.get("scope", "")),
    )


@dataclass
class PKCEFlow:
    """One authorization: ``url`` to open, then :meth:`exchange` the redirect URL the browser landed on."""

    client_id: str
    redirect_uri: str
    base_url: str = v2.V2_BASE_URL
    scopes: tuple[str, ...] = v2.SCOPES

    def __post_init__(self) -> None:
        if not self.client_id:
            raise ConfigError("OAuth 2.0 needs the app's client id (oauth2_client_id in the credentials file)")
        self._client = WebApplicationClient(self.client_id)
        self.verifier = self._client.create_code_verifier(64)
        self.state = secrets.token_urlsafe(16)
        challenge = self._client.create_code_challenge(self.verifier, "S256")
        authorize = authorize_url_base(self.base_url)
        with _loopback_allowed(authorize, self.redirect_uri):
            self.url = self._client.prepare_request_uri(
                authorize,
                redirect_uri=self.redirect_uri,
                scope=list(self.scopes),
                state=self.state,
                code_challenge=challenge,
                code_challenge_method="S256",
            )

    def exchange(self, redirected_to: str, *, http: httpx.Client | None = None) -> OAuth2Token:
        """Check ``state``, send the code with the PKCE verifier, and return the user's token."""
        try:
            with _loopback_allowed(redirected_to):
                code = self._client.parse_request_uri_response(redirected_to, state=self.state)["code"]
        except OAuth2Error as exc:
            raise AuthenticationError(
                f"the authorization did not complete: {exc.description or exc.error}", status_code=400
            ) from None
        except KeyError:
            raise AuthenticationError(
                "the redirect URL carries no code; paste the whole URL", status_code=400
            ) from None
        body = self._client.prepare_request_body(
            code=code, redirect_uri=self.redirect_uri, code_verifier=self.verifier, include_client_id=True
        )
        return _post_token(self.base_url, body, http)


def _post_token(base_url: str, body: str, http: httpx.Client | None) -> OAuth2Token:
    owned = http is None
    client = http or httpx.Client(timeout=30)
    try:
        response = client.post(
            token_url(base_url), content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
    finally:
        if owned:
            client.close()
    return _token_answer(response, "the token endpoint refused", time.time())


def _token_answer(response: httpx.Response, refused: str, now: float) -> OAuth2Token:
    """The token in a token-endpoint answer, or the endpoint's own reason (``error_description``) for refusing."""
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if response.status_code != 200:
        said = answer.get("error_description") or answer.get("error") or response.text[:200]
        raise AuthenticationError(f"{refused} ({response.status_code}): {said}", status_code=response.status_code)
    return _token_from(answer, now)


class LoopbackRedirect:
    """A one-shot listener on ``http://127.0.0.1:<port>/callback`` that captures the redirect (RFC 8252 §7.3).

    ``wait(timeout)`` returns the full URL the browser was sent to, or raises after ``timeout`` seconds."""

    def __init__(self, port: int = 0) -> None:
        captured: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                captured.append(self.path)
                ok = "code=" in self.path
                self.send_response(200 if ok else 400)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                text = "engagement_lab is authorised; you can close this tab." if ok else "No code in this redirect."
                self.wfile.write(f"<!doctype html><p>{text}</p>".encode())

            def log_message(self, *args: Any) -> None:
                return

        self._captured = captured
        self._server = HTTPServer(("127.0.0.1", port), Handler)
        self.uri = f"http://127.0.0.1:{self._server.server_port}/callback"

    def wait(self, timeout: float = 300.0) -> str:
        deadline = time.monotonic() + timeout
        self._server.timeout = 0.5
        try:
            while not self._captured:
                if time.monotonic() > deadline:
                    raise AuthenticationError(
                        f"no redirect reached {self.uri} within {timeout:.0f} s; use --paste to paste the URL",
                        status_code=408,
                    )
                self._server.handle_request()
        finally:
            self._server.server_close()
        path = self._captured[0]
        parts = urlsplit(path)
        if "code" not in parse_qs(parts.query) and "error" not in parse_qs(parts.query):
            raise AuthenticationError(f"the redirect carried no code: {path[:200]}", status_code=400)
        return f"http://127.0.0.1:{self._server.server_port}{path}"


class OAuth2UserAuth(httpx.Auth):
    """``Authorization: Bearer <user token>``, refreshed when it has expired (or a 401 says so), once.

    ``on_refresh(token)`` is called with every new token, so the caller can save it (the old refresh token no
    longer works after a refresh)."""

    requires_response_body = False
    """The answers to the signed requests are not read here (httpx would read them whole, without the client's
    size cap); only a token endpoint's answer is, in :meth:`_adopt`."""

    def __init__(
        self,
        token: OAuth2Token,
        *,
        client_id: str | None,
        base_url: str,
        on_refresh: Callable[[OAuth2Token], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token, self._client_id, self._base = token, client_id, base_url
        self._on_refresh, self._clock = on_refresh, clock
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "OAuth2UserAuth(***)"

    def _refresh_request(self) -> httpx.Request:
        if self.token.refresh_token is None or not self._client_id:
            raise AuthenticationError(
                "the OAuth 2.0 token expired and cannot be refreshed (no refresh token or client id); run "
                "`engagement-lab auth oauth2` again",
                status_code=401,
            )
        body = WebApplicationClient(self._client_id).prepare_refresh_body(
            refresh_token=self.token.refresh_token.reveal(), client_id=self._client_id
        )
        return httpx.Request(
            "POST", token_url(self._base), content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )

    def _adopt(self, response: httpx.Response) -> None:
        response.read()  # the token endpoint's small answer (a streamed one is not read yet)
        self.token = _token_answer(response, "refreshing the OAuth 2.0 token failed", self._clock())
        if self._on_refresh is not None:
            self._on_refresh(self.token)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        with self._lock:  # one refresh at a time: the next waiter sees the new token
            if self.token.expired(self._clock()):
                self._adopt((yield self._refresh_request()))
            used = self.token
        request.headers["Authorization"] = f"Bearer {used.access_token.reveal()}"
        response = yield request
        if response.status_code == 401 and used.refresh_token is not None and self._client_id:
            with self._lock:
                if self.token is used:  # nobody refreshed meanwhile
                    self._adopt((yield self._refresh_request()))
            request.headers["Authorization"] = f"Bearer {self.token.access_token.reveal()}"
            yield request
