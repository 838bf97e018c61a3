"""The sandbox's X API v2 routes: post and media analytics, post lookups with metrics, OAuth 2.0 with PKCE.

Numbers come from the same world as the Engagement API routes: a post's hourly v2 bucket equals its
``/historical`` hour (both read :func:`~engagement_lab.sandbox.world.hourly_counts`); daily and weekly
buckets are sums of those hours (UTC midnight, ISO weeks from Monday: the spec's §6 leaves this open).

Order of checks for ``GET /2/tweets/analytics`` and ``/2/media/analytics``: authentication (OAuth 2.0 user token
or OAuth 1.0a user; an app-only bearer token is refused, 403), the per-user 15-minute budget (429), injected
faults, parameters (400 ``invalid-request`` problems), then a 200 with ``data`` for the served ids and one
``Problem`` per failed id (unknown or deleted: ``resource-not-found``; not the user's: ``not-authorized-for-
resource``; protected: ``resource-unavailable``). Every analytics answer carries ``x-rate-limit-*`` headers.
Metrics the world does not model (bookmarks, shares, unfollows, unlikes, CTA clicks) are ``null`` in the buckets
and absent from the flat totals; one media item in five sends ``watch_time_ms`` as a numeric string, as the
spec allows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from threading import Lock
from typing import TYPE_CHECKING, Any

import numpy as np

from ...sandbox.faults import DroppedConnection
from ...sandbox.http import Response, errors, json_response, query, request_url
from ...sandbox.oauth import OAuthError
from ...sandbox.world import METRICS, Tweet, hourly_counts
from ...timeutil import format_time, parse_time
from . import catalog as v2
from .sandbox_oauth import OAuth2Server

if TYPE_CHECKING:
    from ...sandbox.app import SandboxApp

__all__ = ["V2Routes", "media_key_of"]

_HOUR = timedelta(hours=1)
_TO_V2 = v2.FROM_ENGAGEMENT_NAMES
_POST_ROWS = {_TO_V2.get(m, m): i for i, m in enumerate(METRICS) if _TO_V2.get(m, m) in v2.POST_METRICS}
_VIDEO_ROW = METRICS.index("video_views")
# fractions of video views that reach each playback mark (deterministic, so buckets always sum)
_PLAYBACK = {
    "playback_start": 1.0,
    "playback25": 0.72,
    "playback50": 0.51,
    "playback75": 0.36,
    "playback_complete": 0.22,
}


def media_key_of(tweet: Tweet) -> str | None:
    """The media key of a post's video (type 7), or ``None`` for posts without one."""
    return f"7_{tweet.tweet_id}" if tweet.content_type == "video" else None


def problem(status: int, kind: str, title: str, detail: str, **extra: Any) -> Response:
    """An RFC 7807 answer (``application/problem+json``)."""
    body = {"type": v2.PROBLEM_PREFIX + kind, "title": title, "detail": detail, "status": status, **extra}
    return Response(status, json.dumps(body).encode(), "application/problem+json")


def _resource_problem(kind: str, title: str, resource_id: str, detail: str, parameter: str) -> dict[str, Any]:
    return {
        "type": v2.PROBLEM_PREFIX + kind,
        "title": title,
        "detail": detail,
        "resource_type": "tweet" if parameter == "ids" else "media",
        "resource_id": resource_id,
        "parameter": parameter,
        "value": resource_id,
    }


