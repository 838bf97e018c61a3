"""AnalyticsQuery: a request for X API v2 post analytics (``GET /2/tweets/analytics``), checked and planned.

Like :class:`~engagement_lab.sources.engagement.query.EngagementQuery`, ``validate()`` normalises (string ids,
fields from the spec's enum, UTC hour-aligned times) or raises :class:`~engagement_lab.errors.QueryError` naming
the rule; ``plan()`` splits any number of ids into batches of 100 and any range into contiguous windows of at
most ``max_window`` (31 days by default: the API documents no maximum, spec §6), each an :class:`AnalyticsRequest`
with a stable key for archives and resume. :class:`MediaAnalyticsQuery` does the same for
``GET /2/media/analytics``, keyed by ``media_keys``. Pure: nothing touches the network.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import InitVar, dataclass, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Literal

from ...errors import did_you_mean
from ...options import UNSET, renamed
from ...timeutil import ceil_hour, floor_hour, format_time, parse_time
from ..checks import check_ids, current_time, fail
from . import catalog as v2

__all__ = ["AnalyticsQuery", "AnalyticsRequest", "MediaAnalyticsQuery"]

Kind = Literal["tweets", "media"]


@dataclass(frozen=True)
class AnalyticsRequest:
    """One ``GET`` of the v2 analytics API: at most 100 ids and one window."""

    endpoint: str
    """``"tweets/analytics"`` or ``"media/analytics"`` (the path after ``/2/``)."""
    ids: tuple[str, ...]
    start: datetime
    end: datetime
    granularity: str
    fields: tuple[str, ...]

    @property
    def path(self) -> str:
        return f"/2/{self.endpoint}"

    @property
    def tweet_ids(self) -> tuple[str, ...]:
        """The ids (post ids, or media keys for media analytics)."""
        return self.ids

    @property
    def ids_param(self) -> str:
        return "ids" if self.endpoint == "tweets/analytics" else "media_keys"

    @property
    def fields_param(self) -> str:
        return "analytics.fields" if self.endpoint == "tweets/analytics" else "media_analytics.fields"

    def params(self) -> dict[str, str]:
        """The query string: every list comma-joined (X's own SDKs send one value, spec §6)."""
        return {
            self.ids_param: ",".join(self.ids),
            "start_time": format_time(self.start),
            "end_time": format_time(self.end),
            "granularity": self.granularity,
            self.fields_param: ",".join(self.fields),
        }

    def to_body(self) -> dict[str, Any]:
        """What was asked, for the archive's provenance (the same parameters as :meth:`params`, lists kept)."""
        return {
            self.ids_param: list(self.ids),
            "start_time": format_time(self.start),
            "end_time": format_time(self.end),
            "granularity": self.granularity,
            self.fields_param: list(self.fields),
        }

    @cached_property
    def key(self) -> str:
        """Stable 24-hex-digit hash of the endpoint and parameters (never equal to an Engagement API key)."""
        canonical = json.dumps({"endpoint": self.endpoint, "params": self.to_body()}, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:24]

    def check_limits(self) -> None:
        if not 1 <= len(self.ids) <= v2.MAX_IDS:
            raise fail("ids.count", f"/2/{self.endpoint} takes 1 to {v2.MAX_IDS} ids per request, got {len(self.ids)}")
        if self.end <= self.start:
            raise fail("window.order", f"end_time {format_time(self.end)} must be after {format_time(self.start)}")


def _check_fields(fields: object, allowed: Sequence[str], name: str) -> tuple[str, ...]:
    if fields == "all":
        return tuple(allowed)
    names = [fields] if isinstance(fields, str) else fields
    if not isinstance(names, Iterable):
        raise fail("fields.type", f"{name} must be 'all' or a list of field names, got {type(fields).__name__}")
    out: list[str] = []
    for item in names:
        if not isinstance(item, str) or item not in allowed:
            hint = did_you_mean(str(item), allowed)
            raise fail("fields.unknown", f"{name}: {item!r} is not a field of this API{hint}; fields: {list(allowed)}")
        if item not in out:
            out.append(item)
    if not out:
        raise fail("fields.empty", f"{name} is empty; give at least one field, or 'all'")
    # the metrics live in timestamped_metrics buckets: always ask for them, with the id and bucket time
    structural = [f for f in ("id", "media_key", "timestamp", "timestamped_metrics") if f in allowed]
    return tuple(dict.fromkeys([*structural, *out]))


def _check_media_keys(keys: object) -> tuple[str, ...]:
    values = [keys] if isinstance(keys, str) else keys
    if not isinstance(values, Iterable):
        raise fail(
            "media_keys.type", f"media_keys must be a list of strings like '3_1790000000000000000', got {keys!r}"
        )
    out: list[str] = []
    for key in values:
        if not isinstance(key, str) or not re.match(v2.MEDIA_KEY_PATTERN, key):
            raise fail(
                "media_keys.format", f"media key {key!r} is not of the form <digits>_<digits> (e.g. '3_17900...')"
            )
        if key not in out:
            out.append(key)
    if not out:
        raise fail("media_keys.empty", "media_keys is empty; give at least one media key")
    return tuple(out)


def _bound(value: object, name: str) -> datetime:
    try:
        return parse_time(value, name=name)
    except ValueError as exc:
        raise fail(f"{name}.format", str(exc)) from None


def _normalised(
    kind: Kind, ids: tuple[str, ...], start: object, end: object, granularity: str, fields: object,
    max_window: object, now: datetime | None,
) -> AnalyticsRequest:  # fmt: skip
    granularities = v2.POST_GRANULARITIES if kind == "tweets" else v2.MEDIA_GRANULARITIES
    if granularity not in granularities:
        hint = did_you_mean(str(granularity), granularities)
        raise fail("granularity.unknown", f"granularity {granularity!r} is not one of {list(granularities)}{hint}")
    allowed = v2.POST_FIELDS if kind == "tweets" else v2.MEDIA_FIELDS
    checked = _check_fields(fields, allowed, "analytics.fields" if kind == "tweets" else "media_analytics.fields")
    if not isinstance(max_window, timedelta) or max_window < timedelta(hours=1):
        raise fail("max_window.value", f"max_window must be a timedelta of at least an hour, got {max_window!r}")
    now = current_time(now)
    if start is None:
        raise fail("start.missing", "start_time is required by the v2 analytics API; give start (e.g. '2026-05-01')")
    lo = floor_hour(_bound(start, "start"))
    hi = ceil_hour(_bound(end, "end")) if end is not None else ceil_hour(now)
    if hi <= lo:
        raise fail("window.order", f"end ({format_time(hi)}) must be after start ({format_time(lo)})")
    if hi > ceil_hour(now):
        raise fail("window.future", f"end {format_time(hi)} is in the future (now is {format_time(now)}); omit end")
    endpoint = "tweets/analytics" if kind == "tweets" else "media/analytics"
    return AnalyticsRequest(endpoint, ids, lo, hi, granularity, checked)


def _plan(whole: AnalyticsRequest, max_window: timedelta) -> list[AnalyticsRequest]:
    step = _aligned_step(max_window, whole.granularity)
    windows = []
    cursor = whole.start
    while cursor < whole.end:
        stop = min(cursor + step, whole.end)
        windows.append((cursor, stop))
        cursor = stop
    requests = []
    for i in range(0, len(whole.ids), v2.MAX_IDS):
        batch = whole.ids[i : i + v2.MAX_IDS]
        requests += [replace(whole, ids=batch, start=a, end=b) for a, b in windows]
    return requests


def _aligned_step(max_window: timedelta, granularity: str) -> timedelta:
    """The longest window of whole buckets within ``max_window`` (hourly: hours, daily: days, weekly: weeks)."""
    unit = {"daily": timedelta(days=1), "weekly": timedelta(weeks=1)}.get(granularity, timedelta(hours=1))
    return max(unit, unit * (max_window // unit))


@dataclass(frozen=True)
class AnalyticsQuery:
    """Post analytics for any number of post ids over any range.

    Parameters
    ----------
    tweet_ids : list of str
        Post ids (strings; ints are accepted below 2**53; floats are refused). ``ids`` is the previous release's
        name.
    start, end : datetime or ISO string
        The range (``end`` defaults to now); aligned to whole hours, outward.
    granularity : {"total", "hourly", "daily", "weekly"}
        The bucket of ``timestamped_metrics``.
    fields : "all" or list of str
        ``analytics.fields``; ``id``, ``timestamp`` and ``timestamped_metrics`` are always added.
    max_window : timedelta
        The longest range per request (31 days by default; the API documents none, spec §6). A longer range
        is split into contiguous windows of whole buckets.

    Examples
    --------
    >>> from datetime import UTC
    >>> q = AnalyticsQuery(["1790000000000000001"], "2026-04-01", "2026-06-01", granularity="daily")
    >>> [(format_time(r.start), format_time(r.end)) for r in q.plan(now=datetime(2026, 6, 1, 12, tzinfo=UTC))]
    [('2026-04-01T00:00:00Z', '2026-05-02T00:00:00Z'), ('2026-05-02T00:00:00Z', '2026-06-01T00:00:00Z')]
    """

    tweet_ids: object = None
    start: object = None
    end: object = None
    granularity: str = "total"
    fields: object = "all"
    max_window: timedelta = v2.MAX_WINDOW_CHOICE
    ids: InitVar[object] = UNSET

    def __post_init__(self, ids: object) -> None:
        object.__setattr__(self, "tweet_ids", renamed("ids", ids, "tweet_ids", self.tweet_ids))

    def validate(self, *, now: datetime | None = None) -> AnalyticsRequest:
        """The whole query as one normalised request (any number of ids, any range), or a QueryError."""
        ids = check_ids(self.tweet_ids)
        return _normalised("tweets", ids, self.start, self.end, self.granularity, self.fields, self.max_window, now)

    def plan(self, *, now: datetime | None = None) -> list[AnalyticsRequest]:
        """Requests the API accepts: ids in batches of 100, the range in windows of ``max_window``."""
        return _plan(self.validate(now=now), self.max_window)


@dataclass(frozen=True)
class MediaAnalyticsQuery:
    """Video analytics for any number of media keys (``<type>_<id>``, e.g. ``"7_1790000000000000001"``);
    otherwise as :class:`AnalyticsQuery` (granularity ``hourly``, ``daily`` (default) or ``total``)."""

    media_keys: object
    start: object = None
    end: object = None
    granularity: str = "daily"
    fields: object = "all"
    max_window: timedelta = v2.MAX_WINDOW_CHOICE

    def validate(self, *, now: datetime | None = None) -> AnalyticsRequest:
        keys = _check_media_keys(self.media_keys)
        return _normalised("media", keys, self.start, self.end, self.granularity, self.fields, self.max_window, now)

    def plan(self, *, now: datetime | None = None) -> list[AnalyticsRequest]:
        return _plan(self.validate(now=now), self.max_window)
