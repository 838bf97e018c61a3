"""Helpers for loader tests: an independent reference flattener and frame-to-dicts conversion."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import polars as pl
import pytest

from engagement_lab import catalog

RESERVED = catalog.RESERVED_KEYS


def _classify(key: str) -> str:
    if key in catalog.METRICS:
        return "type"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", key):
        return "day"
    if re.fullmatch(r"\d{2}", key):
        return "hour"
    return "id"


def reference_rows(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The obvious recursive flattener, written independently of the library, as plain dicts."""
    rows = []

    def walk(node: Any, name: str, dims: dict[str, str]) -> None:
        if not isinstance(node, dict):
            day = date.fromisoformat(dims["day"]) if "day" in dims else None
            hour = int(dims["hour"]) if "hour" in dims else None
            grain = (
                "hour" if day and hour is not None else "day" if day else "hour_of_day" if hour is not None else "total"
            )
            stamp = datetime(day.year, day.month, day.day, hour, tzinfo=UTC) if grain == "hour" else None  # type: ignore[union-attr,arg-type]
            rows.append(
                {
                    "tweet_id": dims.get("id"),
                    "engagement_type": dims.get("type"),
                    "grain": grain,
                    "day": day,
                    "hour": hour,
                    "timestamp": stamp,
                    "value": int(node),
                    "grouping": name,
                }
            )
            return
        for key, child in node.items():
            walk(child, name, {**dims, _classify(key): key})

    for name, tree in payload.items():
        if name not in RESERVED:
            walk(tree, name, {})
    return rows


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item"):
        return value.item()
    return value


def frame_rows(frame: Any) -> list[dict[str, Any]]:
    """A frame of either backend as plain Python dicts."""
    if isinstance(frame, pl.DataFrame):
        return frame.to_dicts()
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def canonical(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted((tuple((k, row[k]) for k in sorted(row)) for row in rows), key=repr)


@pytest.fixture(params=["pandas", "polars"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
