"""The sandbox's WSGI app: the Engagement API's endpoints, statuses, headers and OAuth, over a World.

Order of checks for ``POST /insights/engagement/{totals,28hr,historical}``: gzip accepted (406), credentials
(401), per-minute budget (429), injected faults, JSON body (400), the documented request rules (400/403,
reusing :mod:`engagement_lab.query`), protected tweets (400), ownership (403), then the 200 body with
partial-failure keys. Every engagement response carries the ``x-per-minute-*`` headers.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import format_datetime
from html import escape
from threading import Lock
from typing import Any
from urllib.parse import urlencode

from .. import catalog
from .. import catalog_v2 as v2
from ..errors import QueryError
from ..query import EngagementRequest
from .faults import Clock, DroppedConnection, FaultConfig, FaultPlan, FixedClock
from .http import Response, errors, form, form_response, html, json_response, query, read_body, request_url
from .oauth import OAuthError, TokenStore
from .responses import HourOnly, build_response
from .v2 import V2Routes, problem
from .world import World

__all__ = ["RequestRecord", "SandboxApp"]

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
_GZIP_REQUIRED = (
    "This request requires gzip compression. Retry the request after setting 'Accept-Encoding' header in "
    "the request to 'gzip'."
)


@dataclass(frozen=True)
class RequestRecord:
    """One engagement request as the sandbox saw it (for tests: what was sent, what came back)."""

    endpoint: str
    body_sha256: str
    status: int
    fault: str
    account: str | None


@dataclass
class _MinuteLimiter:
    """Fixed per-minute windows of wall-clock time, one budget per app."""

    limit: int
    wall: Callable[[], float]
    _window: int = -1
    _used: int = 0
    _lock: Lock = field(default_factory=Lock)

    def take(self) -> tuple[bool, list[tuple[str, str]]]:
        with self._lock:
            now = self.wall()
            window = int(now // 60)
            if window != self._window:
                self._window, self._used = window, 0
            allowed = self._used < self.limit
            self._used += allowed
            return allowed, self.headers(remaining=self.limit - self._used)

    def headers(self, *, remaining: int) -> list[tuple[str, str]]:
        return [
            (catalog.HEADER_LIMIT, str(self.limit)),
            (catalog.HEADER_REMAINING, str(max(0, remaining))),
            (catalog.HEADER_RESET, str((self._window + 1) * 60)),
        ]


class SandboxApp:
    """A WSGI app that answers like the Engagement API over a seeded :class:`World`.

    Parameters
    ----------
    world : World, optional
        Defaults to ``World(seed)``.
    seed : int
        Seed of the default world and of the app's credentials.
    clock : Clock, optional
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
        clock: Clock | None = None,
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
        self.limiter = _MinuteLimiter(rate_limit_per_minute, wall)
        s = self.world.seed
        self.tokens = TokenStore(
            consumer_key=_derive(s, "consumer_key")[:25],
            consumer_secret=_derive(s, "consumer_secret")[:50],
            bearer_token="AAAA" + _derive(s, "bearer")[:60],
            wall=wall,
        )
        for account in self.world.accounts:
            if account.owned:
                self.tokens.access[account.access_token] = (account.access_token_secret, account.handle)
        self.v2 = V2Routes(
            self.world,
            now=self.clock.now,
            wall=wall,
            tokens=self.tokens,
            client_id=_derive(s, "oauth2_client_id")[:34],
            rate_limit=v2_rate_limit,
            rate_window_seconds=v2_rate_window_seconds,
        )
        self.records: list[RequestRecord] = []
        self.status_counts: Counter[int] = Counter()
        self._record_lock = Lock()

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
            "oauth2_client_id": self.v2.client_id,
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
        if path.startswith(catalog.PATH_PREFIX):
            endpoint = path[len(catalog.PATH_PREFIX) :]
            if endpoint not in catalog.ENDPOINTS:
                return errors(404, "Sorry, that page does not exist"), "none"
            if method != "POST":
                return errors(405, f"{path} accepts POST only"), "none"
            return self._engagement(endpoint, environ, body)
        if path in (v2.POSTS_PATH, v2.MEDIA_PATH, v2.TWEETS_PATH, v2.ME_PATH):
            if method != "GET":
                return errors(405, f"{path} accepts GET only"), "none"
            return self._v2(path, environ)
        routes: dict[tuple[str, str], Callable[[dict[str, Any], bytes], Response]] = {
            ("GET", "/i/oauth2/authorize"): lambda e, b: self.v2.authorize(e),
            ("POST", v2.TOKEN_PATH): self.v2.token,
            ("POST", "/oauth/request_token"): self._request_token,
            ("GET", "/oauth/authorize"): self._authorize,
            ("POST", "/oauth/access_token"): self._access_token,
            ("POST", "/oauth2/token"): self._bearer_token,
            ("GET", "/sandbox/tweets.csv"): self._tweets_csv,
            ("GET", "/sandbox/ground_truth.json"): lambda e, b: json_response(200, self.world.ground_truth()),
        }
        handler = routes.get((method, path))
        if handler is None:
            return errors(404, "Sorry, that page does not exist"), "none"
        return handler(environ, body), "none"

    # --- the Engagement API -------------------------------------------------------------------------------

    def _engagement(self, endpoint: str, environ: dict[str, Any], body: bytes) -> tuple[Response, str]:
        if "gzip" not in environ.get("HTTP_ACCEPT_ENCODING", ""):
            return errors(406, _GZIP_REQUIRED), "none"
        try:
            auth, handle = self._authenticate(environ)
        except OAuthError as exc:
            return errors(401, f"Your account could not be authenticated. Reason: {exc.reason}"), "none"
        allowed, limits = self.limiter.take()
        if not allowed:
            return self._record(endpoint, body, errors(429, "Rate limit exceeded", headers=limits), "none", handle)
        fault, status = self.faults.draw()
        if self.faults.config.latency_ms:
            self.sleep(self.faults.config.latency_ms / 1000)
        if fault == "drop":
            self._record(endpoint, body, Response(0, b"", ""), fault, handle)
            raise DroppedConnection(f"sandbox fault: dropped {endpoint} request")
        if fault == "server_error":
            return self._record(endpoint, body, errors(status, "internal server error", headers=limits), fault, handle)
        if fault == "rate_limit":
            limited = self.limiter.headers(remaining=0)
            return self._record(endpoint, body, errors(429, "Rate limit exceeded", headers=limited), fault, handle)
        response = self._answer(endpoint, body, auth, handle)
        response.headers.extend(limits)
        return self._record(endpoint, body, response, fault, handle)

    def _record(
        self, endpoint: str, body: bytes, response: Response, fault: str, handle: str | None
    ) -> tuple[Response, str]:
        record = RequestRecord(endpoint, hashlib.sha256(body).hexdigest(), response.status, fault, handle)
        with self._record_lock:
            self.records.append(record)
        return response, fault

    def _authenticate(self, environ: dict[str, Any]) -> tuple[str, str | None]:
        header = environ.get("HTTP_AUTHORIZATION", "")
        if header.startswith("Bearer "):
            if header[len("Bearer ") :] != self.tokens.bearer_token:
                raise OAuthError("Invalid or expired bearer token")
            return "bearer", None
        if not header:
            raise OAuthError("Unknown Authorization Type")
        params = self.tokens.verify(environ["REQUEST_METHOD"], request_url(environ), header, query(environ))
        token = params.get("oauth_token", "")
        if token not in self.tokens.access:
            raise OAuthError("Access token not found")
        return "user", self.tokens.account_of(token)

    def _answer(self, endpoint: str, raw: bytes, auth: str, handle: str | None) -> Response:
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            return errors(400, f"Invalid JSON in request body: {exc}")
        now = self.clock.now()
        try:
            request = EngagementRequest.from_body(endpoint, body, auth=auth, now=now)  # type: ignore[arg-type]
        except QueryError as exc:
            return _query_error(exc, body)
        served, unavailable, protected, unowned = [], [], [], []
        for tweet_id in request.tweet_ids:
            tweet = self.world.by_id.get(tweet_id)
            if tweet is None or tweet.status == "deleted" or tweet.created_at > now:
                unavailable.append(tweet_id)
            elif tweet.status == "protected":
                protected.append(tweet_id)
            elif auth == "user" and tweet.account != handle:
                unowned.append(tweet_id)
            else:
                served.append(tweet)
        if protected:
            if self.name_protected_ids:
                return errors(400, "Tweet ID(s) are unavailable", unavailable_tweet_ids=protected)
            return errors(400, "Tweet ID(s) are unavailable")
        if unowned:
            return errors(403, f"Forbidden to access tweets: {', '.join(unowned)}")
        payload = build_response(request, self.world, served, unavailable, now, hour_only=self.hour_only)
        return json_response(200, payload)

    def _v2(self, path: str, environ: dict[str, Any]) -> tuple[Response, str]:
        """X API v2: authenticate, spend the user's 15-minute budget, draw a fault, answer."""
        endpoint = path.removeprefix("/2/")
        user = self.v2.authenticate(environ)
        if isinstance(user, Response):
            return self._record(endpoint, b"", user, "none", None)
        if path == v2.TWEETS_PATH:
            return self._record(endpoint, b"", self.v2.tweets(environ, user), "none", user)
        if path == v2.ME_PATH:
            account = self.world.accounts_by_handle[user]
            return json_response(200, {"data": {"id": account.user_id, "username": user, "name": user}}), "none"
        refused, limits = self.v2.limit(user)
        if refused is not None:
            return self._record(endpoint, b"", refused, "none", user)
        fault, status = self.faults.draw()
        if self.faults.config.latency_ms:
            self.sleep(self.faults.config.latency_ms / 1000)
        if fault == "drop":
            self._record(endpoint, b"", Response(0, b"", ""), fault, user)
            raise DroppedConnection(f"sandbox fault: dropped {endpoint} request")
        if fault == "server_error":
            failed = problem(status, "internal-error", "Internal Error", "sandbox fault: internal error")
            failed.headers.extend(limits)
            return self._record(endpoint, b"", failed, fault, user)
        if fault == "rate_limit":
            spent = [(k, "0" if k == v2.HEADER_REMAINING else v) for k, v in limits]
            body = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
            return self._record(
                endpoint, b"", Response(429, json.dumps(body).encode(), "application/json", spent), fault, user
            )
        response = self.v2.analytics("tweets" if path == v2.POSTS_PATH else "media", environ, user)
        response.headers.extend(limits)
        sent = f"{request_url(environ)}?{environ.get('QUERY_STRING', '')}"  # a GET is named by its whole URL
        return self._record(endpoint, sent.encode(), response, fault, user)

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


def _derive(seed: int, label: str) -> str:
    return hashlib.sha256(f"engagement-lab-sandbox:{seed}:{label}".encode()).hexdigest() * 2


def _query_error(exc: QueryError, body: Any) -> Response:
    """Map a broken request rule to the API's status and wording (spec §7)."""
    if exc.rule == "engagement_types.bearer":
        names = [m for m in body.get("engagement_types", []) if m not in catalog.PUBLIC_METRICS]
        return errors(403, f"Forbidden to access metrics: {', '.join(names)}")
    if exc.rule == "auth.bearer_endpoint":
        return errors(403, "Forbidden: this endpoint requires OAuth 1.0a user context")
    if exc.rule == "groupings.time_on_totals":
        bad = sorted(
            {v for g in body["groupings"].values() for v in g.get("group_by", []) if v in catalog.TIME_GROUP_BY}
        )
        return errors(
            400,
            f"One or more of the groupBys you have specified are not supported: ({', '.join(bad)}). "
            "Please adjust your request and try again.",
        )
    return errors(400, str(exc))