@dataclass
class _UserWindows:
    """Fixed 15-minute windows per user (X counts per app and per user; the sandbox has one app)."""

    limit: int
    seconds: float
    wall: Callable[[], float]
    _used: dict[str, tuple[int, int]] = field(default_factory=dict)
    _lock: Lock = field(default_factory=Lock)

    def take(self, user: str) -> tuple[bool, list[tuple[str, str]]]:
        with self._lock:
            now = self.wall()
            window = int(now // self.seconds)
            start, used = self._used.get(user, (window, 0))
            if start != window:
                used = 0
            allowed = used < self.limit
            used += allowed
            self._used[user] = (window, used)
            reset = int((window + 1) * self.seconds)
            remaining = max(0, self.limit - used)
        headers = [
            (v2.HEADER_LIMIT, str(self.limit)),
            (v2.HEADER_REMAINING, str(remaining)),
            (v2.HEADER_RESET, str(reset)),
        ]
        return allowed, headers


class V2Routes:
    """The v2 half of the sandbox app (mounted by :class:`~engagement_lab.sandbox.app.SandboxApp`)."""

    def __init__(self, app: SandboxApp) -> None:
        self.app = app
        self.world, self.now, self.wall, self.tokens = app.world, app.clock.now, app.wall, app.tokens
        self.client_id = app.secret("oauth2_client_id")[:34]
        self.limiter = _UserWindows(app.v2_rate_limit, app.v2_rate_window_seconds, app.wall)
        self.oauth2 = OAuth2Server(self.world, client_id=self.client_id, wall=self.wall, problem=problem)
        self.media = {key: t for t in self.world.tweets if (key := media_key_of(t)) is not None}

    def info(self) -> dict[str, Any]:
        """What a client needs besides the app's credentials: the OAuth 2.0 client id."""
        return {"oauth2_client_id": self.client_id}

    def route(self, method: str, path: str, environ: dict[str, Any], body: bytes) -> tuple[Response, str] | None:
        """The answer and the fault drawn, or ``None`` for a path that is not X API v2's."""
        if (method, path) == ("GET", "/i/oauth2/authorize"):
            return self.oauth2.authorize(environ), "none"
        if (method, path) == ("POST", v2.TOKEN_PATH):
            return self.oauth2.token(environ, body), "none"
        if path not in (v2.POSTS_PATH, v2.MEDIA_PATH, v2.TWEETS_PATH, v2.ME_PATH):
            return None
        if method != "GET":
            return errors(405, f"{path} accepts GET only"), "none"
        return self._serve(path, environ)

    def _serve(self, path: str, environ: dict[str, Any]) -> tuple[Response, str]:
        """X API v2: authenticate, spend the user's 15-minute budget, draw a fault, answer."""
        endpoint = path.removeprefix("/2/")
        user = self.authenticate(environ)
        if isinstance(user, Response):
            return self.app.record(endpoint, b"", user, "none", None)
        if path == v2.TWEETS_PATH:
            return self.app.record(endpoint, b"", self.tweets(environ, user), "none", user)
        if path == v2.ME_PATH:
            account = self.world.accounts_by_handle[user]
            return json_response(200, {"data": {"id": account.user_id, "username": user, "name": user}}), "none"
        refused, limits = self.limit(user)
        if refused is not None:
            return self.app.record(endpoint, b"", refused, "none", user)
        fault, status = self.app.faults.draw()
        if self.app.faults.config.latency_ms:
            self.app.sleep(self.app.faults.config.latency_ms / 1000)
        if fault == "drop":
            self.app.record(endpoint, b"", Response(0, b"", ""), fault, user)
            raise DroppedConnection(f"sandbox fault: dropped {endpoint} request")
        if fault == "server_error":
            failed = problem(status, "internal-error", "Internal Error", "sandbox fault: internal error")
            failed.headers.extend(limits)
            return self.app.record(endpoint, b"", failed, fault, user)
        if fault == "rate_limit":
            spent = [(k, "0" if k == v2.HEADER_REMAINING else v) for k, v in limits]
            body = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
            return self.app.record(
                endpoint, b"", Response(429, json.dumps(body).encode(), "application/json", spent), fault, user
            )
        response = self.analytics("tweets" if path == v2.POSTS_PATH else "media", environ, user)
        response.headers.extend(limits)
        sent = f"{request_url(environ)}?{environ.get('QUERY_STRING', '')}"  # a GET is named by its whole URL
        return self.app.record(endpoint, sent.encode(), response, fault, user)

    # --- authentication ----------------------------------------------------------------------------------

    def authenticate(self, environ: dict[str, Any]) -> str | Response:
        """The user a request acts for, or the problem answer that refuses it."""
        header = environ.get("HTTP_AUTHORIZATION", "")
        if header.startswith("Bearer "):
            token = header[len("Bearer ") :]
            if token == self.tokens.bearer_token:
                return problem(
                    403,
                    "unsupported-authentication",
                    "Unsupported Authentication",
                    "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint. Supported "
                    "authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
                )
            user = self.oauth2.user_of(token)
            if user is None:
                return problem(
                    401, "unauthorized", "Unauthorized", "Unauthorized: the access token is invalid or expired"
                )
            return user
        if not header:
            return problem(401, "unauthorized", "Unauthorized", "Unauthorized: no Authorization header")
        try:
            params = self.tokens.verify(environ["REQUEST_METHOD"], request_url(environ), header, query(environ))
        except OAuthError as exc:
            return problem(401, "unauthorized", "Unauthorized", f"Unauthorized: {exc.reason}")
        token = params.get("oauth_token", "")
        if token not in self.tokens.access:
            return problem(401, "unauthorized", "Unauthorized", "Unauthorized: access token not found")
        return self.tokens.account_of(token)

    def limit(self, user: str) -> tuple[Response | None, list[tuple[str, str]]]:
        allowed, headers = self.limiter.take(user)
        if allowed:
            return None, headers
        body = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
        return Response(429, json.dumps(body).encode(), "application/json", list(headers)), headers

    # --- analytics -----------------------------------------------------------------------------------------

    def analytics(self, kind: str, environ: dict[str, Any], user: str) -> Response:
        params = dict(query(environ))
        ids_param = "ids" if kind == "tweets" else "media_keys"
        fields_param = "analytics.fields" if kind == "tweets" else "media_analytics.fields"
        allowed_fields = v2.POST_FIELDS if kind == "tweets" else v2.MEDIA_FIELDS
        pattern = v2.ID_PATTERN if kind == "tweets" else v2.MEDIA_KEY_PATTERN
        raw_ids = params.get(ids_param, "")
        ids = [i for i in raw_ids.split(",") if i]
        invalid: list[dict[str, Any]] = []
        if not 1 <= len(ids) <= v2.MAX_IDS:
            invalid.append({"parameters": {ids_param: [raw_ids]}, "message": f"{ids_param}: 1 to 100 values"})
        invalid += [
            {"parameters": {ids_param: [i]}, "message": f"The `{ids_param}` query parameter value [{i}] is not valid"}
            for i in ids
            if not re.match(pattern, i)
        ]
        granularities = v2.POST_GRANULARITIES if kind == "tweets" else v2.MEDIA_GRANULARITIES
        granularity = params.get("granularity", "total" if kind == "tweets" else "daily")
        if granularity not in granularities:
            invalid.append({"parameters": {"granularity": [granularity]}, "message": "unknown granularity"})
        fields = [f for f in params.get(fields_param, "").split(",") if f]
        if len(set(fields)) != len(fields) or any(f not in allowed_fields for f in fields):
            invalid.append({"parameters": {fields_param: fields}, "message": f"{fields_param}: unknown or repeated"})
        window = self._window(params, invalid)
        if invalid or window is None:
            return problem(
                400,
                "invalid-request",
                "Invalid Request",
                "One or more parameters to your request was invalid.",
                errors=invalid or [{"message": "start_time and end_time are required"}],
            )
        start, end = window
        data, problems = [], []
        for item in dict.fromkeys(ids):
            tweet = self.world.by_id.get(item) if kind == "tweets" else self.media.get(item)
            now = self.now()
            if tweet is None or tweet.status == "deleted" or tweet.created_at > now:
                what = "post" if kind == "tweets" else "media"
                problems.append(
                    _resource_problem(
                        "resource-not-found",
                        "Not Found Error",
                        item,
                        f"Could not find {what} with {ids_param}: [{item}].",
                        ids_param,
                    )
                )
            elif tweet.status == "protected":
                problems.append(
                    _resource_problem(
                        "resource-unavailable",
                        "Resource Unavailable",
                        item,
                        f"Sorry, you are not authorized to see the post with {ids_param}: [{item}].",
                        ids_param,
                    )
                )
            elif tweet.account != user:
                problems.append(
                    _resource_problem(
                        "not-authorized-for-resource",
                        "Authorization Error",
                        item,
                        f"Sorry, you are not authorized to see the analytics of {ids_param}: [{item}].",
                        ids_param,
                    )
                )
            else:
                data.append(self._item(kind, item, tweet, start, end, granularity, fields, now))
        body: dict[str, Any] = {}
        if data:
            body["data"] = data
        if problems:
            body["errors"] = problems
        return json_response(200, body)

    def _window(self, params: dict[str, str], invalid: list[dict[str, Any]]) -> tuple[datetime, datetime] | None:
        try:
            start = parse_time(params["start_time"], name="start_time")
            end = parse_time(params["end_time"], name="end_time")
        except KeyError:
            return None
        except ValueError as exc:
            invalid.append({"message": str(exc)})
            return None
        if end <= start:
            invalid.append(
                {"parameters": {"end_time": [params["end_time"]]}, "message": "end_time must be after start_time"}
            )
            return None
        return start, end

    def _item(
        self, kind: str, item: str, tweet: Tweet, start: datetime, end: datetime, granularity: str,
        fields: list[str], now: datetime,
    ) -> dict[str, Any]:  # fmt: skip
        hours = int(np.ceil((end - start) / _HOUR))
        first = start.replace(minute=0, second=0, microsecond=0)
        counts = hourly_counts(self.world, tweet, list(range(len(METRICS))), first, hours, now)
        stamps = [first + k * _HOUR for k in range(hours)]
        starts = _bucket_starts(stamps, granularity, first)
        order = list(dict.fromkeys(starts))
        index = {bucket: i for i, bucket in enumerate(order)}
        which = np.fromiter((index[b] for b in starts), dtype=np.intp, count=len(starts))
        metrics = self._metric_rows(kind, counts, tweet)
        wanted = [m for m in metrics if not fields or m in fields]
        every = v2.POST_METRICS if kind == "tweets" else v2.MEDIA_METRICS
        unmodelled = [f for f in every if f not in metrics and (not fields or f in fields)]
        sums = {m: np.bincount(which, weights=metrics[m], minlength=len(order)).astype(np.int64) for m in wanted}
        stringly = kind == "media" and tweet.index % 5 == 0  # this item's backend sends watch time as text
        series = []
        for i, bucket in enumerate(order):
            values: dict[str, Any] = {m: int(sums[m][i]) for m in wanted}
            values.update(dict.fromkeys(unmodelled))
            if stringly and "watch_time_ms" in values:
                values["watch_time_ms"] = str(values["watch_time_ms"])
            series.append({"timestamp": format_time(bucket), "metrics": values})
        out: dict[str, Any] = {"id" if kind == "tweets" else "media_key": item}
        if not fields or "timestamp" in fields:
            out["timestamp"] = format_time(start)
        for m in wanted:  # the flat totals over the whole range
            out[m] = int(metrics[m].sum())
        if not fields or "timestamped_metrics" in fields:
            out["timestamped_metrics"] = series
        return out

    @staticmethod
    def _metric_rows(kind: str, counts: np.ndarray, tweet: Tweet) -> dict[str, np.ndarray]:
        if kind == "tweets":
            return {name: counts[row] for name, row in _POST_ROWS.items()}
        views = counts[_VIDEO_ROW]
        rows = {name: np.floor(views * share).astype(np.int64) for name, share in _PLAYBACK.items()}
        rows["video_views"] = views
        rows["play_from_tap"] = np.floor(views * 0.08).astype(np.int64)
        rows["watch_time_ms"] = views * 4_200
        return rows

    # --- post lookup with metrics -------------------------------------------------------------------------

    def tweets(self, environ: dict[str, Any], user: str | None) -> Response:
        """``GET /2/tweets?ids=...&tweet.fields=public_metrics,non_public_metrics,organic_metrics``: lifetime
        snapshots at the sandbox's "now" (private metrics only for the user's own posts of the last 30 days)."""
        params = dict(query(environ))
        ids = [i for i in params.get("ids", "").split(",") if i]
        if not 1 <= len(ids) <= v2.MAX_IDS or any(not re.match(v2.ID_PATTERN, i) for i in ids):
            return problem(400, "invalid-request", "Invalid Request", "ids: 1 to 100 post ids")
        wanted = set(params.get("tweet.fields", "").split(","))
        now = self.now()
        data, problems = [], []
        for tweet_id in dict.fromkeys(ids):
            tweet = self.world.by_id.get(tweet_id)
            if tweet is None or tweet.status != "ok" or tweet.created_at > now:
                problems.append(
                    _resource_problem(
                        "resource-not-found",
                        "Not Found Error",
                        tweet_id,
                        f"Could not find tweet with ids: [{tweet_id}].",
                        "ids",
                    )
                )
                continue
            hours = int(np.ceil((now - tweet.created_at) / _HOUR)) + 1
            first = tweet.created_at.replace(minute=0, second=0, microsecond=0)
            totals = hourly_counts(self.world, tweet, list(range(len(METRICS))), first, hours, now).sum(axis=1)
            value = {m: int(totals[i]) for i, m in enumerate(METRICS)}
            entry: dict[str, Any] = {
                "id": tweet_id,
                "text": f"sandbox post {tweet.index}",
                "created_at": format_time(tweet.created_at),
            }
            if "public_metrics" in wanted:
                entry["public_metrics"] = {
                    "retweet_count": value["retweets"],
                    "reply_count": value["replies"],
                    "like_count": value["favorites"],
                    "quote_count": value.get("quote_tweets", 0),
                    "impression_count": value["impressions"],
                }
            private = user == tweet.account and now - tweet.created_at <= timedelta(days=30)
            if private and "non_public_metrics" in wanted:
                entry["non_public_metrics"] = {
                    "impression_count": value["impressions"],
                    "url_link_clicks": value["url_clicks"],
                    "user_profile_clicks": value["user_profile_clicks"],
                }
            if private and "organic_metrics" in wanted:
                entry["organic_metrics"] = {
                    "impression_count": value["impressions"],
                    "like_count": value["favorites"],
                    "reply_count": value["replies"],
                    "retweet_count": value["retweets"],
                }
            data.append(entry)
        body: dict[str, Any] = {"data": data} if data else {}
        if problems:
            body["errors"] = problems
        return json_response(200, body)


def _bucket_starts(stamps: list[datetime], granularity: str, first: datetime) -> list[datetime]:
    if granularity == "hourly":
        return stamps
    if granularity == "daily":
        return [s.replace(hour=0) for s in stamps]
    if granularity == "weekly":
        return [(s - timedelta(days=s.weekday())).replace(hour=0) for s in stamps]
    return [first for _ in stamps]
