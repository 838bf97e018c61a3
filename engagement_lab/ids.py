"""Tweet ids: strings end to end.

Ids above 2**53 lose precision as floats, so a float id is refused (its digits are already wrong) and an
int is accepted and turned into a string. Snowflake ids also carry their creation time.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from datetime import UTC, datetime

from .catalog import MAX_TWEET_ID, MAX_TWEET_ID_DIGITS, SNOWFLAKE_EPOCH_MS
from .errors import DataError

__all__ = ["TweetIdError", "parse_tweet_id", "parse_tweet_ids", "snowflake_id", "tweet_created_at"]


class TweetIdError(DataError):
    """A value is not a valid tweet id. ``rule`` names the problem (``"float"``, ``"format"``...)."""

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


def parse_tweet_id(value: object) -> str:
    """Return ``value`` as a canonical tweet id string.

    Parameters
    ----------
    value : str or int
        A tweet id. Strings are stripped; ints are converted. Floats are refused because ids beyond
        2**53 have already lost digits.

    Raises
    ------
    TweetIdError
        With a message that names the problem and the fix.

    Examples
    --------
    >>> parse_tweet_id(" 1260294888811347969 ")
    '1260294888811347969'
    >>> parse_tweet_id(1260294888811347969)
    '1260294888811347969'
    """
    if isinstance(value, bool):
        raise TweetIdError(f"tweet id {value!r} is a bool, expected a string of digits", rule="type")
    if isinstance(value, numbers.Integral):
        text = str(int(value))
    elif isinstance(value, numbers.Real):
        hint = "" if math.isnan(float(value)) else f" ({float(value):.0f} may not be the real id)"
        raise TweetIdError(
            f"tweet id {value!r} is a float: ids above 2**53 lose digits as floats{hint}. "
            "Read ids as strings, e.g. pd.read_csv(..., dtype={'tweet_id': str}).",
            rule="float",
        )
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise TweetIdError(
            f"tweet id {value!r} has type {type(value).__name__}, expected a string of digits",
            rule="type",
        )
    if not text:
        raise TweetIdError("tweet id is empty, expected a string of digits", rule="empty")
    if text.startswith("-") and text[1:].isdigit():
        raise TweetIdError(f"tweet id {text!r} is negative; ids are positive", rule="negative")
    if not (text.isascii() and text.isdigit()):
        raise TweetIdError(
            f"tweet id {text!r} has non-digits; expected only 0-9 (e.g. '1260294888811347969')",
            rule="format",
        )
    if len(text) > MAX_TWEET_ID_DIGITS:
        raise TweetIdError(
            f"tweet id {text!r} has {len(text)} digits, at most {MAX_TWEET_ID_DIGITS} are possible",
            rule="length",
        )
    if text[0] == "0":
        raise TweetIdError(
            f"tweet id {text!r} starts with 0; ids are positive numbers without leading zeros",
            rule="format",
        )
    if int(text) > MAX_TWEET_ID:
        raise TweetIdError(f"tweet id {text!r} exceeds the 64-bit id range", rule="range")
    return text


def parse_tweet_ids(values: Iterable[object] | str | int) -> tuple[str, ...]:
    """Parse many ids: each checked by :func:`parse_tweet_id`, deduplicated keeping first order.

    A single str or int is taken as one id, not as a sequence of characters.

    Examples
    --------
    >>> parse_tweet_ids([20, "21", " 20 "])
    ('20', '21')
    """
    items: Iterable[object] = (values,) if isinstance(values, (str, int)) else values
    return tuple(dict.fromkeys(parse_tweet_id(v) for v in items))


def tweet_created_at(tweet_id: str) -> datetime:
    """Creation time encoded in a snowflake id (ids before 2010-11-04 map to that date or earlier).

    Examples
    --------
    >>> tweet_created_at("1260294888811347969").isoformat()
    '2020-05-12T19:44:51.296000+00:00'
    """
    ms = (int(tweet_id) >> 22) + SNOWFLAKE_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def snowflake_id(created_at: datetime, sequence: int = 0) -> str:
    """The snowflake id of a tweet created at ``created_at`` (aware), with 22 low bits ``sequence``."""
    if created_at.tzinfo is None:
        raise ValueError("created_at must be timezone-aware")
    ms = round(created_at.timestamp() * 1000) - SNOWFLAKE_EPOCH_MS
    if ms < 0 or not 0 <= sequence < 2**22:
        raise ValueError("snowflake ids start at 2010-11-04 and take a sequence below 2**22")
    return str((ms << 22) | sequence)
