"""Every Engagement API response shape -> tidy columns (pure, fast).

Each grouping is flattened breadth-first: one pass per nesting level collects keys and parent links with
C-speed ``list.extend``, so Python touches inner nodes, not leaves. Each level's kind (tweet id, metric,
day, hour) is read from its keys, not trusted from a ``group_by`` order, so every legal order works,
including hour-of-day buckets without a day level and a day level the API adds under an hour-only grouping.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import partial
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ... import columns as C
from ...errors import ResponseFormatError
from ...load.frames import repeated
from ...load.report import LoadReport
from ...load.schema import TIDY_SCHEMA
from . import catalog

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


@dataclass(frozen=True)
class ParsedResponse:
    """A response as a tidy Arrow table plus what the reserved keys said."""

    table: pa.Table
    report: LoadReport
    tweet_ids: frozenset[str | None]
    """The tweet ids its rows may hold (``None`` for a grouping without a tweet level), read off each grouping's
    distinct keys: free here, where finding them in the rows means hashing every row (see ``load.archive``). A
    tweet whose only counts were placeholders stays listed."""


class GroupingRows(NamedTuple):
    """One grouping's tidy rows, how many placeholder zeros were dropped, and the tweet ids it holds."""

    table: pa.Table
    dropped: int
    tweet_ids: frozenset[str | None]


@dataclass
class _Level:
    keys: list[str] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)


def _path(name: str, keys: list[str]) -> str:
    return "$" + "".join(f"[{k!r}]" for k in (name, *keys))


def level_kind(keys: set[str], used: set[str], name: str, where: Callable[[str], list[str]]) -> str:
    """Which dimension a level's keys are; each dimension at most once per path."""
    if keys <= _METRIC_KEYS:
        kind = catalog.GROUP_BY_TYPE
    elif all(_DAY.match(k) for k in keys):
        kind = catalog.GROUP_BY_DAY
    elif keys <= _HOUR_KEYS and catalog.GROUP_BY_HOUR not in used:
        kind = catalog.GROUP_BY_HOUR
    elif all(k.isascii() and k.isdigit() for k in keys):
        kind = catalog.GROUP_BY_TWEET
    else:
        bad = next(
            (k for k in sorted(keys) if not ((k.isascii() and k.isdigit()) or _DAY.match(k) or k in _METRIC_KEYS)), None
        )
        if bad is None:  # every key is of some kind, but not all of one
            shown = ", ".join(repr(k) for k in sorted(keys)[:4])
            raise ResponseFormatError(
                f"the keys of one level mix tweet ids, metric names, days and hours ({shown}); each level of a "
                "grouping holds one of them",
                path=_path(name, where(sorted(keys)[0])),
            )
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
        kind = level_kind(set(level.keys), used, name, where)
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


def _values(name: str, leaves: list[Any], levels: list[_Level], kinds: list[str]) -> np.ndarray:
    """Leaves -> int64, accepting base-10 strings and JSON integers; anything else names its tweet, metric and path.

    Only plain ASCII digits are counts (the spec: "JSON strings of base-10 integers", or bare JSON integers).
    Arrow's string cast alone is not enough: it reads ``"0x10"`` as 16 and ``"-0"`` as 0, so the strings are
    matched against digits first and anything else goes to the checks below, which refuse it."""
    try:
        arr = pa.array(leaves)
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            digits = pc.match_substring_regex(arr, r"^[0-9]+$")
            if not pc.all(digits).as_py():
                raise TypeError("not all counts are plain digits")  # the loop below names the first such count
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
                f"count {v!r}{_whose(kinds, _sample_path(levels, i))} is not a non-negative integer (expected a "
                'string of digits such as "551"; hexadecimal, signs, spaces and decimals are not counts). The API '
                "sends decimal digits only, so the response was changed after it was fetched: fetch it again",
                path=_path(name, _sample_path(levels, i)),
            )
        # the length first: int() of more than 4,300 digits raises a ValueError of its own
        if (type(v) is str and len(v.lstrip("0")) > 19) or int(v) >= 2**63:
            shown = v if type(v) is int or len(v) <= 40 else v[:40] + "..."
            raise ResponseFormatError(
                f"count {shown!r}{_whose(kinds, _sample_path(levels, i))} is larger than a 64-bit integer holds "
                "(2**63 - 1); no engagement count is that large",
                path=_path(name, _sample_path(levels, i)),
            )
    return np.fromiter((int(v) for v in leaves), dtype=np.int64, count=len(leaves))


