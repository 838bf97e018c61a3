"""The documented request rules, one check per rule family, each raising QueryError with the rule named.

Used by :class:`~engagement_lab.sources.engagement.query.EngagementQuery` (before anything is sent) and, through
it, by the sandbox (as the server's own validation). Facts come from :mod:`engagement_lab.sources.engagement.catalog`;
the checks every source shares are in :mod:`engagement_lab.sources.checks`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from ...errors import did_you_mean
from ...ids import tweet_created_at
from ...timeutil import ceil_hour, format_time, parse_time
from ..checks import fail
from . import catalog
from .catalog import AuthKind, EndpointName

__all__ = ["check_ages", "check_auth", "check_endpoint", "check_groupings", "check_metrics", "check_window"]

GroupBy = tuple[str, ...]
Groupings = tuple[tuple[str, GroupBy], ...]


def _kind(value: object) -> str:
    return type(value).__name__


def check_endpoint(endpoint: object) -> EndpointName:
    if endpoint not in catalog.ENDPOINTS:
        hint = did_you_mean(str(endpoint).strip("/").rsplit("/", 1)[-1], catalog.ENDPOINTS)
        raise fail(
            "endpoint.unknown",
            f"unknown endpoint {endpoint!r}{hint}; expected one of {list(catalog.ENDPOINTS)}",
        )
    return endpoint


def check_auth(auth: object, endpoint: EndpointName) -> AuthKind:
    if auth not in ("user", "bearer"):
        raise fail("auth.unknown", f"auth must be 'user' (OAuth 1.0a) or 'bearer', got {auth!r}")
    if auth == "bearer" and not catalog.ENDPOINTS[endpoint].bearer_allowed:
        raise fail(
            "auth.bearer_endpoint",
            f"/{endpoint} needs OAuth 1.0a user context; app-only bearer auth works only on "
            "/totals with public metrics. Use auth='user' with the tweet owner's tokens.",
        )
    return auth


def _allowed_metrics(endpoint: EndpointName, auth: AuthKind) -> tuple[str, ...]:
    names = catalog.ENDPOINTS[endpoint].metrics
    return tuple(n for n in names if auth == "user" or n in catalog.PUBLIC_METRICS)


def check_metrics(engagement_types: object, endpoint: EndpointName, auth: AuthKind) -> tuple[str, ...]:
    allowed = _allowed_metrics(endpoint, auth)
    if engagement_types == "all":
        return allowed
    if engagement_types == "public":
        return tuple(n for n in allowed if n in catalog.PUBLIC_METRICS)
    names: Sequence[object]
    names = [engagement_types] if isinstance(engagement_types, str) else engagement_types  # type: ignore[assignment]
    if not isinstance(names, Iterable) or isinstance(names, Mapping):
        raise fail(
            "engagement_types.type",
            f"engagement_types must be a list of metric names, got {_kind(engagement_types)}",
        )
    names = list(names)
    if not names:
        raise fail(
            "engagement_types.empty",
            f"engagement_types is empty; choose from {list(allowed)} or pass 'all'",
        )
    for name in names:
        _check_metric(name, endpoint, auth)
    return tuple(dict.fromkeys(str(n) for n in names))


def _check_metric(name: object, endpoint: EndpointName, auth: AuthKind) -> None:
    if not isinstance(name, str):
        raise fail("engagement_types.type", f"metric names are strings, got {name!r}")
    if name in catalog.RENAMED_METRICS:
        new = catalog.RENAMED_METRICS[name]
        raise fail(
            "engagement_types.renamed",
            f"metric {name!r} was renamed to {new!r} (2017-10-09); request {new!r} instead",
        )
    if name not in catalog.METRICS:
        raise fail(
            "engagement_types.unknown",
            f"unknown metric {name!r}{did_you_mean(name, catalog.METRICS)}; "
            f"/{endpoint} accepts {list(_allowed_metrics(endpoint, auth))}",
        )
    if endpoint not in catalog.METRICS[name].endpoints:
        where = sorted(catalog.METRICS[name].endpoints)
        raise fail(
            "engagement_types.endpoint",
            f"metric {name!r} is not served by /{endpoint}; it is available on {', '.join('/' + e for e in where)}",
        )
    if auth == "bearer" and name not in catalog.PUBLIC_METRICS:
        raise fail(
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
        raise fail(
            "groupings.type",
            f"groupings must be a dict {{name: {{'group_by': [...]}}}} or a preset name, got {_kind(groupings)}",
        )
    items: list[tuple[object, object]] = []
    for item in groupings:
        if isinstance(item, str):
            if item not in catalog.GROUPING_PRESETS:
                raise fail(
                    "groupings.preset_unknown",
                    f"unknown grouping preset {item!r}"
                    f"{did_you_mean(item, catalog.GROUPING_PRESETS)}; presets are "
                    f"{list(catalog.GROUPING_PRESETS)}",
                )
            items.append((item, catalog.GROUPING_PRESETS[item]))
        elif isinstance(item, tuple) and len(item) == 2:
            items.append(item)
        else:
            raise fail("groupings.type", f"grouping {item!r} is not a preset or (name, group_by)")
    return items


def check_groupings(groupings: object, endpoint: EndpointName) -> Groupings:
    items = _grouping_items(groupings)
    if not items:
        raise fail("groupings.empty", "groupings is empty; give at least one, e.g. 'per_tweet'")
    if len(items) > catalog.MAX_GROUPINGS:
        raise fail(
            "groupings.too_many",
            f"at most {catalog.MAX_GROUPINGS} groupings per request, got {len(items)}; run several queries instead",
        )
    seen: set[str] = set()
    checked = []
    for name, spec in items:
        checked.append((_check_grouping_name(name, seen), _check_group_by(name, spec, endpoint)))
    if sum(len(gb) == 4 for _, gb in checked) > 1:
        raise fail(
            "groupings.four_item_count",
            "at most one four-item group_by is allowed per request; split it into two queries",
        )
    return tuple(checked)


def _check_grouping_name(name: object, seen: set[str]) -> str:
    if not isinstance(name, str) or not name.strip():
        raise fail("groupings.name", f"grouping names are non-empty strings, got {name!r}")
    if name in catalog.RESERVED_KEYS:
        raise fail(
            "groupings.reserved_name",
            f"grouping name {name!r} collides with a reserved response key "
            f"{sorted(catalog.RESERVED_KEYS)}; choose another name",
        )
    if name in seen:
        raise fail("groupings.duplicate_name", f"grouping name {name!r} is used twice")
    seen.add(name)
    return name


def _check_group_by(name: object, spec: object, endpoint: EndpointName) -> GroupBy:
    values = spec.get("group_by") if isinstance(spec, Mapping) else spec
    if isinstance(spec, Mapping) and set(spec) != {"group_by"}:
        raise fail(
            "groupings.group_by_type",
            f"grouping {name!r} must be {{'group_by': [...]}}, got keys {sorted(map(str, spec))}",
        )
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise fail(
            "groupings.group_by_type",
            f"group_by of {name!r} must be a list such as ['tweet.id', 'engagement.type'], got {values!r}",
        )
    if not values:
        raise fail("groupings.group_by_empty", f"group_by of {name!r} is empty")
    allowed = catalog.ENDPOINTS[endpoint].group_by
    out = tuple(_check_group_by_value(name, v, allowed, endpoint) for v in values)
    if len(set(out)) != len(out):
        raise fail("groupings.group_by_duplicate", f"group_by of {name!r} repeats a value: {out}")
    if len(out) == 4 and out not in catalog.FOUR_ITEM_ORDERS:
        raise fail(
            "groupings.four_item_order",
            f"four-item group_by of {name!r} must be exactly one of "
            f"{[list(o) for o in catalog.FOUR_ITEM_ORDERS]}, got {list(out)}",
        )
    return out


def _check_group_by_value(name: object, value: object, allowed: tuple[str, ...], endpoint: EndpointName) -> str:
    text = value.strip().lower() if isinstance(value, str) else value
    if text in allowed:
        return str(text)
    if text in catalog.TIME_GROUP_BY:
        raise fail(
            "groupings.time_on_totals",
            f"grouping {name!r}: /{endpoint} gives lifetime totals and cannot group by {text!r}; "
            "use /28hr or /historical for time series",
        )
    raise fail(
        "groupings.group_by_unknown",
        f"grouping {name!r}: unknown group_by value {value!r}"
        f"{did_you_mean(str(value), allowed)}; allowed on /{endpoint}: {list(allowed)}",
    )


def _parse_bound(value: object, name: str) -> datetime:
    try:
        return parse_time(value, name=name)
    except ValueError as exc:
        rule = "window.naive" if "time zone" in str(exc) or "naive" in str(exc) else "window.format"
        raise fail(rule, str(exc)) from None


def check_window(
    start: object, end: object, endpoint: EndpointName, now: datetime
) -> tuple[datetime | None, datetime | None]:
    if start is None and end is None:
        return None, None
    if not catalog.ENDPOINTS[endpoint].accepts_window:
        extra = "it always covers the last 28 hours" if endpoint == "28hr" else "it gives lifetime"
        raise fail(
            "window.not_allowed",
            f"start/end are only accepted by /historical; /{endpoint} takes none ({extra} totals). "
            "Drop start/end or use endpoint='historical'.",
        )
    lo = None if start is None else _parse_bound(start, "start")
    hi = None if end is None else _parse_bound(end, "end")
    if lo is not None and hi is not None and hi <= lo:
        raise fail(
            "window.order",
            f"end ({format_time(hi)}) must be after start ({format_time(lo)})",
        )
    if hi is not None and hi > ceil_hour(now):
        raise fail(
            "window.future",
            f"end {format_time(hi)} is in the future (now is {format_time(now)}); omit end to fetch up to now",
        )
    if lo is not None and lo < catalog.EARLIEST_START:
        raise fail(
            "window.too_early",
            f"start {format_time(lo)} is before the earliest date the API serves, "
            f"{format_time(catalog.EARLIEST_START)}",
        )
    if lo is not None and lo >= ceil_hour(now):
        raise fail("window.future", f"start {format_time(lo)} is in the future")
    return lo, hi


def check_ages(ids: tuple[str, ...], metrics: tuple[str, ...], endpoint: EndpointName, now: datetime) -> None:
    rules: list[tuple[str, frozenset[str], timedelta, str]] = [
        ("video_views", frozenset({"video_views"}), catalog.VIDEO_VIEWS_MAX_AGE, "1800 days")
    ]
    if endpoint == "totals":
        rules.append(
            (
                "impressions_engagements",
                catalog.AGE_LIMITED_ON_TOTALS,
                catalog.IMPRESSIONS_ENGAGEMENTS_MAX_AGE,
                "90 days",
            )
        )
    for rule, limited, max_age, label in rules:
        asked = sorted(limited.intersection(metrics))
        if not asked:
            continue
        old = [i for i in ids if now - tweet_created_at(i) > max_age]
        if old:
            shown = ", ".join(old[:5]) + (f" and {len(old) - 5} more" if len(old) > 5 else "")
            raise fail(
                f"age.{rule}",
                f"/{endpoint} serves {'/'.join(asked)} only for tweets at most {label} old; "
                f"{len(old)} tweet(s) are older: {shown}. Drop those ids or metrics"
                + (", use /historical for them" if endpoint == "totals" else "")
                + ", or pass age_rules='allow' to accept partial results.",
            )
