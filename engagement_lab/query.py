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
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, Literal, TypeAlias

from . import catalog
from .catalog import AuthKind, EndpointName
from .errors import QueryError, did_you_mean
from .ids import TweetIdError, parse_tweet_ids, tweet_created_at
from .timeutil import TimeInput, ceil_hour, floor_hour, format_time, parse_time

__all__ = [
    "AgeRules",
    "EngagementQuery",
    "EngagementRequest",
    "GroupingsInput",
    "resolve_window",
    "split_windows",
]

GroupBy: TypeAlias = tuple[str, ...]
Groupings: TypeAlias = tuple[tuple[str, GroupBy], ...]
GroupingsInput: TypeAlias = (
    str | Mapping[str, Mapping[str, Sequence[str]] | Sequence[str]] | Sequence[str | tuple[str, Any]]
)
AgeRules = Literal["raise", "allow"]
"""``"raise"``: refuse metrics the API cannot serve for a tweet's age; ``"allow"``: let the API
return partial results with its ``unsupported_*`` lists."""


def _fail(rule: str, message: str) -> QueryError:
    return QueryError(message, rule=rule)


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
            raise _fail(
                "tweet_ids.too_many",
                f"/{self.endpoint} takes at most {limit} tweet ids per request, got "
                f"{len(self.tweet_ids)}; plan() splits a query into batches of {limit}.",
            )
        if self.start is not None and self.end is not None and self.end - self.start > catalog.MAX_WINDOW:
            raise _fail(
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
            raise _fail("body.type", f"request body must be a JSON object, got {_kind(body)}")
        unknown = set(body) - {"tweet_ids", "engagement_types", "groupings", "start", "end"}
        if unknown:
            raise _fail("body.unknown_field", f"unknown request fields: {sorted(unknown)}")
        for field in ("tweet_ids", "engagement_types", "groupings"):
            if field not in body:
                raise _fail("body.missing", f"request body is missing the required {field!r}")
        ids = body["tweet_ids"]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise _fail("tweet_ids.not_strings", "tweet_ids must be a JSON array of strings")
        if not isinstance(body["groupings"], Mapping):
            raise _fail("groupings.type", "groupings must be a JSON object")
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
            start, end = _api_window(request.start, request.end, now=_now(now))
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
        clock = _now(now)
        endpoint = _check_endpoint(self.endpoint)
        auth = _check_auth(self.auth, endpoint)
        ids = _check_ids(self.tweet_ids)
        metrics = _check_metrics(self.engagement_types, endpoint, auth)
        groupings = _check_groupings(self.groupings, endpoint)
        start, end = _check_window(self.start, self.end, endpoint, clock)
        if age_rules == "raise":
            _check_ages(ids, metrics, endpoint, clock)
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
            windows = list(split_windows(*resolve_window(whole.start, whole.end, now=_now(now))))
        return [
            replace(whole, tweet_ids=batch, start=start, end=end)
            for batch in batches
            for start, end in windows
        ]


def resolve_window(
    start: datetime | None, end: datetime | None, *, now: datetime
) -> tuple[datetime, datetime]:
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


# --- rule checks ------------------------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    try:
        return parse_time(now, name="now")
    except ValueError as exc:
        raise _fail("now.naive", str(exc)) from None


def _kind(value: object) -> str:
    return type(value).__name__


def _check_endpoint(endpoint: object) -> EndpointName:
    if endpoint not in catalog.ENDPOINTS:
        hint = did_you_mean(str(endpoint).strip("/").rsplit("/", 1)[-1], catalog.ENDPOINTS)
        raise _fail(
            "endpoint.unknown",
            f"unknown endpoint {endpoint!r}{hint}; expected one of {list(catalog.ENDPOINTS)}",
        )
    return endpoint


def _check_auth(auth: object, endpoint: EndpointName) -> AuthKind:
    if auth not in ("user", "bearer"):
        raise _fail("auth.unknown", f"auth must be 'user' (OAuth 1.0a) or 'bearer', got {auth!r}")
    if auth == "bearer" and not catalog.ENDPOINTS[endpoint].bearer_allowed:
        raise _fail(
            "auth.bearer_endpoint",
            f"/{endpoint} needs OAuth 1.0a user context; app-only bearer auth works only on "
            "/totals with public metrics. Use auth='user' with the tweet owner's tokens.",
        )
    return auth


def _check_ids(tweet_ids: object) -> tuple[str, ...]:
    if not isinstance(tweet_ids, (str, int, Iterable)) or isinstance(tweet_ids, Mapping):
        raise _fail("tweet_ids.type", f"tweet_ids must be a list of id strings, got {_kind(tweet_ids)}")
    try:
        ids = parse_tweet_ids(tweet_ids)
    except TweetIdError as exc:
        raise _fail(f"tweet_ids.{exc.rule}", str(exc)) from None
    if not ids:
        raise _fail("tweet_ids.empty", "tweet_ids is empty; give at least one tweet id")
    return ids


def _allowed_metrics(endpoint: EndpointName, auth: AuthKind) -> tuple[str, ...]:
    names = catalog.ENDPOINTS[endpoint].metrics
    return tuple(n for n in names if auth == "user" or n in catalog.PUBLIC_METRICS)


def _check_metrics(engagement_types: object, endpoint: EndpointName, auth: AuthKind) -> tuple[str, ...]:
    allowed = _allowed_metrics(endpoint, auth)
    if engagement_types == "all":
        return allowed
    if engagement_types == "public":
        return tuple(n for n in allowed if n in catalog.PUBLIC_METRICS)
    names: Sequence[object]
    names = [engagement_types] if isinstance(engagement_types, str) else engagement_types  # type: ignore[assignment]
    if not isinstance(names, Iterable) or isinstance(names, Mapping):
        raise _fail(
            "engagement_types.type",
            f"engagement_types must be a list of metric names, got {_kind(engagement_types)}",
        )
    names = list(names)
    if not names:
        raise _fail(
            "engagement_types.empty",
            f"engagement_types is empty; choose from {list(allowed)} or pass 'all'",
        )
    for name in names:
        _check_metric(name, endpoint, auth)
    return tuple(dict.fromkeys(str(n) for n in names))


def _check_metric(name: object, endpoint: EndpointName, auth: AuthKind) -> None:
    if not isinstance(name, str):
        raise _fail("engagement_types.type", f"metric names are strings, got {name!r}")
    if name in catalog.RENAMED_METRICS:
        new = catalog.RENAMED_METRICS[name]
        raise _fail(
            "engagement_types.renamed",
            f"metric {name!r} was renamed to {new!r} (2017-10-09); request {new!r} instead",
        )
    if name not in catalog.METRICS:
        raise _fail(
            "engagement_types.unknown",
            f"unknown metric {name!r}{did_you_mean(name, catalog.METRICS)}; "
            f"/{endpoint} accepts {list(_allowed_metrics(endpoint, auth))}",
        )
    if endpoint not in catalog.METRICS[name].endpoints:
        where = sorted(catalog.METRICS[name].endpoints)
        raise _fail(
            "engagement_types.endpoint",
            f"metric {name!r} is not served by /{endpoint}; it is available on "
            f"{', '.join('/' + e for e in where)}",
        )
    if auth == "bearer" and name not in catalog.PUBLIC_METRICS:
        raise _fail(
            "engagement_types.bearer",
            f"metric {name!r} needs OAuth 1.0a user context (the tweet owner's tokens); bearer "
            f"auth can read only {sorted(catalog.PUBLIC_METRICS)}",
        )


def _grouping_items(groupings: object) -> list[tuple[object, object]]:
    """Turn every accepted groupings form into ``(name, group_by)`` pairs, keeping duplicates."""
    if isinstance(groupings, str):
        groupings = [groupings]
    if isinstance(groupings, Mapping):
        return list(groupings.items())
    if not isinstance(groupings, Iterable):
        raise _fail(
            "groupings.type",
            f"groupings must be a dict {{name: {{'group_by': [...]}}}} or a preset name, "
            f"got {_kind(groupings)}",
        )
    items: list[tuple[object, object]] = []
    for item in groupings:
        if isinstance(item, str):
            if item not in catalog.GROUPING_PRESETS:
                raise _fail(
                    "groupings.preset_unknown",
                    f"unknown grouping preset {item!r}"
                    f"{did_you_mean(item, catalog.GROUPING_PRESETS)}; presets are "
                    f"{list(catalog.GROUPING_PRESETS)}",
                )
            items.append((item, catalog.GROUPING_PRESETS[item]))
        elif isinstance(item, tuple) and len(item) == 2:
            items.append(item)
        else:
            raise _fail("groupings.type", f"grouping {item!r} is not a preset or (name, group_by)")
    return items


def _check_groupings(groupings: object, endpoint: EndpointName) -> Groupings:
    items = _grouping_items(groupings)
    if not items:
        raise _fail("groupings.empty", "groupings is empty; give at least one, e.g. 'per_tweet'")
    if len(items) > catalog.MAX_GROUPINGS:
        raise _fail(
            "groupings.too_many",
            f"at most {catalog.MAX_GROUPINGS} groupings per request, got {len(items)}; "
            "run several queries instead",
        )
    seen: set[str] = set()
    checked = []
    for name, spec in items:
        checked.append((_check_grouping_name(name, seen), _check_group_by(name, spec, endpoint)))
    if sum(len(gb) == 4 for _, gb in checked) > 1:
        raise _fail(
            "groupings.four_item_count",
            "at most one four-item group_by is allowed per request; split it into two queries",
        )
    return tuple(checked)


def _check_grouping_name(name: object, seen: set[str]) -> str:
    if not isinstance(name, str) or not name.strip():
        raise _fail("groupings.name", f"grouping names are non-empty strings, got {name!r}")
    if name in catalog.RESERVED_KEYS:
        raise _fail(
            "groupings.reserved_name",
            f"grouping name {name!r} collides with a reserved response key "
            f"{sorted(catalog.RESERVED_KEYS)}; choose another name",
        )
    if name in seen:
        raise _fail("groupings.duplicate_name", f"grouping name {name!r} is used twice")
    seen.add(name)
    return name


def _check_group_by(name: object, spec: object, endpoint: EndpointName) -> GroupBy:
    values = spec.get("group_by") if isinstance(spec, Mapping) else spec
    if isinstance(spec, Mapping) and set(spec) != {"group_by"}:
        raise _fail(
            "groupings.group_by_type",
            f"grouping {name!r} must be {{'group_by': [...]}}, got keys {sorted(map(str, spec))}",
        )
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise _fail(
            "groupings.group_by_type",
            f"group_by of {name!r} must be a list such as ['tweet.id', 'engagement.type'], got {values!r}",
        )
    if not values:
        raise _fail("groupings.group_by_empty", f"group_by of {name!r} is empty")
    allowed = catalog.ENDPOINTS[endpoint].group_by
    out = tuple(_check_group_by_value(name, v, allowed, endpoint) for v in values)
    if len(set(out)) != len(out):
        raise _fail("groupings.group_by_duplicate", f"group_by of {name!r} repeats a value: {out}")
    if len(out) == 4 and out not in catalog.FOUR_ITEM_ORDERS:
        raise _fail(
            "groupings.four_item_order",
            f"four-item group_by of {name!r} must be exactly one of "
            f"{[list(o) for o in catalog.FOUR_ITEM_ORDERS]}, got {list(out)}",
        )
    return out


def _check_group_by_value(
    name: object, value: object, allowed: tuple[str, ...], endpoint: EndpointName
) -> str:
    text = value.strip().lower() if isinstance(value, str) else value
    if text in allowed:
        return str(text)
    if text in catalog.TIME_GROUP_BY:
        raise _fail(
            "groupings.time_on_totals",
            f"grouping {name!r}: /{endpoint} gives lifetime totals and cannot group by {text!r}; "
            "use /28hr or /historical for time series",
        )
    raise _fail(
        "groupings.group_by_unknown",
        f"grouping {name!r}: unknown group_by value {value!r}"
        f"{did_you_mean(str(value), allowed)}; allowed on /{endpoint}: {list(allowed)}",
    )


def _parse_bound(value: object, name: str) -> datetime:
    try:
        return parse_time(value, name=name)
    except ValueError as exc:
        rule = "window.naive" if "time zone" in str(exc) or "naive" in str(exc) else "window.format"
        raise _fail(rule, str(exc)) from None


def _check_window(
    start: object, end: object, endpoint: EndpointName, now: datetime
) -> tuple[datetime | None, datetime | None]:
    if start is None and end is None:
        return None, None
    if not catalog.ENDPOINTS[endpoint].accepts_window:
        extra = "it always covers the last 28 hours" if endpoint == "28hr" else "it gives lifetime"
        raise _fail(
            "window.not_allowed",
            f"start/end are only accepted by /historical; /{endpoint} takes none ({extra} totals). "
            "Drop start/end or use endpoint='historical'.",
        )
    lo = None if start is None else _parse_bound(start, "start")
    hi = None if end is None else _parse_bound(end, "end")
    if lo is not None and hi is not None and hi <= lo:
        raise _fail(
            "window.order",
            f"end ({format_time(hi)}) must be after start ({format_time(lo)})",
        )
    if hi is not None and hi > ceil_hour(now):
        raise _fail(
            "window.future",
            f"end {format_time(hi)} is in the future (now is {format_time(now)}); "
            "omit end to fetch up to now",
        )
    if lo is not None and lo < catalog.EARLIEST_START:
        raise _fail(
            "window.too_early",
            f"start {format_time(lo)} is before the earliest date the API serves, "
            f"{format_time(catalog.EARLIEST_START)}",
        )
    if lo is not None and lo >= ceil_hour(now):
        raise _fail("window.future", f"start {format_time(lo)} is in the future")
    return lo, hi


def _check_ages(
    ids: tuple[str, ...], metrics: tuple[str, ...], endpoint: EndpointName, now: datetime
) -> None:
    rules: list[tuple[str, frozenset[str], timedelta, str]] = [
        ("video_views", frozenset({"video_views"}), catalog.VIDEO_VIEWS_MAX_AGE, "1800 days")
    ]
    if endpoint == "totals":
        rules.append(
            ("impressions_engagements", catalog.AGE_LIMITED_ON_TOTALS,
             catalog.IMPRESSIONS_ENGAGEMENTS_MAX_AGE, "90 days")
        )  # fmt: skip
    for rule, limited, max_age, label in rules:
        asked = sorted(limited.intersection(metrics))
        if not asked:
            continue
        old = [i for i in ids if now - tweet_created_at(i) > max_age]
        if old:
            shown = ", ".join(old[:5]) + (f" and {len(old) - 5} more" if len(old) > 5 else "")
            raise _fail(
                f"age.{rule}",
                f"/{endpoint} serves {'/'.join(asked)} only for tweets at most {label} old; "
                f"{len(old)} tweet(s) are older: {shown}. Drop those ids or metrics"
                + (", use /historical for them" if endpoint == "totals" else "")
                + ", or pass age_rules='allow' to accept partial results.",
            )
