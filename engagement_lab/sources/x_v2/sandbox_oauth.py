"""The sandbox's OAuth 2.0 Authorization Code flow with PKCE, as X serves it for X API v2 user tokens: a consent
page answered at once, code exchange (checking the verifier), refresh tokens that work once, and access tokens
that expire."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from threading import Lock
from typing import Any
from urllib.parse import urlencode

from ...sandbox.http import Response, form, json_response, query
from ...sandbox.world import World
from . import catalog as v2

__all__ = ["OAuth2Server"]


@dataclass
class _Grant:
    handle: str
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str


class OAuth2Server:
    """The token endpoints of X API v2's OAuth 2.0 (``GET /i/oauth2/authorize``, ``POST /2/oauth2/token``) and the
    access tokens they issued (``user_of``)."""

    def __init__(self, world: World, *, client_id: str, wall: Callable[[], float], problem: Callable[..., Response]):
        self.world, self.client_id, self.wall, self.problem = world, client_id, wall, problem
        self._grants: dict[str, _Grant] = {}
        self.access: dict[str, tuple[str, float]] = {}  # OAuth 2.0 access token -> (handle, expiry in wall time)
        self._refresh: dict[str, str] = {}  # refresh token -> handle
        self._lock = Lock()

    def user_of(self, token: str) -> str | None:
        """The account an unexpired access token acts for."""
        with self._lock:
            found = self.access.get(token)
        return found[0] if found is not None and found[1] > self.wall() else None

    def authorize(self, environ: dict[str, Any]) -> Response:
        """The consent page, answered at once: the sandbox user (``?user=``, else the first owned account)
        approves, and the browser is redirected to ``redirect_uri`` with ``code`` and ``state``."""
        params = dict(query(environ))
        owned = [a.handle for a in self.world.accounts if a.owned]
        handle = params.get("user") or owned[0]
        missing = [
            k for k in ("response_type", "client_id", "redirect_uri", "state", "code_challenge") if not params.get(k)
        ]
        if missing or params.get("response_type") != "code":
            return self.problem(
                400, "invalid-request", "Invalid Request", f"missing or wrong: {missing or ['response_type']}"
            )
        if params["client_id"] != self.client_id:
            return self.problem(400, "invalid-request", "Invalid Request", "unknown client_id")
        if params.get("code_challenge_method", "plain") != "S256":
            return self.problem(400, "invalid-request", "Invalid Request", "code_challenge_method must be S256")
        if handle not in owned:
            return self.problem(400, "invalid-request", "Invalid Request", f"@{handle} cannot authorise apps")
        scope = params.get("scope", "")
        if not {"tweet.read", "users.read"} <= set(scope.split()):
            return self.problem(
                400, "invalid-request", "Invalid Request", "scope must include tweet.read and users.read"
            )
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._grants[code] = _Grant(
                handle, params["client_id"], params["redirect_uri"], params["code_challenge"], scope
            )
        sep = "&" if "?" in params["redirect_uri"] else "?"
        location = f"{params['redirect_uri']}{sep}{urlencode({'state': params['state'], 'code': code})}"
        return Response(302, b"", "text/plain", [("Location", location)])

    def token(self, environ: dict[str, Any], body: bytes) -> Response:
        """``POST /2/oauth2/token``: exchange a code (checking the PKCE verifier) or a refresh token."""
        submitted = dict(form(environ, body))
        grant = submitted.get("grant_type")
        if grant == "authorization_code":
            with self._lock:
                pending = self._grants.pop(submitted.get("code", ""), None)
            if pending is None:
                return _oauth_error("invalid_grant", "authorization code unknown or already used")
            verifier = submitted.get("code_verifier", "")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if digest != pending.challenge:
                return _oauth_error("invalid_grant", "code_verifier does not match the code_challenge")
            if (
                submitted.get("redirect_uri") != pending.redirect_uri
                or submitted.get("client_id", pending.client_id) != pending.client_id
            ):
                return _oauth_error("invalid_grant", "redirect_uri or client_id differs from the authorization request")
            return self._issue(pending.handle, pending.scope)
        if grant == "refresh_token":
            with self._lock:
                handle = self._refresh.pop(submitted.get("refresh_token", ""), None)
            if handle is None:
                return _oauth_error("invalid_grant", "refresh token unknown, expired or already used")
            return self._issue(handle, " ".join(v2.SCOPES))
        return _oauth_error("unsupported_grant_type", f"grant_type {grant!r}")

    def _issue(self, handle: str, scope: str) -> Response:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._lock:
            self.access[access] = (handle, self.wall() + 7200)
            if "offline.access" in scope.split():
                self._refresh[refresh] = handle
        answer: dict[str, Any] = {"token_type": "bearer", "expires_in": 7200, "access_token": access, "scope": scope}
        if "offline.access" in scope.split():
            answer["refresh_token"] = refresh
        return json_response(200, answer)


def _oauth_error(code: str, description: str) -> Response:
    return json_response(400, {"error": code, "error_description": description})
