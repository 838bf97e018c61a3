"""Every Engagement API response shape -> tidy columns (pure, fast).

Each grouping is flattened breadth-first: one pass per nesting level collects keys and parent links with
C-speed ``list.extend``, so Python touches inner nodes, not leaves. Each level's kind (tweet id, metric,
day, hour) is read from its keys, not trusted from a ``group_by`` order, so every legal order works,
including hour-of-day buckets without a day level and a day level the API adds under an hour-only grouping.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import catalog
from .. import columns as C
from ..errors import ResponseFormatError
from .report import LoadReport

__all__ = ["ParsedResponse", "parse_response"]

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HOUR_KEYS = frozenset(f"{h:02d}" for h in range(24))
_METRIC_KEYS = frozenset(catalog.METRICS) | frozenset(catalog.RENAMED_METRICS)
_LIST_KEYS = (
    catalog.UNAVAILABLE_TWEET_IDS,
    catalog.UNSUPPORTED_VIDEO_VIEWS,
    catalog.UNSUPPORTED_IMPRESSIONS_ENGAGEMENTS,
    "errors",
)
TIDY_SCHEMA = pa.schema(
    [
        (C.TWEET_ID, pa.string()),
        (C.ENGAGEMENT_TYPE, pa.string()),
        (C.GRAIN, pa.string()),
        (C.DAY, pa.date32()),
        (C.HOUR, pa.int8()),
        (C.TIMESTAMP, pa.timestamp("us", tz="UTC")),
        (C.VALUE, pa.int64()),
        (C.GROUPING, pa.string()),
    ]
)


SOURCED_SCHEMA = TIDY_SCHEMA.append(pa.field(C.SOURCE, pa.string()))
"""The tidy schema plus ``source``, for rows that come from another product than the Engagement API."""


def sourced_table(rows: dict[str, list[Any]], *, grain: str, grouping: str) -> pa.Table:
    """Rows of ``tweet_id``, ``engagement_type``, ``value``, ``source`` (and optionally ``day``) as a tidy table."""
    n = len(rows[C.VALUE])
    days = rows.get(C.DAY)
    return pa.table(
        {
            C.TWEET_ID: pa.array(rows[C.TWEET_ID], pa.string()),
            C.ENGAGEMENT_TYPE: pa.array(rows[C.ENGAGEMENT_TYPE], pa.string()),
            C.GRAIN: pa.repeat(grain, n).cast(pa.string()),
            C.DAY: pa.array(days, pa.date32()) if days is not None else pa.nulls(n, pa.date32()),
            C.HOUR: pa.nulls(n, pa.int8()),
            C.TIMESTAMP: pa.nulls(n, pa.timestamp("us", tz="UTC")),
            C.VALUE: pa.array(rows[C.VALUE], pa.int64()),
            C.GROUPING: pa.repeat(grouping, n).cast(pa.string()),
            C.SOURCE: pa.array(rows[C.SOURCE], pa.string()),
        },
        schema=SOURCED_SCHEMA,
    )


@dataclass(frozen=True)
class ParsedResponse:
    """A response as a tidy Arrow table plus what the reserved keys said."""

    table: pa.Table
    report: LoadReport


@dataclass
class _Level:
    keys: list[str] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)


def _path(name: str, keys: list[str]) -> str:
    return "$" + "".join(f"[{k!r}]" for k in (name, *keys))


def _kind(keys: set[str], used: set[str], name: str, where: Callable[[str], list[str]]) -> str:
    """Which dimension a level's keys are; each dimension at most once per path."""
    if keys <= _METRIC_KEYS:
        kind = catalog.ENGAGEMENT_TYPE
    elif all(_DAY.match(k) for k in keys):
        kind = catalog.ENGAGEMENT_DAY
    elif keys <= _HOUR_KEYS and catalog.ENGAGEMENT_HOUR not in used:
        kind = catalog.ENGAGEMENT_HOUR
    elif all(k.isascii() and k.isdigit() for k in keys):
        kind = catalog.TWEET_ID
    else:
        bad = next(k for k in sorted(keys) if not (k.isdigit() or _DAY.match(k) or k in _METRIC_KEYS))
        raise ResponseFormatError(
            f"key {bad!r} is not a tweet id, metric name, YYYY-MM-DD day or HH hour; "
            "expected one of those at every level of a grouping",
            path=_path(name, where(bad)),
        )
    if kind in used:
        raise ResponseFormatError(
            f"a grouping repeats the {kind} level; nesting must use each dimension once",
            path=_path(name, where(next(iter(keys)))),
        )
    return kind


