"""The sandbox's WSGI app: each source's routes (mounted from the registry), OAuth 1.0a and bearer token flows,
injected faults, gzip and the world's clock, over one seeded World.

The routes of each API live with the API (``sources/<name>/sandbox.py``): they get this app (its world, clock,
credentials, faults and :meth:`SandboxApp.record`) and answer the paths that are theirs.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from email.utils import format_datetime
from html import escape
from threading import Lock
from typing import Any, Literal, Protocol
from urllib.parse import urlencode

from .. import sources
from ..sources.x_v2 import catalog as v2
from .faults import FaultConfig, FaultPlan, FixedClock, WorldClock
from .http import Response, errors, form, form_response, html, json_response, query, read_body, request_url
from .oauth import OAuthError, TokenStore
from .world import World

HourOnly = Literal["hour_of_day", "day_then_hour"]
"""How ``engagement.hour`` without ``engagement.day`` nests: hour-of-day buckets "00".."23" summed over
days (Twitter's Ruby sample, real output), or a day level anyway (the official grouping guide)."""


class Routes(Protocol):
    """One source's routes, built with the app (``Routes(app)``)."""

    def info(self) -> dict[str, Any]:
        """What a client needs of this source beyond the app's credentials (merged into :meth:`SandboxApp.info`)."""

    def route(self, method: str, path: str, environ: dict[str, Any], body: bytes) -> tuple[Response, str] | None:
        """The answer and the fault drawn (``"none"``...), or ``None`` for a path that is not this source's."""


__all__ = ["HourOnly", "RequestRecord", "Routes", "SandboxApp"]

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
_REASONS = {
    200: "OK",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Proxy Error",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class RequestRecord:
    """One engagement request as the sandbox saw it (for tests: what was sent, what came back)."""

    endpoint: str
    body_sha256: str
    status: int
    fault: str
    account: str | None


class SandboxApp:
    """A WSGI app that answers like the Engagement API over a seeded :class:`World`.

    Parameters
    ----------
    world : World, optional
        Defaults to ``World(seed)``.
    seed : int
        Seed of the default world and of the app's credentials.
    clock : WorldClock, optional
        The world's "now"; defaults to a fixed clock at the world's generation time.
    wall : callable
        Wall-clock seconds for rate limits and OAuth timestamps (injectable for tests).
    sleep : callable
        How injected latency waits (injectable for tests).
    rate_limit_per_minute : int
        The Engagement API's per-minute budget.
    v2_rate_limit, v2_rate_window_seconds : int, float
        The v2 analytics budget per user (300 per 900 s, as documented; smaller windows for benchmarks).
    faults : FaultConfig
    hour_only : {"hour_of_day", "day_then_hour"}
        How an hour grouping without a day level nests.
    name_protected_ids : bool
        Whether the 400 for protected tweets lists them in ``unavailable_tweet_ids`` (the docs do not say; a
        client must cope either way).
    """

    def __init__(
        self,
        world: World | None = None,
        *,
        seed: int = 7,
        clock: WorldClock | None = None,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rate_limit_per_minute: int = 120,
        v2_rate_limit: int = v2.RATE_LIMIT,
        v2_rate_window_seconds: float = v2.RATE_WINDOW_SECONDS,
        faults: FaultConfig | None = None,
        hour_only: HourOnly = "hour_of_day",
        name_protected_ids: bool = True,
    ) -> None:
        self.world = world if world is not None else World(seed)
        self.clock = clock if clock is not None else FixedClock(self.world.now)
        self.sleep = sleep
        self.hour_only: HourOnly = hour_only
        self.name_protected_ids = name_protected_ids
        self.faults = FaultPlan(faults or FaultConfig())
        self.wall = wall
        self.rate_limit_per_minute = rate_limit_per_minute
        self.v2_rate_limit, self.v2_rate_window_seconds = v2_rate_limit, v2_rate_window_seconds
        self.tokens = TokenStore(
            consumer_key=self.secret("consumer_key")[:25],
            consumer_secret=self.secret("consumer_secret")[:50],
            bearer_token="AAAA" + self.secret("bearer")[:60],
            wall=wall,
        )
        for account in self.world.accounts:
            if account.owned:
                self.tokens.access[account.access_token] = (account.access_token_secret, account.handle)
        self.records: list[RequestRecord] = []
        self.status_counts: Counter[int] = Counter()
        self._record_lock = Lock()
        self.routes: dict[str, Routes] = {
            name: sources.get(name).part("sandbox")(self) for name in sources.names("sandbox")
        }
        """Each source's routes, by source name (the registry's entries that have a ``sandbox``)."""

    def secret(self, label: str) -> str:
        """A credential of this world, derived from its seed (the same seed, the same credentials)."""
        return hashlib.sha256(f"engagement-lab-sandbox:{self.world.seed}:{label}".encode()).hexdigest() * 2

    def info(self, base_url: str) -> dict[str, Any]:
        """What a client needs: base URL, app credentials, accounts and their tokens."""
        accounts = []
        for a in self.world.accounts:
            entry: dict[str, Any] = {"handle": a.handle, "user_id": a.user_id, "owned": a.owned}
            if a.owned:
                entry.update(access_token=a.access_token, access_token_secret=a.access_token_secret)
            accounts.append(entry)
        info = {
            "base_url": base_url,
            "consumer_key": self.tokens.consumer_key,
            "consumer_secret": self.tokens.consumer_secret,
            "bearer_token": self.tokens.bearer_token,
            **{k: v for routes in self.routes.values() for k, v in routes.info().items()},
            "accounts": accounts,
            "seed": self.world.seed,
        }
        if isinstance(self.clock, FixedClock):
            info["now"] = self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        return info

    # --- WSGI -----------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        body = read_body(environ)
        response, fault = self._route(method, path, environ, body)
        self.status_counts[response.status] += 1
        payload, headers = response.body, [("Content-Type", response.content_type), *response.headers]
        if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", "") and response.status not in (302, 406):
            payload = gzip.compress(payload, mtime=0)
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(payload))))
        headers.append(("Date", format_datetime(self.clock.now().astimezone(UTC), usegmt=True)))  # the world's clock
        if fault == "truncate":
            payload = payload[: len(payload) // 2]
        start_response(f"{response.status} {_REASONS.get(response.status, '')}", headers)
        return [payload]

    def _route(self, method: str, path: str, environ: dict[str, Any], body: bytes) -> tuple[Response, str]:
        for routes in self.routes.values():
            answered = routes.route(method, path, environ, body)
            if answered is not None:
                return answered
        extras: dict[tuple[str, str], Callable[[dict[str, Any], bytes], Response]] = {
            ("POST", "/oauth/request_token"): self._request_token,
            ("GET", "/oauth/authorize"): self._authorize,
            ("POST", "/oauth/access_token"): self._access_token,
            ("POST", "/oauth2/token"): self._bearer_token,
            ("GET", "/sandbox/tweets.csv"): self._tweets_csv,
            ("GET", "/sandbox/ground_truth.json"): lambda e, b: json_response(200, self.world.ground_truth()),
        }
        handler = extras.get((method, path))
        if handler is None:
            return errors(404, "Sorry, that page does not exist"), "none"
        return handler(environ, body), "none"

    def record(
        self, endpoint: str, body: bytes, response: Response, fault: str, handle: str | None
    ) -> tuple[Response, str]:
        """Note one request (for tests: what was sent, what came back, which fault) and pass its answer on."""
        record = RequestRecord(endpoint, hashlib.sha256(body).hexdigest(), response.status, fault, handle)
        with self._record_lock:
            self.records.append(record)
        return response, fault

    # --- OAuth flows and sandbox extras ----------------------------------------------------------------

    def _request_token(self, environ: dict[str, Any], body: bytes) -> Response:
        try:
            params = self.tokens.verify(
                "POST",
                request_url(environ),
                environ.get("HTTP_AUTHORIZATION", ""),
                [*query(environ), *form(environ, body)],
            )
        except OAuthError as exc:
            return errors(401, f"Your account could not be authenticated. Reason: {exc.reason}")
        callback = params.get("oauth_callback")
        if not callback:
            return errors(400, "oauth_callback is required ('oob' for the PIN flow)")
        token, secret = self.tokens.issue_request_token(callback)
        return form_response({"oauth_token": token, "oauth_token_secret": secret, "oauth_callback_confirmed": "true"})

    def _authorize(self, environ: dict[str, Any], body: bytes) -> Response:
        params = dict(query(environ))
        token, handle = params.get("oauth_token", ""), params.get("user")
        owned = [a.handle for a in self.world.accounts if a.owned]
        if handle is None:
            links = "".join(
                f'<li><a href="?{urlencode({"oauth_token": token, "user": h})}">@{escape(h)}</a></li>' for h in owned
            )
            return html(200, f"<h1>Authorize app</h1><p>Sign in as a sandbox user:</p><ul>{links}</ul>")
        if handle not in owned:
            return html(400, f"<p>@{escape(handle)} is not a sandbox user who can authorise apps.</p>")
        try:
            pin, callback = self.tokens.authorize(token, handle)
        except OAuthError as exc:
            return html(400, f"<p>{escape(exc.reason)}</p>")
        if callback != "oob":
            sep = "&" if "?" in callback else "?"
            location = f"{callback}{sep}{urlencode({'oauth_token': token, 'oauth_verifier': pin})}"
            return Response(302, b"", "text/plain", [("Location", location)])
        return html(200, f'<h1>@{escape(handle)} authorised the app</h1><p>Your PIN: <code id="pin">{pin}</code></p>')

    def _access_token(self, environ: dict[str, Any], body: bytes) -> Response:
        submitted = form(environ, body)
        try:
            params = self.tokens.verify(
                "POST",
                request_url(environ),
                environ.get("HTTP_AUTHORIZATION", ""),
                [*query(environ), *submitted],
            )
            verifier = params.get("oauth_verifier") or dict(submitted).get("oauth_verifier", "")
            token, secret, handle = self.tokens.exchange(params.get("oauth_token", ""), verifier)
        except OAuthError as exc:
            return errors(401, f"Your account could not be authenticated. Reason: {exc.reason}")
        user_id = self.world.accounts_by_handle[handle].user_id
        return form_response(
            {"oauth_token": token, "oauth_token_secret": secret, "user_id": user_id, "screen_name": handle}
        )

    def _bearer_token(self, environ: dict[str, Any], body: bytes) -> Response:
        if not self.tokens.check_basic(environ.get("HTTP_AUTHORIZATION", "")):
            return json_response(403, {"errors": [{"code": 99, "message": "Unable to verify your credentials"}]})
        if dict(form(environ, body)).get("grant_type") != "client_credentials":
            return errors(400, "grant_type must be client_credentials")
        return json_response(200, {"token_type": "bearer", "access_token": self.tokens.bearer_token})

    def _tweets_csv(self, environ: dict[str, Any], body: bytes) -> Response:
        rows = self.world.metadata()
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return Response(200, buffer.getvalue().encode(), "text/csv; charset=utf-8")
