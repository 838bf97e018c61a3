"""Credentials and authentication: OAuth 1.0a user context (signed with oauthlib) and app-only bearer.

Secrets live in :class:`Secret` objects whose repr and str are masked, so they never reach a log line,
a repr, an exception text or an archive. Credentials load from ``ENGAGEMENT_*`` environment variables,
a ``.env`` file, or a JSON credentials file with several named accounts (the sandbox's first stdout
line is such a file).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from oauthlib.oauth1 import Client as OAuth1Client

from ..errors import ConfigError
from ..sources.engagement.catalog import BASE_URL

__all__ = [
    "BEARER",
    "ENV_VARS",
    "AccountTokens",
    "BearerAuth",
    "Credentials",
    "OAuth1Auth",
    "OAuth2Token",
    "Secret",
]

BEARER = "bearer"
"""The ``account`` of requests made with the app-only bearer token."""

ENV_VARS = {
    "consumer_key": "ENGAGEMENT_CONSUMER_KEY",
    "consumer_secret": "ENGAGEMENT_CONSUMER_SECRET",
    "access_token": "ENGAGEMENT_ACCESS_TOKEN",
    "access_token_secret": "ENGAGEMENT_ACCESS_TOKEN_SECRET",
    "bearer_token": "ENGAGEMENT_BEARER_TOKEN",
    "account": "ENGAGEMENT_ACCOUNT",
    "oauth2_client_id": "ENGAGEMENT_OAUTH2_CLIENT_ID",
}
"""Environment variable of each credential (``ENGAGEMENT_ACCOUNT`` names the account of the tokens;
``ENGAGEMENT_OAUTH2_CLIENT_ID`` is the app's OAuth 2.0 client id, for ``engagement-lab auth oauth2``)."""

OAUTH2_NEEDS = (
    "X API v2 with OAuth 2.0 needs the app's OAuth 2.0 client id (ENGAGEMENT_OAUTH2_CLIENT_ID, oauth2_client_id "
    "in the credentials file, or auth oauth2 --client-id) and a user token for each account, saved by "
    "`engagement-lab auth oauth2 --save FILE` (then --credentials FILE)"
)
"""What OAuth 2.0 needs, said wherever credentials are missing (the developer portal's "Keys and tokens" page
shows the client id under OAuth 2.0)."""


class Secret:
    """A string that does not show itself: ``repr`` and ``str`` are masked; ``reveal()`` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class OAuth2Token:
    """One user's OAuth 2.0 token (Authorization Code with PKCE): for the X API v2 analytics endpoints."""

    access_token: Secret
    refresh_token: Secret | None = None
    expires_at: float | None = None
    """Epoch seconds; ``None`` when unknown (then the token is used until the API says 401)."""
    scope: str = ""

    def expired(self, now: float, *, margin: float = 60.0) -> bool:
        return self.expires_at is not None and now >= self.expires_at - margin


@dataclass(frozen=True)
class AccountTokens:
    """One user's tokens: OAuth 1.0a access token and secret (both APIs), and/or an OAuth 2.0 token (v2 only).

    An account authorised only with OAuth 2.0 has empty OAuth 1.0a secrets (false when tested)."""

    handle: str
    access_token: Secret
    access_token_secret: Secret
    oauth2: OAuth2Token | None = None


@dataclass(frozen=True)
class Credentials:
    """The app's credentials and the user tokens of every account it may read.

    Attributes
    ----------
    consumer_key : Secret
    consumer_secret : Secret
    bearer_token : Secret or None
        App-only token for public metrics on ``/totals``.
    accounts : mapping of handle -> AccountTokens
    """

    consumer_key: Secret
    consumer_secret: Secret
    bearer_token: Secret | None = None
    accounts: Mapping[str, AccountTokens] = field(default_factory=dict)
    oauth2_client_id: str | None = None
    """The app's OAuth 2.0 client id (public client, PKCE), for ``engagement-lab auth oauth2``."""

    @property
    def handles(self) -> list[str]:
        return list(self.accounts)

    def account(self, handle: str | None = None) -> AccountTokens:
        """The tokens of ``handle``, or of the only account when there is one."""
        if handle is None:
            if len(self.accounts) == 1:
                return next(iter(self.accounts.values()))
            raise ConfigError(
                f"several accounts have tokens ({', '.join(self.accounts) or 'none'}); say which owns the tweets "
                "(an 'account' column in the ids file, or account=...)"
            )
        if handle not in self.accounts:
            raise ConfigError(
                f"no user tokens for account {handle!r}; known accounts: {self.handles}. Authorise it with "
                "`engagement-lab auth` (OAuth 1.0a, the Engagement API) or `engagement-lab auth oauth2` (OAuth 2.0, "
                "X API v2), or add it to the credentials file."
            )
        return self.accounts[handle]

    def with_account(self, tokens: AccountTokens) -> Credentials:
        """These credentials with ``tokens`` added (or replacing the account's; OAuth 1.0a tokens it already
        had are kept when ``tokens`` brings only an OAuth 2.0 token, and the other way round)."""
        old = self.accounts.get(tokens.handle)
        if old is not None and not tokens.access_token:
            tokens = AccountTokens(tokens.handle, old.access_token, old.access_token_secret, tokens.oauth2)
        elif old is not None and tokens.oauth2 is None:
            tokens = AccountTokens(tokens.handle, tokens.access_token, tokens.access_token_secret, old.oauth2)
        return Credentials(
            self.consumer_key,
            self.consumer_secret,
            self.bearer_token,
            {**self.accounts, tokens.handle: tokens},
            self.oauth2_client_id,
        )

    # --- loading and saving ------------------------------------------------------------------------

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, where: str = "credentials") -> Credentials:
        """From ``{"consumer_key", "consumer_secret", "bearer_token"?, "accounts": [{"handle",
        "access_token", "access_token_secret"}...]}`` (the sandbox's info has this form).

        Every field is checked before use: a value that is not a non-empty string (a number, a list, null
        where a token is needed) is refused naming the field and ``where`` it came from.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where} must be a JSON object with consumer_key, consumer_secret and accounts")

        def optional(value: object, field_name: str) -> str | None:
            if value is None or value == "":
                return None
            if not isinstance(value, str):
                raise ConfigError(
                    f"{where}: {field_name} must be a string, got {type(value).__name__}; quote it in the file"
                )
            return value.strip()

        def required(value: object, field_name: str) -> str:
            found = optional(value, field_name)
            if not found:
                raise ConfigError(f"{where} lacks {field_name}; expected a non-empty string")
            return found

        consumer_key = required(data.get("consumer_key"), "consumer_key")
        consumer_secret = required(data.get("consumer_secret"), "consumer_secret")
        bearer = optional(data.get("bearer_token"), "bearer_token")
        entries = data.get("accounts", [])
        if not isinstance(entries, list):
            raise ConfigError(f"{where}: accounts must be a list of objects, got {type(entries).__name__}")
        accounts = {}
        for i, entry in enumerate(entries):
            if not isinstance(entry, Mapping):
                raise ConfigError(f"{where}: account #{i} must be an object with handle, access_token and secret")
            token = optional(entry.get("access_token"), f"account #{i} access_token")
            oauth2 = _oauth2_token(entry, f"{where}: account #{i}", optional)
            if token is None and oauth2 is None:
                continue  # accounts the app may not read as a user (e.g. the sandbox's unowned one)
            handle = required(entry.get("handle"), f"account #{i} handle")
            if token is None:
                accounts[handle] = AccountTokens(handle, Secret(""), Secret(""), oauth2)
                continue
            secret = required(entry.get("access_token_secret"), f"account #{i} access_token_secret")
            accounts[handle] = AccountTokens(handle, Secret(token), Secret(secret), oauth2)
        client_id = optional(data.get("oauth2_client_id"), "oauth2_client_id")
        return cls(
            Secret(consumer_key), Secret(consumer_secret), Secret(bearer) if bearer else None, accounts, client_id
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, dotenv: str | Path | None = ".env") -> Credentials:
        """From ``ENGAGEMENT_*`` variables, falling back to a ``.env`` file for those not set."""
        env = dict(_read_dotenv(Path(dotenv))) if dotenv is not None and Path(dotenv).is_file() else {}
        env.update(os.environ if environ is None else environ)
        get = {name: env.get(var, "").strip() for name, var in ENV_VARS.items()}
        if not (get["consumer_key"] and get["consumer_secret"]):
            raise ConfigError(
                f"no app credentials: set {ENV_VARS['consumer_key']} and {ENV_VARS['consumer_secret']} (the app's "
                f"API key and secret), or pass --credentials FILE. {OAUTH2_NEEDS}."
            )
        accounts = []
        if get["access_token"] or get["access_token_secret"]:
            if not (get["access_token"] and get["access_token_secret"]):
                raise ConfigError(f"set both {ENV_VARS['access_token']} and {ENV_VARS['access_token_secret']}")
            accounts.append(
                {"handle": get["account"] or "default", **{k: get[k] for k in ("access_token", "access_token_secret")}}
            )
        return cls.from_mapping({**get, "accounts": accounts}, where="environment")

    @classmethod
    def from_file(cls, path: str | Path) -> Credentials:
        """From a JSON credentials file (several accounts) or a ``.env``-style file (one account)."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"credentials file {str(path)!r} does not exist")
        try:
            text = path.read_text(encoding="utf-8-sig")  # a BOM from a Windows editor is not part of the JSON
        except UnicodeDecodeError:
            raise ConfigError(f"credentials file {str(path)!r} is not UTF-8 text; save it as UTF-8") from None
        where = f"credentials file {str(path)!r}"
        if not text.strip():
            raise ConfigError(f"{where} is empty; expected JSON with consumer_key, consumer_secret and accounts")
        if text.lstrip()[:1] in ("{", "["):
            try:
                data = json.loads(text)
            except ValueError as exc:
                raise ConfigError(f"{where} is not valid JSON ({exc})") from None
            if not isinstance(data, dict):
                raise ConfigError(
                    f"{where} holds a JSON {type(data).__name__}; expected an object "
                    '{"consumer_key": ..., "consumer_secret": ..., "accounts": [...]}'
                )
            return cls.from_mapping(data, where=where)
        try:
            return cls.from_env(dict(_parse_dotenv(text)), dotenv=None)
        except ConfigError as exc:
            raise ConfigError(
                f"{where} (KEY=value lines): {exc}".replace(" (or pass --credentials FILE)", "")
            ) from None

    @classmethod
    def load(cls, path: str | Path | None = None) -> Credentials:
        """The file when given, else the environment (and ``.env``)."""
        return cls.from_file(path) if path is not None else cls.from_env()

    def to_mapping(self) -> dict[str, Any]:
        """Plain values (revealed) for saving to a private file."""
        accounts = []
        for a in self.accounts.values():
            entry: dict[str, Any] = {"handle": a.handle}
            if a.access_token:
                entry.update(access_token=a.access_token.reveal(), access_token_secret=a.access_token_secret.reveal())
            if a.oauth2 is not None:
                entry.update(
                    oauth2_access_token=a.oauth2.access_token.reveal(),
                    oauth2_refresh_token=a.oauth2.refresh_token.reveal() if a.oauth2.refresh_token else None,
                    oauth2_expires_at=a.oauth2.expires_at,
                    oauth2_scope=a.oauth2.scope,
                )
            accounts.append(entry)
        out: dict[str, Any] = {
            "consumer_key": self.consumer_key.reveal(),
            "consumer_secret": self.consumer_secret.reveal(),
            "bearer_token": self.bearer_token.reveal() if self.bearer_token else None,
            "accounts": accounts,
        }
        if self.oauth2_client_id:
            out["oauth2_client_id"] = self.oauth2_client_id
        return out

    def save(self, path: str | Path) -> Path:
        """Write a JSON credentials file readable by the owner only.

        The secrets go into a new temporary file created with mode 0600 in the same folder, are flushed to
        disk, and replace ``path`` by an atomic rename: there is no moment when they sit in a file others can
        read (even if ``path`` existed with 0644), and a crash leaves the old file whole. A symlink at ``path``
        is refused rather than followed.
        """
        path = Path(path)
        if path.is_symlink():
            raise ConfigError(
                f"{str(path)!r} is a symbolic link; refusing to write secrets through it. Give the real path."
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # created 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.to_mapping(), handle, indent=2)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return path


def _oauth2_token(
    entry: Mapping[str, Any], where: str, optional: Callable[[object, str], str | None]
) -> OAuth2Token | None:
    access = optional(entry.get("oauth2_access_token"), "oauth2_access_token")
    if access is None:
        return None
    expires = entry.get("oauth2_expires_at")
    if expires is not None and (isinstance(expires, bool) or not isinstance(expires, (int, float))):
        raise ConfigError(f"{where}: oauth2_expires_at must be epoch seconds (a number), got {expires!r}")
    refresh = optional(entry.get("oauth2_refresh_token"), "oauth2_refresh_token")
    scope = optional(entry.get("oauth2_scope"), "oauth2_scope") or ""
    return OAuth2Token(Secret(access), Secret(refresh) if refresh else None, expires, scope)


class _NoDebug(logging.Filter):
    """oauthlib and requests-oauthlib log request parameters, tokens included, at DEBUG: keep those out."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


# A logger's filters see only its own records, so each module logger that writes parameters gets one.
for _name in (
    "oauthlib",
    "oauthlib.oauth1",
    "oauthlib.oauth1.rfc5849",
    "oauthlib.oauth1.rfc5849.signature",
    "requests_oauthlib",
    "requests_oauthlib.oauth1_auth",
    "requests_oauthlib.oauth1_session",
):
    logging.getLogger(_name).addFilter(_NoDebug())


def _parse_dotenv(text: str) -> list[tuple[str, str]]:
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        pairs.append((key.strip(), value.strip().strip("'\"")))
    return pairs


def _read_dotenv(path: Path) -> list[tuple[str, str]]:
    return _parse_dotenv(path.read_text())


class OAuth1Auth(httpx.Auth):
    """OAuth 1.0a HMAC-SHA1 user-context signing for httpx, via oauthlib.

    JSON bodies are not part of the signature base string; form-encoded bodies are (RFC 5849 §3.4.1.3).
    ``nonce`` and ``timestamp`` can be fixed for test vectors.
    """

    def __init__(
        self,
        consumer_key: Secret,
        consumer_secret: Secret,
        token: Secret | None = None,
        token_secret: Secret | None = None,
        *,
        nonce: Callable[[], str] | None = None,
        timestamp: Callable[[], str] | None = None,
        verifier: str | None = None,
        callback_uri: str | None = None,
    ) -> None:
        self._keys = (consumer_key, consumer_secret, token, token_secret)
        self._nonce, self._timestamp = nonce, timestamp
        self._verifier, self._callback = verifier, callback_uri

    def __repr__(self) -> str:
        return "OAuth1Auth(***)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        key, secret, token, token_secret = self._keys
        signer = OAuth1Client(
            key.reveal(),
            client_secret=secret.reveal(),
            resource_owner_key=token.reveal() if token else None,
            resource_owner_secret=token_secret.reveal() if token_secret else None,
            nonce=self._nonce() if self._nonce else None,
            timestamp=self._timestamp() if self._timestamp else None,
            verifier=self._verifier,
            callback_uri=self._callback,
        )
        is_form = request.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")
        body = request.content.decode() if is_form and request.content else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if is_form else {}
        method: Any = request.method
        _, signed, _ = signer.sign(str(request.url), http_method=method, body=body, headers=headers)
        request.headers["Authorization"] = signed["Authorization"]
        yield request


class BearerAuth(httpx.Auth):
    """App-only ``Authorization: Bearer`` for public metrics on ``/totals``."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "BearerAuth(***)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token.reveal()}"
        yield request


def oauth_base(base_url: str) -> str:
    """Where the OAuth endpoints live: the API host for the real service, the sandbox itself locally."""
    return "https://api.x.com" if base_url.rstrip("/") in (BASE_URL, "https://data-api.x.com") else base_url.rstrip("/")