def _flatten(name: str, root: object) -> tuple[list[str], list[_Level], list[Any]]:
    """Breadth-first walk: per level the keys and parent index; the leaves in order."""
    if not isinstance(root, dict):
        raise ResponseFormatError(
            f"grouping {name!r} must be a JSON object, got {type(root).__name__}", path=_path(name, [])
        )
    nodes: list[dict[str, Any]] = [root]
    kinds: list[str] = []
    levels: list[_Level] = []
    used: set[str] = set()
    while nodes:
        level, children = _Level(), list[Any]()
        for i, node in enumerate(nodes):
            level.keys.extend(node)
            level.parents.extend([i] * len(node))
            children.extend(node.values())
        if not level.keys:
            return kinds, levels, []
        where: Callable[[str], list[str]] = partial(_key_path, levels, level)
        kind = _kind(set(level.keys), used, name, where)
        used.add(kind)
        kinds.append(kind)
        levels.append(level)
        if type(children[0]) is not dict:
            return kinds, levels, children  # leaves: _values checks every one of them
        is_node = [type(c) is dict for c in children]
        if not all(is_node):
            j = is_node.index(False)
            raise ResponseFormatError(
                "values at one level mix counts and nested objects; every branch of a grouping must have "
                "the same depth",
                path=_path(name, _sample_path(levels, j)),
            )
        nodes = children
    return kinds, levels, []  # pragma: no cover - loop always returns


def _key_path(levels: list[_Level], level: _Level, key: str) -> list[str]:
    """Keys from the root to ``key`` of a level not yet appended to ``levels``."""
    i = level.keys.index(key)
    return [*_sample_path(levels, level.parents[i]), key] if levels else [key]


def _sample_path(levels: list[_Level], index: int) -> list[str]:
    """Keys from the root to entry ``index`` of the deepest level (for error paths)."""
    keys: list[str] = []
    for level in reversed(levels):
        keys.append(level.keys[index])
        index = level.parents[index]
    return keys[::-1]


def _values(name: str, leaves: list[Any], levels: list[_Level]) -> np.ndarray:
    """Leaves -> int64, accepting base-10 strings and JSON integers; anything else names its path."""
    try:
        arr = pa.array(leaves)
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            arr = pc.cast(arr, pa.int64())
        if pa.types.is_integer(arr.type) and arr.null_count == 0:
            values: np.ndarray = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.int64)
            if len(values) == 0 or values.min() >= 0:
                return values
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        pass
    for i, v in enumerate(leaves):
        ok = (type(v) is int and v >= 0) or (type(v) is str and v.isascii() and v.isdigit())
        if not ok:
            raise ResponseFormatError(
                f'count {v!r} is not a non-negative integer (expected a string of digits such as "551")',
                path=_path(name, _sample_path(levels, i)),
            )
    return np.fromiter((int(v) for v in leaves), dtype=np.int64, count=len(leaves))


def _codes(levels: list[_Level]) -> list[np.ndarray]:
    """For every leaf, the index of its ancestor key at each level."""
    n = len(levels[-1].keys)
    ancestor = np.arange(n)
    out: list[np.ndarray] = [np.empty(0, dtype=np.intp)] * len(levels)
    for depth in range(len(levels) - 1, -1, -1):
        out[depth] = ancestor
        ancestor = np.asarray(levels[depth].parents, dtype=np.intp)[ancestor]
    return out


def _column(keys: list[str], codes: np.ndarray, convert: Any = None) -> pa.Array:
    """Each leaf's ancestor key, converted once per distinct key (days parsed, hours cast)."""
    encoded = pa.array(keys, pa.string()).dictionary_encode()
    distinct = encoded.dictionary if convert is None else convert(encoded.dictionary)
    return distinct.take(encoded.indices.take(pa.array(codes)))


_GRAINS = {(True, True): "hour", (True, False): "day", (False, True): "hour_of_day", (False, False): "total"}


def _parse_days(name: str, levels: list[_Level], depth: int) -> Callable[[pa.Array], pa.Array]:
    """Convert distinct day keys with a strict calendar check (2026-02-30 is refused, not rolled over)."""

    def convert(days: pa.Array) -> pa.Array:
        parsed = []
        for key in days.to_pylist():
            try:
                parsed.append(date.fromisoformat(key))
            except ValueError:
                where = _sample_path(levels[: depth + 1], levels[depth].keys.index(key))
                raise ResponseFormatError(f"day key {key!r} is not a calendar date", path=_path(name, where)) from None
        return pa.array(parsed, pa.date32())

    return convert


