"""Obtaining tokens: the 3-legged PIN flow (requests-oauthlib) and app-only bearer tokens."""

from __future__ import annotations

import base64
from collections.abc import Callable
from urllib.parse import quote

import httpx
import requests
from requests_oauthlib import OAuth1Session
from requests_oauthlib.oauth1_session import TokenRequestDenied

from ..errors import APIConnectionError, AuthenticationError
from .auth import AccountTokens, Credentials, Secret, oauth_base

__all__ = ["authorize_pin", "request_bearer_token"]


def authorize_pin(
    credentials: Credentials,
    *,
    base_url: str,
    show: Callable[[str], None] = print,
    ask_pin: Callable[[str], str] = input,
    timeout: float = 30.0,
) -> AccountTokens:
    """Run the PIN-based 3-legged OAuth 1.0a flow and return the authorising user's tokens.

    ``show`` receives the authorise URL for the user to open; ``ask_pin`` asks for the PIN the page shows.
    """
    base = oauth_base(base_url)
    key, secret = credentials.consumer_key.reveal(), credentials.consumer_secret.reveal()
    try:
        session = OAuth1Session(key, client_secret=secret, callback_uri="oob")
        request_token = session.fetch_request_token(f"{base}/oauth/request_token", timeout=timeout)
        show(session.authorization_url(f"{base}/oauth/authorize"))
        pin = ask_pin("PIN: ").strip()
        session = OAuth1Session(
            key,
            client_secret=secret,
            resource_owner_key=request_token["oauth_token"],
            resource_owner_secret=request_token["oauth_token_secret"],
            verifier=pin,
        )
        tokens = session.fetch_access_token(f"{base}/oauth/access_token", timeout=timeout)
    except TokenRequestDenied as exc:
        raise AuthenticationError(
            f"the OAuth server refused the token request (HTTP {exc.status_code}); check the app keys and the PIN",
            status_code=exc.status_code,
        ) from None
    except requests.RequestException as exc:
        raise APIConnectionError(f"could not reach {base}: {type(exc).__name__}") from None
    handle = tokens.get("screen_name") or tokens.get("user_id") or "default"
    return AccountTokens(handle, Secret(tokens["oauth_token"]), Secret(tokens["oauth_token_secret"]))


def request_bearer_token(
    credentials: Credentials, *, base_url: str, transport: httpx.BaseTransport | None = None
) -> Credentials:
    """Fetch the app-only bearer token (``POST /oauth2/token``) and return credentials that carry it."""
    base = oauth_base(base_url)
    pair = f"{quote(credentials.consumer_key.reveal(), safe='')}:{quote(credentials.consumer_secret.reveal(), safe='')}"
    headers = {
        "Authorization": "Basic " + base64.b64encode(pair.encode()).decode(),
        "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
    }
    try:
        with httpx.Client(transport=transport, timeout=30.0) as client:
            response = client.post(f"{base}/oauth2/token", content=b"grant_type=client_credentials", headers=headers)
    except httpx.TransportError as exc:
        raise APIConnectionError(f"could not reach {base}: {type(exc).__name__}") from None
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if response.status_code != 200 or answer.get("token_type") != "bearer":
        raise AuthenticationError(
            f"POST {base}/oauth2/token answered {response.status_code}; check the consumer key and secret",
            status_code=response.status_code,
            body=response.text[:200],
        )
    return Credentials(
        credentials.consumer_key, credentials.consumer_secret, Secret(answer["access_token"]), credentials.accounts
    )