def _whose(kinds: list[str], keys: list[str]) -> str:
    """`` of tweet '123', metric 'likes'`` for a leaf's keys (the levels a grouping has), for error messages."""
    named = dict(zip(kinds, keys, strict=False))
    parts = [
        f"{label} {named[kind]!r}"
        for kind, label in ((catalog.GROUP_BY_TWEET, "tweet"), (catalog.GROUP_BY_TYPE, "metric"))
        if kind in named
    ]
    return f" of {', '.join(parts)}" if parts else ""


def _codes(levels: list[_Level]) -> list[np.ndarray]:
    """For every leaf, the index of its ancestor key at each level."""
    n = len(levels[-1].keys)
    ancestor = np.arange(n)
    out: list[np.ndarray] = [np.empty(0, dtype=np.intp)] * len(levels)
    for depth in range(len(levels) - 1, -1, -1):
        out[depth] = ancestor
        ancestor = np.asarray(levels[depth].parents, dtype=np.intp)[ancestor]
    return out


@dataclass(frozen=True)
class Tree:
    """One grouping read into levels (root first), whichever way it was read.

    ``keys[i]`` are the distinct keys of level ``i`` (strings, in any order); ``codes[i]`` gives, for every
    leaf, the index into ``keys[i]`` of its ancestor at that level; ``values`` are the counts, one per leaf.
    """

    kinds: list[str]
    keys: list[pa.Array]
    codes: list[np.ndarray]
    values: np.ndarray


Locate = Callable[[int, str], list[str]]
"""Keys from the root to the first ``key`` at level ``depth`` (for error paths)."""


EMPTY_TREE = Tree([], [], [], np.empty(0, dtype=np.int64))
"""A grouping that holds no counts."""


def _object_tree(name: str, root: object) -> tuple[Tree, Locate]:
    """A decoded grouping -> its :class:`Tree` and where its keys are (for error paths)."""
    kinds, levels, leaves = _flatten(name, root)
    if not leaves:
        return EMPTY_TREE, no_path
    values = _values(name, leaves, levels, kinds)
    keys, codes = [], []
    for level, ancestor in zip(levels, _codes(levels), strict=True):
        encoded = pa.array(level.keys, pa.string()).dictionary_encode()
        keys.append(encoded.dictionary)
        codes.append(encoded.indices.to_numpy()[ancestor])

    def locate(depth: int, key: str) -> list[str]:
        return _sample_path(levels[: depth + 1], levels[depth].keys.index(key))

    return Tree(kinds, keys, codes, values), locate


def no_path(depth: int, key: str) -> list[str]:
    """A :data:`Locate` where no path is needed: an empty tree has no keys to name, and the byte scan sends any
    refusal to the ordinary parser, which names the path."""
    return []


_GRAINS = {(True, True): "hour", (True, False): "day", (False, True): "hour_of_day", (False, False): "total"}


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _parse_days(name: str, days: list[str], depth: int, locate: Locate) -> np.ndarray:
    """Distinct day keys -> days since 1970-01-01, strictly (2026-02-30 is refused, not rolled over)."""
    parsed = []
    for key in days:
        try:
            parsed.append(date.fromisoformat(key).toordinal() - _EPOCH_ORDINAL)
        except ValueError:
            raise ResponseFormatError(
                f"day key {key!r} is not a calendar date", path=_path(name, locate(depth, key))
            ) from None
    return np.asarray(parsed, dtype=np.int32)