def _grouping_table(name: str, root: object) -> pa.Table:
    kinds, levels, leaves = _flatten(name, root)
    n = len(leaves)
    if n == 0:
        return TIDY_SCHEMA.empty_table()
    values = _values(name, leaves, levels)
    codes = dict(zip(kinds, _codes(levels), strict=True))
    cols: dict[str, pa.Array] = {}
    for dim, col in ((catalog.TWEET_ID, C.TWEET_ID), (catalog.ENGAGEMENT_TYPE, C.ENGAGEMENT_TYPE)):
        cols[col] = _column(levels[kinds.index(dim)].keys, codes[dim]) if dim in codes else pa.nulls(n, pa.string())
    if catalog.ENGAGEMENT_TYPE in codes and "media_clicks" in levels[kinds.index(catalog.ENGAGEMENT_TYPE)].keys:
        renamed = pc.replace_substring_regex(cols[C.ENGAGEMENT_TYPE], "^media_clicks$", "media_engagements")
        cols[C.ENGAGEMENT_TYPE] = renamed
    day = hour = None
    if catalog.ENGAGEMENT_DAY in codes:
        keys = levels[kinds.index(catalog.ENGAGEMENT_DAY)].keys
        depth = kinds.index(catalog.ENGAGEMENT_DAY)
        day = _column(keys, codes[catalog.ENGAGEMENT_DAY], _parse_days(name, levels, depth))
    if catalog.ENGAGEMENT_HOUR in codes:
        keys = levels[kinds.index(catalog.ENGAGEMENT_HOUR)].keys
        hours = np.frombuffer("".join(keys).encode("ascii"), dtype="S2").astype(np.int8)  # keys are all "HH"
        hour = pa.array(hours[codes[catalog.ENGAGEMENT_HOUR]])
    grain = _GRAINS[(day is not None, hour is not None)]
    timestamp = pa.nulls(n, pa.timestamp("us", tz="UTC"))
    if day is not None and hour is not None:
        days = pc.cast(day, pa.int32()).to_numpy().astype(np.int64)
        micros = (days * 86400 + hour.to_numpy().astype(np.int64) * 3600) * 1_000_000
        timestamp = pa.array(micros, pa.timestamp("us", tz="UTC"))
    return pa.table(
        {
            C.TWEET_ID: cols[C.TWEET_ID],
            C.ENGAGEMENT_TYPE: cols[C.ENGAGEMENT_TYPE],
            C.GRAIN: pa.repeat(grain, n),
            C.DAY: day if day is not None else pa.nulls(n, pa.date32()),
            C.HOUR: hour if hour is not None else pa.nulls(n, pa.int8()),
            C.TIMESTAMP: timestamp,
            C.VALUE: pa.array(values, pa.int64()),
            C.GROUPING: pa.repeat(name, n),
        },
        schema=TIDY_SCHEMA,
    )


def _reserved(payload: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("start", "end"):
        if key in payload:
            if not isinstance(payload[key], str):
                raise ResponseFormatError(
                    f"{key!r} must be an ISO-8601 string, got {payload[key]!r}", path=f"$[{key!r}]"
                )
            out[key] = datetime.fromisoformat(payload[key].replace("Z", "+00:00")).astimezone(UTC)
    for key in _LIST_KEYS:
        if key in payload:
            value = payload[key]
            if not isinstance(value, list) or not all(
                isinstance(v, (str, int)) and not isinstance(v, bool) for v in value
            ):
                raise ResponseFormatError(f"{key!r} must be a list of strings, got {value!r}", path=f"$[{key!r}]")
            out[key] = tuple(str(v) for v in value)
    return out


def _drop_unsupported(table: pa.Table, reserved: dict[str, Any]) -> tuple[pa.Table, int]:
    """Remove the "0" placeholders the API returns for metrics it does not serve at a tweet's age."""
    mask = None
    for key, metrics in (
        (catalog.UNSUPPORTED_VIDEO_VIEWS, ["video_views"]),
        (catalog.UNSUPPORTED_IMPRESSIONS_ENGAGEMENTS, sorted(catalog.AGE_LIMITED_ON_TOTALS)),
    ):
        ids = reserved.get(key)
        if ids:
            hit = pc.and_(
                pc.is_in(table[C.TWEET_ID], pa.array(ids)),
                pc.is_in(table[C.ENGAGEMENT_TYPE], pa.array(metrics)),
            )
            hit = pc.fill_null(hit, False)
            mask = hit if mask is None else pc.or_(mask, hit)
    if mask is None:
        return table, 0
    dropped = pc.sum(mask).as_py() or 0
    return table.filter(pc.invert(mask)), int(dropped)


def parse_response(payload: dict[str, Any], *, keep_unsupported: bool = False) -> ParsedResponse:
    """Parse one decoded response object into a tidy Arrow table and a :class:`LoadReport`.

    Parameters
    ----------
    payload : dict
        The decoded JSON object.
    keep_unsupported : bool
        Keep the ``"0"`` values the API returns for tweets listed in ``unsupported_*`` (they are not real
        zeros, so by default they are dropped and counted in the report).
    """
    if not isinstance(payload, dict):
        raise ResponseFormatError(f"a response must be a JSON object, got {type(payload).__name__}")
    reserved = _reserved(payload)
    names = [k for k in payload if k not in catalog.RESERVED_KEYS]
    tables = [_grouping_table(name, payload[name]) for name in names]
    table = pa.concat_tables(tables) if tables else TIDY_SCHEMA.empty_table()
    dropped = 0
    if not keep_unsupported:
        table, dropped = _drop_unsupported(table, reserved)
    report = LoadReport(
        groupings=tuple(names),
        start=reserved.get("start"),
        end=reserved.get("end"),
        errors=reserved.get("errors", ()),
        unavailable_tweet_ids=reserved.get(catalog.UNAVAILABLE_TWEET_IDS, ()),
        unsupported_video_views=reserved.get(catalog.UNSUPPORTED_VIDEO_VIEWS, ()),
        unsupported_impressions_engagements=reserved.get(catalog.UNSUPPORTED_IMPRESSIONS_ENGAGEMENTS, ()),
        n_rows=table.num_rows,
        dropped_unsupported=dropped,
    )
    return ParsedResponse(table, report)
