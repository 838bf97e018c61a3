"""Response bodies of the sandbox: the world's counts nested the way the real API nests them.

Pure: given a validated request, the world and "now", build the JSON-ready dict. Values are strings of
base-10 integers; zero buckets are present; grouping levels follow the ``group_by`` order; reserved keys
(``start``, ``end``, ``errors``, ``unavailable_tweet_ids``, ``unsupported_*``) carry partial failures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np

from .. import catalog
from ..query import EngagementRequest
from ..timeutil import ceil_hour, floor_hour, format_time
from .world import HORIZON_HOURS, METRICS, Tweet, World

__all__ = ["HourOnly", "build_response", "window_of"]

HourOnly = Literal["hour_of_day", "day_then_hour"]
"""How ``engagement.hour`` without ``engagement.day`` nests: hour-of-day buckets "00".."23" summed over
days (Twitter's Ruby sample, real output), or a day level anyway (the official grouping guide)."""

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


def hourly_counts(
    world: World, tweet: Tweet, rows: list[int], start: datetime, hours: int, now: datetime
) -> np.ndarray:
    """Hourly counts of ``tweet`` for ``hours`` buckets from ``start``; buckets not yet begun are 0."""
    out = np.zeros((len(rows), hours), dtype=np.int64)
    first = floor_hour(tweet.created_at)
    offset = int((start - first) / _HOUR)
    visible = min(hours, int(np.ceil((now - start) / _HOUR)))  # buckets that have begun by now
    lo, hi = max(0, -offset), min(visible, HORIZON_HOURS - offset)
    if hi > lo:
        out[:, lo:hi] = world.series(tweet)[rows, offset + lo : offset + hi]
    return out


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
    if catalog.ENGAGEMENT_HOUR in dims and catalog.ENGAGEMENT_DAY not in dims and hour_only == "day_then_hour":
        dims.insert(dims.index(catalog.ENGAGEMENT_HOUR), catalog.ENGAGEMENT_DAY)
    axes = [catalog.TWEET_ID, catalog.ENGAGEMENT_TYPE, catalog.ENGAGEMENT_DAY, catalog.ENGAGEMENT_HOUR]
    drop = tuple(i for i, a in enumerate(axes) if a not in dims)
    values = cube.values.sum(axis=drop)
    present: np.ndarray = cube.present
    if catalog.ENGAGEMENT_DAY not in dims:
        present = np.asarray(present.any(axis=0, keepdims=True))
    if catalog.ENGAGEMENT_HOUR not in dims:
        present = np.asarray(present.any(axis=1, keepdims=True))
    kept = [a for a in axes if a in dims]
    values = np.transpose(values, [kept.index(d) for d in dims]).tolist()
    labels = {
        catalog.TWEET_ID: cube.tweet_ids,
        catalog.ENGAGEMENT_TYPE: cube.metrics,
        catalog.ENGAGEMENT_DAY: cube.days,
        catalog.ENGAGEMENT_HOUR: [f"{h:02d}" for h in range(24)],
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
        if dim in (catalog.ENGAGEMENT_DAY, catalog.ENGAGEMENT_HOUR) and not _reachable(present, where):
            continue
        out[label] = _nest_level(values[i], rest, labels, present, where)
    return out


def _reachable(present: np.ndarray, at: dict[str, int]) -> bool:
    d = at.get(catalog.ENGAGEMENT_DAY)
    h = at.get(catalog.ENGAGEMENT_HOUR)
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
