"""UTC time parsing and hour alignment shared by the query rules, the sandbox and the loaders."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

__all__ = ["TimeInput", "ceil_hour", "floor_hour", "format_time", "parse_time"]

TimeInput = datetime | date | str
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HAS_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$", re.IGNORECASE)
_HOUR = timedelta(hours=1)


def parse_time(value: object, *, name: str = "time") -> datetime:
    """Parse a datetime, date or ISO-8601 string into an aware UTC datetime.

    A date (or ``"YYYY-MM-DD"``) means midnight UTC. Naive datetimes and ISO strings without an offset
    are refused: their time zone is a guess, and a wrong guess shifts every hourly bucket.

    Raises
    ------
    ValueError
        With a message naming ``name``, what was received and the fix.

    Examples
    --------
    >>> parse_time("2015-08-01").isoformat()
    '2015-08-01T00:00:00+00:00'
    >>> parse_time("2016-02-10T18:00:00+01:00").isoformat()
    '2016-02-10T17:00:00+00:00'
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"{name}={value!r} is a naive datetime; the API works in UTC. "
                "Pass an aware datetime, e.g. datetime(..., tzinfo=timezone.utc)."
            )
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, str):
        raise ValueError(
            f"{name}={value!r} has type {type(value).__name__}; "
            "expected a datetime, a date or an ISO-8601 string such as '2016-02-10T17:00:00Z'"
        )
    text = value.strip()
    if _DATE_ONLY.match(text):
        return parse_time(date.fromisoformat(text), name=name)
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"{name}={value!r} is not an ISO-8601 time; use e.g. '2016-02-10T17:00:00Z'") from None
    if not _HAS_OFFSET.search(text):
        raise ValueError(f"{name}={value!r} has no time zone; the API works in UTC. Append 'Z', e.g. '{text}Z'.")
    return parse_time(parsed, name=name)


def floor_hour(t: datetime) -> datetime:
    """Start of the hour containing ``t``."""
    return t.replace(minute=0, second=0, microsecond=0)


def ceil_hour(t: datetime) -> datetime:
    """``t`` when it is on the hour, else the start of the next hour."""
    floored = floor_hour(t)
    return floored if floored == t else floored + _HOUR


def format_time(t: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC, the API's echo format."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
