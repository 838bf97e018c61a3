"""Server-side OAuth for the sandbox: really verifies OAuth 1.0a HMAC-SHA1 and serves the token flows.

The signature check is written here from RFC 5849 §3.4 on purpose, independent of oauthlib, so the client
(which signs with oauthlib) and the sandbox check each other. JSON bodies are not part of the base string;
form-encoded bodies are.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from threading import Lock
from urllib.parse import parse_qsl, quote, unquote

__all__ = [
    "OAuthError",
    "TokenStore",
    "base_string",
    "hmac_sha1_signature",
    "parse_oauth_header",
    "percent_encode",
]

TIMESTAMP_TOLERANCE_S = 300
"""How far a request's oauth_timestamp may be from the server clock."""
_PARAM = re.compile(r'\s*([A-Za-z0-9_\-.~%]+)\s*=\s*"([^"]*)"\s*')


class OAuthError(Exception):
    """Authentication failed; ``reason`` is the text after "Reason: " in the 401 body."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding as OAuth 1.0a requires (unreserved: ALPHA DIGIT - . _ ~)."""
    return quote(value, safe="-._~")


def base_string(method: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The signature base string (RFC 5849 §3.4.1) for decoded ``params`` (no oauth_signature)."""
    pairs = sorted((percent_encode(k), percent_encode(v)) for k, v in params)
    normalized = "&".join(f"{k}={v}" for k, v in pairs)
    return "&".join([method.upper(), percent_encode(url), percent_encode(normalized)])


def hmac_sha1_signature(base: str, consumer_secret: str, token_secret: str = "") -> str:
    """Base64 HMAC-SHA1 of ``base`` keyed by ``consumer_secret&token_secret`` (both encoded)."""
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}"
    digest = hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def parse_oauth_header(header: str) -> dict[str, str]:
    """Parse ``OAuth k="v", ...`` into decoded parameters (``realm`` dropped)."""
    if not header.startswith("OAuth "):
        raise OAuthError("Unknown Authorization Type")
    params: dict[str, str] = {}
    for part in header[len("OAuth ") :].split(","):
        match = _PARAM.fullmatch(part)
        if match is None:
            raise OAuthError("Malformed OAuth header")
        params[unquote(match.group(1))] = unquote(match.group(2))
    params.pop("realm", None)
    return params


@dataclass
class _Pending:
    secret: str
    callback: str
    handle: str | None = None
    verifier: str | None = None


@dataclass
class TokenStore:
    """The app's consumer credentials, the access tokens it knows and the flows in progress."""

    consumer_key: str
    consumer_secret: str = field(repr=False)
    bearer_token: str = field(repr=False)
    wall: Callable[[], float] = time.time
    access: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)
    """access token -> (token secret, account handle)"""
    _pending: dict[str, _Pending] = field(default_factory=dict, repr=False)
    _nonces: dict[tuple[str, str, str], float] = field(default_factory=dict, repr=False)
    _lock: Lock = field(default_factory=Lock, repr=False)

    def verify(self, method: str, url: str, header: str, extra: Iterable[tuple[str, str]] = ()) -> dict[str, str]:
        """Verify an OAuth 1.0a request; return its oauth parameters or raise :class:`OAuthError`."""
        params = parse_oauth_header(header)
        if params.get("oauth_consumer_key") != self.consumer_key:
            raise OAuthError("Invalid consumer key")
        if params.get("oauth_signature_method") != "HMAC-SHA1":
            raise OAuthError("Unsupported signature method")
        token = params.get("oauth_token", "")
        token_secret = self._token_secret(token)
        signature = params.pop("oauth_signature", "")
        expected = hmac_sha1_signature(
            base_string(method, url, [*params.items(), *extra]), self.consumer_secret, token_secret
        )
        if not hmac.compare_digest(signature, expected):
            raise OAuthError("Invalid signature")
        self._check_freshness(token, params)
        return params

    def _token_secret(self, token: str) -> str:
        if not token:
            return ""
        if token in self.access:
            return self.access[token][0]
        if token in self._pending:
            return self._pending[token].secret
        raise OAuthError("Access token not found")

    def _check_freshness(self, token: str, params: dict[str, str]) -> None:
        try:
            stamp = int(params.get("oauth_timestamp", ""))
        except ValueError:
            raise OAuthError("Timestamp missing or invalid") from None
        now = self.wall()
        if abs(now - stamp) > TIMESTAMP_TOLERANCE_S:
            raise OAuthError("Timestamp out of bounds")
        key = (params["oauth_consumer_key"], token, params.get("oauth_nonce", ""))
        if not key[2]:
            raise OAuthError("Nonce missing")
        with self._lock:
            self._nonces = {k: t for k, t in self._nonces.items() if now - t <= 2 * TIMESTAMP_TOLERANCE_S}
            if key in self._nonces:
                raise OAuthError("Nonce already used")
            self._nonces[key] = now

    def account_of(self, access_token: str) -> str:
        """The handle whose access token this is."""
        return self.access[access_token][1]

    # --- the 3-legged flow ---------------------------------------------------------------------------

    def issue_request_token(self, callback: str) -> tuple[str, str]:
        token, secret = secrets.token_urlsafe(18), secrets.token_urlsafe(27)
        with self._lock:
            self._pending[token] = _Pending(secret, callback)
        return token, secret

    def authorize(self, request_token: str, handle: str) -> tuple[str, str]:
        """The user ``handle`` approves; return (verifier PIN, callback)."""
        pending = self._pending.get(request_token)
        if pending is None:
            raise OAuthError("Request token not found")
        pending.handle, pending.verifier = handle, f"{secrets.randbelow(10**7):07d}"
        return pending.verifier, pending.callback

    def exchange(self, request_token: str, verifier: str) -> tuple[str, str, str]:
        """Trade an authorised request token and its verifier for (token, secret, handle)."""
        with self._lock:
            pending = self._pending.get(request_token)
            if pending is None or pending.verifier is None or pending.handle is None:
                raise OAuthError("Request token not authorized")
            if not hmac.compare_digest(pending.verifier, verifier):
                raise OAuthError("Invalid oauth_verifier")
            del self._pending[request_token]
            token = f"{secrets.randbelow(10**9)}-{secrets.token_urlsafe(30)}"
            secret = secrets.token_urlsafe(33)
            self.access[token] = (secret, pending.handle)
        return token, secret, pending.handle

    def check_basic(self, header: str) -> bool:
        """Whether a ``Basic`` header carries this app's consumer key and secret (bearer-token flow)."""
        if not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
        except ValueError:
            return False
        key, _, secret = decoded.partition(":")
        return hmac.compare_digest(unquote(key), self.consumer_key) and hmac.compare_digest(
            unquote(secret), self.consumer_secret
        )


def form_params(body: bytes) -> list[tuple[str, str]]:
    """Decoded pairs of a form-encoded body."""
    return parse_qsl(body.decode(), keep_blank_values=True)
