"""X API v2 post and media analytics responses -> the tidy schema.

``GET /2/tweets/analytics`` and ``GET /2/media/analytics`` answer ``{"data": [Analytics...], "errors":
[Problem...]}``. Each item's ``timestamped_metrics`` buckets become rows of grain ``hour``, ``day`` or ``week``
(``day`` is the bucket's date, ``timestamp`` its start) or, for ``granularity=total``, ``total`` rows over the
request's window. The flat fields are totals over the whole range; they are loaded only when an item has no
buckets, so nothing is counted twice.

Metric names follow the Engagement API where they mean the same thing (``likes`` -> ``favorites``, see
:data:`engagement_lab.sources.x_v2.catalog.TO_ENGAGEMENT_NAMES`); v2-only metrics keep their names. A ``null`` metric is
missing, never 0. An integer metric the spec does not list is kept and named in ``LoadReport.unknown_metrics``.
A media counter sent as a string is parsed when it is a whole number and otherwise left missing and reported.
Media rows carry the media key in ``tweet_id`` (``source`` ``v2.media_analytics``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from itertools import pairwise
from typing import Any

import polars as pl
import pyarrow as pa

from ... import columns as C
from ...errors import ResponseFormatError
from ...load.frames import repeated
from ...load.report import LoadReport
from ...load.schema import SOURCED_SCHEMA
from ..kinds import document_kind, wrong_loader
from . import catalog as v2

__all__ = ["parse_analytics"]

_GRAIN = {"hourly": "hour", "daily": "day", "weekly": "week", "total": "total"}
_KNOWN = frozenset(v2.POST_METRICS) | frozenset(v2.MEDIA_METRICS)
_WHOLE = re.compile(r"^\s*\d+\s*$")
_TS = pa.timestamp("us", tz="UTC")


def _time(value: object, where: str) -> datetime:
    if not isinstance(value, str):
        raise ResponseFormatError(f"timestamp must be an ISO 8601 string, got {value!r}", path=where)
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise ResponseFormatError(f"timestamp {value!r} is not ISO 8601", path=where) from None


def _infer_grain(stamps: list[datetime]) -> str:
    """The bucket size from the distance between consecutive bucket starts (one bucket: a total)."""
    if len(stamps) < 2:
        return "total"
    step = min(b - a for a, b in pairwise(stamps))
    hours = step.total_seconds() / 3600
    return "hour" if hours <= 1 else "day" if hours <= 24 else "week"


class _Rows:
    """The rows of one answer as it is read. With ``locate``, each number's key is remembered with its path, so a
    number reported twice is refused naming both places (run only once a vectorised check found one, see
    :func:`_repeats`: a dict entry per row would hold every path of a large answer)."""

    def __init__(self, locate: bool = False) -> None:
        self.locate = locate
        self.cols: dict[str, list[Any]] = {
            c: [] for c in (C.TWEET_ID, C.ENGAGEMENT_TYPE, C.GRAIN, C.DAY, C.HOUR, C.TIMESTAMP, C.VALUE, C.SOURCE)
        }
        self.unknown: set[str] = set()
        self.unparsed: list[str] = []
        self.seen: dict[tuple[str, str, str, date | None, int | None], str] = {}

    def add(
        self, item: str, name: str, value: object, grain: str, at: datetime | None, source: str, where: str
    ) -> None:
        if value is None:
            return  # missing is missing: never a 0
        if isinstance(value, str) and source == "v2.media_analytics":
            if not _WHOLE.match(value):
                self.unparsed.append(f"{item}: {name} = {value!r} is not a number (left missing) at {where}")
                return
            value = int(value)
        if type(value) is not int or not 0 <= value < 2**63:
            raise ResponseFormatError(
                f"{name} must be a non-negative integer (below 2**63) or null, got {value!r}", path=where
            )
        if name not in _KNOWN:
            self.unknown.add(name)
        metric = v2.TO_ENGAGEMENT_NAMES.get(name, name)
        day: date | None = at.date() if at is not None and grain in ("hour", "day", "week") else None
        hour = at.hour if at is not None and grain == "hour" else None
        if self.locate:
            self._remember((item, metric, grain, day, hour), at, where)
        self.cols[C.TWEET_ID].append(item)
        self.cols[C.ENGAGEMENT_TYPE].append(metric)
        self.cols[C.GRAIN].append(grain)
        self.cols[C.DAY].append(day)
        self.cols[C.HOUR].append(hour)
        self.cols[C.TIMESTAMP].append(at if grain != "total" else None)
        self.cols[C.VALUE].append(value)
        self.cols[C.SOURCE].append(source)

    def _remember(self, key: tuple[str, str, str, date | None, int | None], at: datetime | None, where: str) -> None:
        """Note where the number ``key`` names (tweet, metric, grain, day, hour) is; refuse it a second time."""
        if key in self.seen:  # an item listed twice, a repeated bucket, two names of one metric, two stamps in an hour
            item, metric, grain = key[:3]
            when = f"the {grain} of {at.isoformat()}" if at is not None and grain != "total" else "the whole range"
            raise ResponseFormatError(
                f"{item}: {metric} for {when} is reported twice (also at {self.seen[key]}); a number is never summed "
                "or guessed, so this answer cannot be loaded. Fetch it again",
                path=where,
            )
        self.seen[key] = where

    def table(self, grouping: str) -> pa.Table:
        n = len(self.cols[C.VALUE])
        return pa.table(
            {
                C.TWEET_ID: pa.array(self.cols[C.TWEET_ID], pa.string()),
                C.ENGAGEMENT_TYPE: pa.array(self.cols[C.ENGAGEMENT_TYPE], pa.string()),
                C.GRAIN: pa.array(self.cols[C.GRAIN], pa.string()),
                C.DAY: pa.array(self.cols[C.DAY], pa.date32()),
                C.HOUR: pa.array(self.cols[C.HOUR], pa.int8()),
                C.TIMESTAMP: pa.array(self.cols[C.TIMESTAMP], _TS),
                C.VALUE: pa.array(self.cols[C.VALUE], pa.int64()),
                C.GROUPING: repeated(grouping, n),
                C.SOURCE: pa.array(self.cols[C.SOURCE], pa.string()),
            },
            schema=SOURCED_SCHEMA,
        )


def parse_analytics(payload: Any, *, granularity: str | None = None) -> tuple[pa.Table, LoadReport]:
    """One analytics answer -> tidy rows and a report (failed ids, unknown metrics, unparsed counters).

    ``granularity`` is the request's (an archive knows it); without it, the bucket size is read from the
    distance between bucket starts, and a single bucket is taken as a total over the range.
    """
    if not isinstance(payload, dict):
        raise ResponseFormatError(f"an analytics answer is a JSON object, got {type(payload).__name__}")
    other = wrong_loader(document_kind(payload), "v2_analytics", "this document")
    if other:  # a post lookup or a flattened tweet has no analytics items: it would give no rows
        raise ResponseFormatError(other)
    if "data" not in payload and "errors" not in payload:
        raise ResponseFormatError(
            f"not an analytics answer: expected 'data' (a list of analytics objects, or one) or 'errors', "
            f"found keys {sorted(payload)[:6]}"
        )
    data = payload.get("data", [])
    if isinstance(data, dict):
        data = [data]  # the single-object shape: one item's analytics
    if not isinstance(data, list):
        raise ResponseFormatError("'data' must be a list of analytics objects", path="$['data']")
    rows = _read(data, granularity, _Rows())
    table = rows.table("v2")
    if _repeats(table):
        _read(data, granularity, _Rows(locate=True))  # raises, naming both places
        raise AssertionError("a repeated number was found but not located")  # pragma: no cover
    errors, failed = _problems(payload)
    report = LoadReport(
        errors=errors + tuple(rows.unparsed),
        unavailable_tweet_ids=failed,
        n_rows=table.num_rows,
        unknown_metrics=tuple(sorted(rows.unknown)),
    )
    return table, report


def _read(data: list[Any], granularity: str | None, rows: _Rows) -> _Rows:
    """Every item's buckets (or flat totals) into ``rows``."""
    for i, item in enumerate(data):
        where = f"$['data'][{i}]"
        if not isinstance(item, dict):
            raise ResponseFormatError("each analytics item must be an object", path=where)
        media = "media_key" in item
        key = item.get("media_key" if media else "id")
        if not isinstance(key, str) or not key:
            raise ResponseFormatError(f"each item needs a string {'media_key' if media else 'id'}", path=where)
        source = "v2.media_analytics" if media else "v2.analytics"
        buckets = item.get("timestamped_metrics") or []
        if not isinstance(buckets, list):
            raise ResponseFormatError("timestamped_metrics must be a list", path=f"{where}['timestamped_metrics']")
        stamps = [
            _time(b.get("timestamp") if isinstance(b, dict) else None, f"{where}['timestamped_metrics'][{j}]")
            for j, b in enumerate(buckets)
        ]
        grain = _GRAIN.get(granularity or "") or _infer_grain(sorted(stamps))
        for j, (bucket, at) in enumerate(zip(buckets, stamps, strict=True)):
            metrics = bucket.get("metrics")
            bwhere = f"{where}['timestamped_metrics'][{j}]['metrics']"
            if not isinstance(metrics, dict):
                raise ResponseFormatError("metrics must be an object", path=bwhere)
            for name, value in metrics.items():
                rows.add(key, name, value, grain, at, source, f"{bwhere}[{name!r}]")
        if not buckets:  # flat totals over the requested range
            for name, value in item.items():
                if name not in v2.STRUCTURAL_FIELDS:
                    rows.add(key, name, value, "total", None, source, f"{where}[{name!r}]")
    return rows


def _repeats(table: pa.Table) -> bool:
    """Whether two rows name one number (tweet, metric, grain, day and hour: what names it in the tidy rows)."""
    keys = pl.from_arrow(table.select([C.TWEET_ID, C.ENGAGEMENT_TYPE, C.GRAIN, C.DAY, C.HOUR]))
    assert isinstance(keys, pl.DataFrame)
    return bool(keys.is_duplicated().any())


def _problems(payload: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Each problem as a line, and the ids the API could not serve."""
    problems = payload.get("errors", [])
    if not isinstance(problems, list):
        return (), ()
    lines, ids = [], []
    for p in problems:
        if not isinstance(p, dict):
            lines.append(str(p))
            continue
        item = p.get("resource_id") or p.get("value")
        kind = str(p.get("type", "")).removeprefix(v2.PROBLEM_PREFIX)
        lines.append(f"{item or '?'}: {p.get('title') or kind}: {p.get('detail', '')}".strip())
        if isinstance(item, str) and item:
            ids.append(item)
    return tuple(lines), tuple(dict.fromkeys(ids))
