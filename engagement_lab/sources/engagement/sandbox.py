"""The sandbox's Engagement API: its routes (:class:`EngagementRoutes`) and response bodies, the world's counts
nested the way the real API nests them.

The bodies are pure: given a validated request, the world and "now", :func:`build_response` builds the JSON-ready
dict. Values are strings of base-10 integers; zero buckets are present; grouping levels follow the ``group_by``
order; reserved keys (``start``, ``end``, ``errors``, ``unavailable_tweet_ids``, ``unsupported_*``) carry partial
failures.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from threading import Lock
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import QueryError
from ...sandbox.faults import DroppedConnection
from ...sandbox.http import Response, errors, json_response, query, request_url
from ...sandbox.oauth import OAuthError
from ...sandbox.world import HORIZON_HOURS, METRICS, Tweet, World, hourly_counts
from ...timeutil import ceil_hour, floor_hour, format_time
from . import catalog
from .query import EngagementRequest

if TYPE_CHECKING:
    from ...sandbox.app import HourOnly, SandboxApp

__all__ = ["EngagementRoutes", "build_response", "window_of"]


_HOUR = timedelta(hours=1)
_ROW = {m: i for i, m in enumerate(METRICS)}


@dataclass(frozen=True)
class _Cube:
    """Counts of the served tweets: ``values[t, m, d, h]`` with a presence mask over (day, hour)."""

    tweet_ids: list[str]
    metrics: list[str]
    days: list[str]
    values: np.ndarray
    present: np.ndarray


def window_of(request: EngagementRequest, now: datetime) -> tuple[datetime, datetime]:
    """The hour buckets a /28hr or /historical request covers: ``[start, end)`` with start hour-aligned."""
    if request.endpoint == "historical":
        assert request.start is not None
        assert request.end is not None
        return floor_hour(request.start), request.end
    return floor_hour(now - catalog.LAST_HOURS), ceil_hour(now)


def _totals_cube(world: World, tweets: list[Tweet], metrics: list[str], now: datetime) -> _Cube:
    rows = [_ROW[m] for m in metrics]
    values = np.zeros((len(tweets), len(metrics), 1, 1), dtype=np.int64)
    for i, t in enumerate(tweets):
        start = floor_hour(t.created_at)
        values[i, :, 0, 0] = hourly_counts(world, t, rows, start, HORIZON_HOURS, now).sum(axis=1)
    return _Cube([t.tweet_id for t in tweets], metrics, [""], values, np.ones((1, 1), bool))


def _series_cube(
    world: World, tweets: list[Tweet], metrics: list[str], start: datetime, end: datetime, now: datetime
) -> _Cube:
    hours = max(0, int(np.ceil((end - start) / _HOUR)))
    stamps = [start + k * _HOUR for k in range(hours)]
    days = sorted({s.strftime("%Y-%m-%d") for s in stamps})
    day_index = {d: i for i, d in enumerate(days)}
    d_idx = np.array([day_index[s.strftime("%Y-%m-%d")] for s in stamps], dtype=np.intp)
    h_idx = np.array([s.hour for s in stamps], dtype=np.intp)
    rows = [_ROW[m] for m in metrics]
    values = np.zeros((len(tweets), len(metrics), len(days), 24), dtype=np.int64)
    for i, t in enumerate(tweets):
        values[i][:, d_idx, h_idx] = hourly_counts(world, t, rows, start, hours, now)
    present = np.zeros((len(days), 24), dtype=bool)
    present[d_idx, h_idx] = True
    return _Cube([t.tweet_id for t in tweets], metrics, days, values, present)


def _nest(cube: _Cube, group_by: tuple[str, ...], hour_only: HourOnly) -> Any:
    """Sum the cube over dimensions not grouped on and nest the rest in ``group_by`` order."""
    dims = list(group_by)
    if catalog.GROUP_BY_HOUR in dims and catalog.GROUP_BY_DAY not in dims and hour_only == "day_then_hour":
        dims.insert(dims.index(catalog.GROUP_BY_HOUR), catalog.GROUP_BY_DAY)
    axes = [catalog.GROUP_BY_TWEET, catalog.GROUP_BY_TYPE, catalog.GROUP_BY_DAY, catalog.GROUP_BY_HOUR]
    drop = tuple(i for i, a in enumerate(axes) if a not in dims)
    values = cube.values.sum(axis=drop)
    present: np.ndarray = cube.present
    if catalog.GROUP_BY_DAY not in dims:
        present = np.asarray(present.any(axis=0, keepdims=True))
    if catalog.GROUP_BY_HOUR not in dims:
        present = np.asarray(present.any(axis=1, keepdims=True))
    kept = [a for a in axes if a in dims]
    values = np.transpose(values, [kept.index(d) for d in dims]).tolist()
    labels = {
        catalog.GROUP_BY_TWEET: cube.tweet_ids,
        catalog.GROUP_BY_TYPE: cube.metrics,
        catalog.GROUP_BY_DAY: cube.days,
        catalog.GROUP_BY_HOUR: [f"{h:02d}" for h in range(24)],
    }
    return _nest_level(values, dims, labels, present, {})


def _nest_level(
    values: Any, dims: list[str], labels: dict[str, list[str]], present: np.ndarray, at: dict[str, int]
) -> Any:
    if not dims:
        return str(values)
    dim, rest = dims[0], dims[1:]
    out = {}
    for i, label in enumerate(labels[dim]):
        where = {**at, dim: i}
        if dim in (catalog.GROUP_BY_DAY, catalog.GROUP_BY_HOUR) and not _reachable(present, where):
            continue
        out[label] = _nest_level(values[i], rest, labels, present, where)
    return out


def _reachable(present: np.ndarray, at: dict[str, int]) -> bool:
    d = at.get(catalog.GROUP_BY_DAY)
    h = at.get(catalog.GROUP_BY_HOUR)
    rows = present if d is None or present.shape[0] == 1 else present[d : d + 1]
    cols = rows if h is None or present.shape[1] == 1 else rows[:, h : h + 1]
    return bool(cols.any())


def _age_exceptions(request: EngagementRequest, tweets: list[Tweet], now: datetime) -> dict[str, Any]:
    """Reserved keys and zeroed metrics for tweets too old for what was asked (spec §5.1)."""
    extra: dict[str, Any] = {}
    rules = [(catalog.UNSUPPORTED_VIDEO_VIEWS, {"video_views"}, catalog.VIDEO_VIEWS_MAX_AGE)]
    if request.endpoint == "totals":
        rules.append(
            (
                catalog.UNSUPPORTED_IMPRESSIONS_ENGAGEMENTS,
                set(catalog.AGE_LIMITED_ON_TOTALS),
                catalog.IMPRESSIONS_ENGAGEMENTS_MAX_AGE,
            )
        )
    for key, metrics, max_age in rules:
        if metrics.intersection(request.engagement_types):
            old = [t.tweet_id for t in tweets if now - t.created_at > max_age]
            if old:
                extra[key] = old
    return extra


def build_response(
    request: EngagementRequest,
    world: World,
    tweets: list[Tweet],
    unavailable: list[str],
    now: datetime,
    *,
    hour_only: HourOnly = "hour_of_day",
) -> dict[str, Any]:
    """The 200 body for ``request`` over the served ``tweets`` (unavailable ids already removed)."""
    metrics = list(request.engagement_types)
    body: dict[str, Any] = {}
    errors: list[str] = []
    if request.endpoint == "totals":
        cube = _totals_cube(world, tweets, metrics, now)
    else:
        start, end = window_of(request, now)
        body["start"], body["end"] = format_time(start), format_time(end)
        cube = _series_cube(world, tweets, metrics, start, end, now)
    old = _age_exceptions(request, tweets, now)
    _zero_unsupported(cube, old)
    if catalog.UNSUPPORTED_IMPRESSIONS_ENGAGEMENTS in old:
        errors.append("Impressions & engagements for tweets older than 90 days (2160 hours) are not supported")
    if unavailable:
        body[catalog.UNAVAILABLE_TWEET_IDS] = unavailable
        errors.append(f"{len(unavailable)} Tweet ID(s) are unavailable")
    body.update(old)
    if errors:
        body["errors"] = errors
    for name, group_by in request.groupings:
        body[name] = _nest(cube, group_by, hour_only)
    return body


def _zero_unsupported(cube: _Cube, old: dict[str, Any]) -> None:
    index = {tid: i for i, tid in enumerate(cube.tweet_ids)}
    for key, metrics in (
        (catalog.UNSUPPORTED_VIDEO_VIEWS, ("video_views",)),
        (catalog.UNSUPPORTED_IMPRESSIONS_ENGAGEMENTS, tuple(catalog.AGE_LIMITED_ON_TOTALS)),
    ):
        for tid in old.get(key, []):
            for m in metrics:
                if m in cube.metrics:
                    cube.values[index[tid], cube.metrics.index(m)] = 0


_GZIP_REQUIRED = (
    "This request requires gzip compression. Retry the request after setting 'Accept-Encoding' header in "
    "the request to 'gzip'."
)


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


class EngagementRoutes:
    """The Engagement API's endpoints, mounted by :class:`~engagement_lab.sandbox.app.SandboxApp`.

    Order of checks for ``POST /insights/engagement/{totals,28hr,historical}``: gzip accepted (406), credentials
    (401), per-minute budget (429), injected faults, JSON body (400), the documented request rules (400/403,
    reusing :class:`~engagement_lab.sources.engagement.query.EngagementRequest`), protected tweets (400),
    ownership (403), then the 200 body with partial-failure keys. Every answer carries the ``x-per-minute-*``
    headers.
    """

    def __init__(self, app: SandboxApp) -> None:
        self.app = app
        self.limiter = _MinuteLimiter(app.rate_limit_per_minute, app.wall)

    def info(self) -> dict[str, Any]:
        """Nothing beyond the app's own credentials."""
        return {}

    def route(self, method: str, path: str, environ: dict[str, Any], body: bytes) -> tuple[Response, str] | None:
        """The answer and the fault drawn, or ``None`` for a path that is not the Engagement API's."""
        if not path.startswith(catalog.PATH_PREFIX):
            return None
        endpoint = path[len(catalog.PATH_PREFIX) :]
        if endpoint not in catalog.ENDPOINTS:
            return errors(404, "Sorry, that page does not exist"), "none"
        if method != "POST":
            return errors(405, f"{path} accepts POST only"), "none"
        return self._engagement(endpoint, environ, body)

    def _engagement(self, endpoint: str, environ: dict[str, Any], body: bytes) -> tuple[Response, str]:
        if "gzip" not in environ.get("HTTP_ACCEPT_ENCODING", ""):
            return errors(406, _GZIP_REQUIRED), "none"
        try:
            auth, handle = self._authenticate(environ)
        except OAuthError as exc:
            return errors(401, f"Your account could not be authenticated. Reason: {exc.reason}"), "none"
        allowed, limits = self.limiter.take()
        if not allowed:
            return self.app.record(endpoint, body, errors(429, "Rate limit exceeded", headers=limits), "none", handle)
        fault, status = self.app.faults.draw()
        if self.app.faults.config.latency_ms:
            self.app.sleep(self.app.faults.config.latency_ms / 1000)
        if fault == "drop":
            self.app.record(endpoint, body, Response(0, b"", ""), fault, handle)
            raise DroppedConnection(f"sandbox fault: dropped {endpoint} request")
        if fault == "server_error":
            return self.app.record(
                endpoint, body, errors(status, "internal server error", headers=limits), fault, handle
            )
        if fault == "rate_limit":
            limited = self.limiter.headers(remaining=0)
            return self.app.record(endpoint, body, errors(429, "Rate limit exceeded", headers=limited), fault, handle)
        response = self._answer(endpoint, body, auth, handle)
        response.headers.extend(limits)
        return self.app.record(endpoint, body, response, fault, handle)

    def _authenticate(self, environ: dict[str, Any]) -> tuple[str, str | None]:
        header = environ.get("HTTP_AUTHORIZATION", "")
        if header.startswith("Bearer "):
            if header[len("Bearer ") :] != self.app.tokens.bearer_token:
                raise OAuthError("Invalid or expired bearer token")
            return "bearer", None
        if not header:
            raise OAuthError("Unknown Authorization Type")
        params = self.app.tokens.verify(environ["REQUEST_METHOD"], request_url(environ), header, query(environ))
        token = params.get("oauth_token", "")
        if token not in self.app.tokens.access:
            raise OAuthError("Access token not found")
        return "user", self.app.tokens.account_of(token)

    def _answer(self, endpoint: str, raw: bytes, auth: str, handle: str | None) -> Response:
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            return errors(400, f"Invalid JSON in request body: {exc}")
        now = self.app.clock.now()
        try:
            request = EngagementRequest.from_body(endpoint, body, auth=auth, now=now)  # type: ignore[arg-type]
        except QueryError as exc:
            return _query_error(exc, body)
        served, unavailable, protected, unowned = [], [], [], []
        for tweet_id in request.tweet_ids:
            tweet = self.app.world.by_id.get(tweet_id)
            if tweet is None or tweet.status == "deleted" or tweet.created_at > now:
                unavailable.append(tweet_id)
            elif tweet.status == "protected":
                protected.append(tweet_id)
            elif auth == "user" and tweet.account != handle:
                unowned.append(tweet_id)
            else:
                served.append(tweet)
        if protected:
            if self.app.name_protected_ids:
                return errors(400, "Tweet ID(s) are unavailable", unavailable_tweet_ids=protected)
            return errors(400, "Tweet ID(s) are unavailable")
        if unowned:
            return errors(403, f"Forbidden to access tweets: {', '.join(unowned)}")
        payload = build_response(request, self.app.world, served, unavailable, now, hour_only=self.app.hour_only)
        return json_response(200, payload)


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