def tree_table(name: str, tree: Tree, locate: Locate) -> pa.Table:
    """A grouping's :class:`Tree` -> tidy rows (each distinct key converted once: days parsed, hours cast)."""
    n = len(tree.values)
    level = {kind: i for i, kind in enumerate(tree.kinds)}
    cols: dict[str, pa.Array] = {}
    for dim, col in ((catalog.GROUP_BY_TWEET, C.TWEET_ID), (catalog.GROUP_BY_TYPE, C.ENGAGEMENT_TYPE)):
        if dim not in level:
            cols[col] = pa.nulls(n, pa.string())
            continue
        cols[col] = tree.keys[level[dim]].take(pa.array(tree.codes[level[dim]]))
    days = hours = None
    if catalog.GROUP_BY_DAY in level:
        depth = level[catalog.GROUP_BY_DAY]
        days = _parse_days(name, tree.keys[depth].to_pylist(), depth, locate)[tree.codes[depth]]
    if catalog.GROUP_BY_HOUR in level:  # the keys are all "HH" (level_kind checked)
        depth = level[catalog.GROUP_BY_HOUR]
        distinct = np.asarray([int(key) for key in tree.keys[depth].to_pylist()], dtype=np.int8)
        hours = distinct[tree.codes[depth]]
    timestamp = pa.nulls(n, pa.timestamp("us", tz="UTC"))
    if days is not None and hours is not None:
        micros = (days.astype(np.int64) * 24 + hours) * 3_600_000_000
        timestamp = pa.array(micros, pa.timestamp("us", tz="UTC"))
    return pa.table(
        {
            C.TWEET_ID: cols[C.TWEET_ID],
            C.ENGAGEMENT_TYPE: cols[C.ENGAGEMENT_TYPE],
            C.GRAIN: repeated(_GRAINS[(days is not None, hours is not None)], n),
            C.DAY: pa.array(days, pa.date32()) if days is not None else pa.nulls(n, pa.date32()),
            C.HOUR: pa.array(hours, pa.int8()) if hours is not None else pa.nulls(n, pa.int8()),
            C.TIMESTAMP: timestamp,
            C.VALUE: pa.array(tree.values, pa.int64()),
            C.GROUPING: repeated(name, n),
        },
        schema=TIDY_SCHEMA,
    )


def reserved_keys(payload: dict[str, Any]) -> dict[str, Any]:
    """The reserved keys of a response (windows, errors, id lists), checked and converted."""
    out: dict[str, Any] = {}
    for key in ("start", "end"):
        if key in payload:
            if not isinstance(payload[key], str):
                raise ResponseFormatError(
                    f"{key!r} must be an ISO-8601 string, got {payload[key]!r}", path=f"$[{key!r}]"
                )
            try:
                out[key] = datetime.fromisoformat(payload[key].replace("Z", "+00:00")).astimezone(UTC)
            except ValueError:  # a bad month, day or hour, or not a time at all
                raise ResponseFormatError(
                    f"{key!r} must be an ISO-8601 time such as '2015-09-14T17:00:00Z', got {payload[key][:40]!r}",
                    path=f"$[{key!r}]",
                ) from None
    for key in _LIST_KEYS:
        if key in payload:
            value = payload[key]
            if not isinstance(value, list) or not all(
                isinstance(v, (str, int)) and not isinstance(v, bool) for v in value
            ):
                raise ResponseFormatError(f"{key!r} must be a list of strings, got {value!r}", path=f"$[{key!r}]")
            out[key] = tuple(str(v) for v in value)
    return out


_PLACEHOLDERS = (
    (catalog.UNSUPPORTED_VIDEO_VIEWS, frozenset({"video_views"})),
    (catalog.UNSUPPORTED_IMPRESSIONS_ENGAGEMENTS, catalog.AGE_LIMITED_ON_TOTALS),
)


def _drop_placeholders(tree: Tree, reserved: dict[str, Any]) -> tuple[Tree, int]:
    """Remove the "0" placeholders the API returns for metrics it does not serve at a tweet's age.

    A leaf is one when its tweet is listed under an ``unsupported_*`` key and its metric is one that key is
    about; decided once per distinct tweet and metric, then looked up for every leaf.
    """
    level = {kind: i for i, kind in enumerate(tree.kinds)}
    if catalog.GROUP_BY_TWEET not in level or catalog.GROUP_BY_TYPE not in level:
        return tree, 0
    tweets, metrics = level[catalog.GROUP_BY_TWEET], level[catalog.GROUP_BY_TYPE]
    metric_names = tree.keys[metrics].to_pylist()
    hit = np.zeros(len(tree.values), dtype=bool)
    for key, about in _PLACEHOLDERS:
        listed = set(reserved.get(key, ()))
        if listed:
            tweet_hit = np.asarray([t in listed for t in tree.keys[tweets].to_pylist()], dtype=bool)
            metric_hit = np.asarray([m in about for m in metric_names], dtype=bool)
            hit |= tweet_hit[tree.codes[tweets]] & metric_hit[tree.codes[metrics]]
    dropped = int(hit.sum())
    if not dropped:
        return tree, 0
    keep = ~hit
    return Tree(tree.kinds, tree.keys, [codes[keep] for codes in tree.codes], tree.values[keep]), dropped


