"""Request checks every source's query shares: the QueryError of a broken rule, "now", and tweet ids."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from ..errors import QueryError
from ..ids import TweetIdError, parse_tweet_ids
from ..timeutil import parse_time

__all__ = ["check_ids", "current_time", "fail"]


def fail(rule: str, message: str) -> QueryError:
    """The QueryError for a broken ``rule``."""
    return QueryError(message, rule=rule)


def current_time(now: datetime | None) -> datetime:
    """``now`` checked as an aware UTC time, or the real clock."""
    if now is None:
        return datetime.now(UTC)
    try:
        return parse_time(now, name="now")
    except ValueError as exc:
        raise fail("now.naive", str(exc)) from None


def _kind(value: object) -> str:
    return type(value).__name__


def check_ids(tweet_ids: object) -> tuple[str, ...]:
    if not isinstance(tweet_ids, (str, int, Iterable)) or isinstance(tweet_ids, Mapping):
        raise fail("tweet_ids.type", f"tweet_ids must be a list of id strings, got {_kind(tweet_ids)}")
    try:
        ids = parse_tweet_ids(tweet_ids)
    except TweetIdError as exc:
        raise fail(f"tweet_ids.{exc.rule}", str(exc)) from None
    if not ids:
        raise fail("tweet_ids.empty", "tweet_ids is empty; give at least one tweet id")
    return ids
