"""EngagementQuery: what a user wants, checked against every documented rule, planned into requests.

``EngagementQuery(...).validate()`` normalises the query (string ids, canonical metric names, groupings
in the API's own form, UTC times) or raises :class:`~engagement_lab.errors.QueryError` naming the rule.
``plan()`` turns a query of any size into :class:`EngagementRequest` objects the API accepts: ids
deduplicated and chunked to the endpoint's limit, long histories split into hour-aligned, half-open,
contiguous windows of at most 28 days. Everything here is pure; nothing touches the network.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from typing import Any, Literal, TypeAlias

from ...timeutil import TimeInput, ceil_hour, floor_hour, format_time
from ..checks import check_ids, current_time, fail
from . import catalog
from .catalog import AuthKind, EndpointName
from .rules import Groupings, check_ages, check_auth, check_endpoint, check_groupings, check_metrics, check_window

__all__ = [
    "AgeRules",
    "EngagementQuery",
    "EngagementRequest",
    "GroupingsInput",
    "resolve_window",
    "split_windows",
]

GroupingsInput: TypeAlias = (
    str | Mapping[str, Mapping[str, Sequence[str]] | Sequence[str]] | Sequence[str | tuple[str, Any]]
)
AgeRules = Literal["raise", "allow"]
"""``"raise"``: refuse metrics the API cannot serve for a tweet's age; ``"allow"``: let the API
return partial results with its ``unsupported_*`` lists."""


@dataclass(frozen=True)
class EngagementRequest:
    """One normalised request body for one endpoint.

    Built by :meth:`EngagementQuery.validate` (the whole query, any size) and by
    :meth:`EngagementQuery.plan` (each within the endpoint's limits). ``start``/``end`` are set only on
    ``/historical``.
    """

    endpoint: EndpointName
    tweet_ids: tuple[str, ...]
    engagement_types: tuple[str, ...]
    groupings: Groupings
    start: datetime | None = None
    end: datetime | None = None
    auth: AuthKind = "user"

    @property
    def path(self) -> str:
        """URL path of the endpoint."""
        return catalog.ENDPOINTS[self.endpoint].path

    def to_body(self) -> dict[str, Any]:
        """The exact JSON body the API expects (ids as strings, times as ``...Z``)."""
        body: dict[str, Any] = {
            "tweet_ids": list(self.tweet_ids),
            "engagement_types": list(self.engagement_types),
            "groupings": {name: {"group_by": list(gb)} for name, gb in self.groupings},
        }
        if self.start is not None:
            body["start"] = format_time(self.start)
        if self.end is not None:
            body["end"] = format_time(self.end)
        return body

    @cached_property
    def key(self) -> str:
        """Stable 24-hex-digit hash of the endpoint and canonical body, for archives and resume."""
        canonical = json.dumps(
            {"endpoint": self.endpoint, "body": self.to_body()}, sort_keys=True, separators=(",", ":")
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:24]

    def check_limits(self) -> None:
        """Raise :class:`QueryError` unless one API call may carry this request (ids, window)."""
        limit = catalog.ENDPOINTS[self.endpoint].max_tweet_ids
        if len(self.tweet_ids) > limit:
            raise fail(
                "tweet_ids.too_many",
                f"/{self.endpoint} takes at most {limit} tweet ids per request, got "
                f"{len(self.tweet_ids)}; plan() splits a query into batches of {limit}.",
            )
        if self.start is not None and self.end is not None and self.end - self.start > catalog.MAX_WINDOW:
            raise fail(
                "window.too_long",
                f"/historical windows are at most 28 days, got {self.end - self.start} "
                f"({format_time(self.start)} to {format_time(self.end)}); "
                "plan() splits a long range into 28-day windows.",
            )

    @classmethod
    def from_body(
        cls,
        endpoint: str,
        body: object,
        *,
        auth: AuthKind = "user",
        now: datetime | None = None,
        age_rules: AgeRules = "allow",
    ) -> EngagementRequest:
        """Validate a raw JSON request body as the API would (strict types, limits, rules)."""
        if not isinstance(body, Mapping):
            raise fail("body.type", f"request body must be a JSON object, got {type(body).__name__}")
        unknown = set(body) - {"tweet_ids", "engagement_types", "groupings", "start", "end"}
        if unknown:
            raise fail("body.unknown_field", f"unknown request fields: {sorted(unknown)}")
        for field in ("tweet_ids", "engagement_types", "groupings"):
            if field not in body:
                raise fail("body.missing", f"request body is missing the required {field!r}")
        ids = body["tweet_ids"]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise fail("tweet_ids.not_strings", "tweet_ids must be a JSON array of strings")
        if not isinstance(body["groupings"], Mapping):
            raise fail("groupings.type", "groupings must be a JSON object")
        query = EngagementQuery(
            endpoint,  # type: ignore[arg-type]
            ids,
            body["engagement_types"],
            body["groupings"],
            start=body.get("start"),
            end=body.get("end"),
            auth=auth,
        )
        request = query.validate(now=now, age_rules=age_rules)
        if endpoint == "historical":
            start, end = _api_window(request.start, request.end, now=current_time(now))
            request = replace(request, start=start, end=end)
        request.check_limits()
        return request


@dataclass(frozen=True)
class EngagementQuery:
    """What to fetch from the Engagement API, of any size.

    Parameters
    ----------
    endpoint : {"totals", "28hr", "historical"}
    tweet_ids : sequence of str or int
        Ids as strings (ints are converted; floats refused). Duplicates are dropped, order kept.
    engagement_types : sequence of str, or str
        Metric names, one metric name, or a preset: ``"all"`` (everything the endpoint and auth
        allow) or ``"public"``.
    groupings : str, mapping or sequence
        The API's ``{name: {"group_by": [...]}}`` form, ``{name: [...]}``, a preset name
        (``"per_tweet"``, ``"daily"``, ``"hourly"``, ``"hour_of_day"``, ``"grand_total"``), or a list
        of preset names and ``(name, group_by)`` pairs.
    start, end : datetime, date or ISO string, optional
        ``/historical`` only, UTC. ``start`` alone means "until now"; ``end`` alone means the 28 days
        before it; neither means the last 28 days.
    auth : {"user", "bearer"}
        OAuth 1.0a user context, or app-only bearer (``/totals`` and public metrics only).

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> q = EngagementQuery("historical", [str(10**18 + i) for i in range(30)], ["impressions"],
    ...                     "hourly", start="2026-01-01", end="2026-03-01")
    >>> requests = q.plan(now=datetime(2026, 6, 1, tzinfo=UTC))
    >>> len(requests)  # 2 batches (25 + 5 ids) x 3 windows (28 + 28 + 3 days)
    6
    >>> requests[0].to_body()["start"], requests[0].to_body()["end"]
    ('2026-01-01T00:00:00Z', '2026-01-29T00:00:00Z')
    """

    endpoint: EndpointName
    tweet_ids: Sequence[str | int] | str | int
    engagement_types: Sequence[str] | str
    groupings: GroupingsInput
    start: TimeInput | None = None
    end: TimeInput | None = None
    auth: AuthKind = "user"

    def validate(self, *, now: datetime | None = None, age_rules: AgeRules = "raise") -> EngagementRequest:
        """Check every documented rule and return the normalised request (of any size).

        Parameters
        ----------
        now : datetime, optional
            The current time (aware); defaults to the real clock. Used by the future-end and age rules.
        age_rules : {"raise", "allow"}
            Whether asking for metrics that the API does not serve at a tweet's age (impressions and
            engagements on ``/totals`` beyond 90 days, video views beyond 1800 days) is an error.

        Raises
        ------
        QueryError
            Naming the broken rule (``.rule``), what was received and what to do.
        """
        clock = current_time(now)
        endpoint = check_endpoint(self.endpoint)
        auth = check_auth(self.auth, endpoint)
        ids = check_ids(self.tweet_ids)
        metrics = check_metrics(self.engagement_types, endpoint, auth)
        groupings = check_groupings(self.groupings, endpoint)
        start, end = check_window(self.start, self.end, endpoint, clock)
        if age_rules == "raise":
            check_ages(ids, metrics, endpoint, clock)
        return EngagementRequest(endpoint, ids, metrics, groupings, start, end, auth)

    def plan(self, *, now: datetime | None = None, age_rules: AgeRules = "raise") -> list[EngagementRequest]:
        """Validate, then split into requests the API accepts, each with a stable ``key``.

        Ids are chunked to the endpoint's limit (250/25/25); a ``/historical`` range is resolved
        (defaults as in the class docstring), aligned to whole hours and split into contiguous,
        half-open windows of at most 28 days. Batches are the outer loop, windows the inner one.
        """
        whole = self.validate(now=now, age_rules=age_rules)
        limit = catalog.ENDPOINTS[whole.endpoint].max_tweet_ids
        batches = [whole.tweet_ids[i : i + limit] for i in range(0, len(whole.tweet_ids), limit)]
        windows: list[tuple[datetime | None, datetime | None]] = [(None, None)]
        if whole.endpoint == "historical":
            windows = list(split_windows(*resolve_window(whole.start, whole.end, now=current_time(now))))
        return [replace(whole, tweet_ids=batch, start=start, end=end) for batch in batches for start, end in windows]


def resolve_window(start: datetime | None, end: datetime | None, *, now: datetime) -> tuple[datetime, datetime]:
    """The query's full ``/historical`` range, aligned to whole hours (start down, end up).

    ``start`` alone runs until now; ``end`` alone covers the 28 days before it; neither covers the last
    28 days.
    """
    stop = ceil_hour(end if end is not None else now)
    begin = floor_hour(start) if start is not None else stop - catalog.MAX_WINDOW
    return max(begin, catalog.EARLIEST_START), stop


def split_windows(start: datetime, end: datetime) -> Iterable[tuple[datetime, datetime]]:
    """Contiguous half-open windows of at most 28 days covering ``[start, end)`` exactly."""
    cursor = start
    while cursor < end:
        stop = min(cursor + catalog.MAX_WINDOW, end)
        yield cursor, stop
        cursor = stop


def _api_window(start: datetime | None, end: datetime | None, *, now: datetime) -> tuple[datetime, datetime]:
    """The window the real API uses for one ``/historical`` body (spec §3.2)."""
    if start is None and end is None:
        stop = now.replace(microsecond=0)
        return stop - catalog.MAX_WINDOW, stop
    if start is None:
        assert end is not None
        stop = ceil_hour(end)
        return stop - catalog.MAX_WINDOW, stop
    begin = floor_hour(start)
    if end is None:
        return begin, min(begin + catalog.MAX_WINDOW, now.replace(microsecond=0))
    return begin, ceil_hour(end)