def grouping_rows(
    name: str, tree: Tree, locate: Locate, reserved: dict[str, Any], keep_unsupported: bool
) -> GroupingRows:
    """A grouping's tidy rows, how many placeholder zeros were dropped from them, and its tweet ids."""
    tree = _current_metric_names(name, tree)
    dropped = 0
    if not keep_unsupported:
        tree, dropped = _drop_placeholders(tree, reserved)
    if catalog.GROUP_BY_TWEET in tree.kinds:
        tweet_ids: frozenset[str | None] = frozenset(tree.keys[tree.kinds.index(catalog.GROUP_BY_TWEET)].to_pylist())
    else:
        tweet_ids = frozenset([None]) if len(tree.values) else frozenset()
    return GroupingRows(tree_table(name, tree, locate), dropped, tweet_ids)


def _current_metric_names(name: str, tree: Tree) -> Tree:
    """``tree`` with old metric names the API may still send (``media_clicks``) under the catalog's names.

    One object holding a metric under both names would become two counts of one number (and be summed by
    anything that adds them up), so that is refused, naming the tweet and time.
    """
    if catalog.GROUP_BY_TYPE not in tree.kinds:
        return tree
    i = tree.kinds.index(catalog.GROUP_BY_TYPE)
    old_names = tree.keys[i].to_pylist()
    if not any(m in catalog.RENAMED_METRICS for m in old_names):
        return tree
    names = [catalog.RENAMED_METRICS.get(m, m) for m in old_names]
    distinct = list(dict.fromkeys(names))
    to_distinct = np.asarray([distinct.index(m) for m in names], dtype=np.intp)
    codes = [*tree.codes[:i], to_distinct[tree.codes[i]], *tree.codes[i + 1 :]]
    if len(distinct) < len(names):
        _refuse_two_names(name, tree, codes)
    return replace(tree, keys=[*tree.keys[:i], pa.array(distinct, pa.string()), *tree.keys[i + 1 :]], codes=codes)


def _refuse_two_names(name: str, tree: Tree, codes: list[np.ndarray]) -> None:
    """Raise if two leaves are one number once their metric names are current (see _current_metric_names)."""
    leaves = np.stack(codes, axis=1)  # one row per leaf; never empty of levels: the metric level is one
    _, first, counts = np.unique(leaves, axis=0, return_index=True, return_counts=True)
    if not (counts > 1).any():
        return  # each tweet and time uses one name or the other
    a = int(first[np.argmax(counts > 1)])
    b = int(np.flatnonzero((leaves == leaves[a]).all(axis=1))[1])
    path = [str(keys[c[a]]) for keys, c in zip(tree.keys, tree.codes, strict=True)]
    i = tree.kinds.index(catalog.GROUP_BY_TYPE)
    spelled = [str(tree.keys[i][tree.codes[i][leaf]]) for leaf in (a, b)]
    old = next(m for m in spelled if m in catalog.RENAMED_METRICS)
    current = catalog.RENAMED_METRICS[old]
    raise ResponseFormatError(
        f"metric {current!r} is reported twice for one tweet and time: {spelled[0]!r} = {int(tree.values[a])} and "
        f"{spelled[1]!r} = {int(tree.values[b])} ({old!r} is its old name); a number is never summed or guessed. "
        f"Request only {current!r} and fetch this window again",
        path=_path(name, path),
    )


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
    reserved = reserved_keys(payload)
    names = [k for k in payload if k not in catalog.RESERVED_KEYS]
    parts = [grouping_rows(name, *_object_tree(name, payload[name]), reserved, keep_unsupported) for name in names]
    return assemble(names, parts, reserved)


def assemble(names: list[str], parts: list[GroupingRows], reserved: dict[str, Any]) -> ParsedResponse:
    """The groupings' rows (see :func:`grouping_rows`) and the reserved keys (see :func:`reserved_keys`) -> one
    :class:`ParsedResponse`."""
    table = pa.concat_tables([part.table for part in parts]) if parts else TIDY_SCHEMA.empty_table()
    dropped = sum(part.dropped for part in parts)
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
    return ParsedResponse(table, report, frozenset().union(*(part.tweet_ids for part in parts)))
