"""One ``GET`` of X API v2 post or media analytics, signed as the account that owns the posts.

Each account signs with its OAuth 2.0 user token when it has one (refreshed when expired), else with OAuth 1.0a
user context; an app-only bearer token is not accepted by these endpoints. Pacing, retries and per-id problems are
the job of :mod:`engagement_lab.api.runner` and :mod:`engagement_lab.sources.x_v2.fetch`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx

from ...api import http
from ...api.auth import AccountTokens, Credentials, OAuth1Auth, OAuth2Token
from ...api.http import USER_AGENT, BaseClient, RawResponse
from ...api.oauth2 import OAuth2UserAuth
from ...errors import ConfigError
from . import catalog as v2
from .query import AnalyticsRequest

__all__ = ["AnalyticsClient", "TokenCallback", "raise_for_status"]

TokenCallback = Callable[[str, OAuth2Token], None]
"""Called as ``on_token_refresh(handle, token)`` after an account's OAuth 2.0 token was refreshed."""


def raise_for_status(response: RawResponse) -> None:
    """Raise the exception of the design's tree for a non-200 answer of X API v2."""
    http.raise_for_status(response, reset_header=v2.HEADER_RESET)


class AnalyticsClient(BaseClient):
    """``send(request, account=...)``: one ``GET`` of ``/2/tweets/analytics`` or ``/2/media/analytics``.

    ``on_token_refresh(handle, token)`` hears of each new OAuth 2.0 token (save it: the old refresh token stops
    working). The other parameters are those of :class:`engagement_lab.api.http.BaseClient`.
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        base_url: str = v2.V2_BASE_URL,
        on_token_refresh: TokenCallback | None = None,
        **options: Any,
    ) -> None:
        super().__init__(credentials, base_url=base_url, **options)
        self._on_refresh = on_token_refresh
        self._auth_lock = threading.Lock()

    def auth_for(self, account: str) -> httpx.Auth:
        """The account's OAuth 2.0 user token (refreshing itself), else its OAuth 1.0a tokens."""
        with self._auth_lock:
            if account not in self._auths:
                self._auths[account] = self._new_auth(account)
            return self._auths[account]

    def _new_auth(self, account: str) -> httpx.Auth:
        tokens: AccountTokens = self.credentials.account(account)
        if tokens.oauth2 is not None:
            callback = self._on_refresh
            return OAuth2UserAuth(
                tokens.oauth2,
                client_id=self.credentials.oauth2_client_id,
                base_url=self.base_url,
                on_refresh=(lambda token: callback(account, token)) if callback else None,
            )
        if tokens.access_token:
            c = self.credentials
            return OAuth1Auth(
                c.consumer_key, c.consumer_secret, tokens.access_token, tokens.access_token_secret,
                timestamp=self._timestamp(),
            )  # fmt: skip
        raise ConfigError(f"account {account!r} has no user token for X API v2; run `engagement-lab auth oauth2`")

    def send(self, request: Any, *, account: str, check: bool = False) -> RawResponse:
        """Send one analytics request; with ``check``, a non-200 answer raises its mapped error."""
        assert isinstance(request, AnalyticsRequest)
        headers = {"Accept": "application/json", "Accept-Encoding": "gzip", "User-Agent": USER_AGENT}
        url, auth = self.base_url + request.path, self.auth_for(account)
        raw = self._exchange(request, account, None, "GET", url, params=request.params(), headers=headers, auth=auth)
        if check:
            raise_for_status(raw)
        return raw
