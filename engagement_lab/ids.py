"""Tweet ids: strings end to end.

Ids above 2**53 lose precision as floats, so a float id is refused (its digits are already wrong) and an
int is accepted and turned into a string. Snowflake ids also carry their creation time.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

from .errors import DataError

__all__ = [
    "TweetIdError",
    "parse_tweet_id",
    "parse_tweet_ids",
    "rounded_ids",
    "rounded_ids_error",
    "snowflake_id",
    "spreadsheet_rounding",
    "tweet_created_at",
]

# Facts of X's ids (engagement-api spec §3, §10.4): every source shares them.
MAX_TWEET_ID_DIGITS: Final = 19
MAX_TWEET_ID: Final = 2**63 - 1
SNOWFLAKE_EPOCH_MS: Final = 1288834974657
"""Tweet ids since 2010-11-04 are snowflakes: ``(id >> 22) + epoch`` is the creation time in ms."""
SNOWFLAKE_MIN_ID: Final = 30_000_000_000
"""Below this, an id is one of the sequential ids from before snowflakes (they stayed under 3e10) and carries no
creation time; a snowflake id this small would date from the epoch's first 7 seconds."""


class TweetIdError(DataError):
    """A value is not a valid tweet id. ``rule`` names the problem (``"float"``, ``"format"``...)."""

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


_FLOAT_TEXT = re.compile(r"^\d+(\.\d*)?([eE][+-]?\d+)?$")


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
        looks_numeric = _FLOAT_TEXT.match(text) is not None
        hint = (
            ": it was written as a float or in scientific notation (a spreadsheet or float conversion), which "
            "loses the last digits. Re-export the ids as text"
            if looks_numeric
            else ""
        )
        raise TweetIdError(
            f"tweet id {text!r} has non-digits; expected only 0-9 (e.g. '1260294888811347969'){hint}",
            rule="float" if looks_numeric else "format",
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


SPREADSHEET_DIGITS = 15
"""Spreadsheets keep 15 significant digits: longer ids are saved rounded, with zeros after the 15th digit."""
_ROUNDED_FIX = (
    "A spreadsheet rounded them to 15 significant digits and filled the rest with zeros, so they match no real "
    "tweet. Re-export the file from its source, or open it with the id column imported as Text."
)


def rounded_ids(ids: Iterable[str]) -> list[str]:
    """The ids that look rounded by a spreadsheet, when the pattern is unmistakable.

    An id longer than 15 digits whose digits after the 15th are all zero is what a spreadsheet writes for a
    rounded id; a real 19-digit id ends in 0000 one time in 10,000. So the ids are flagged only when at least
    two long ids are present and every one of them has that shape (one real id by chance: 1e-4; two: 1e-8).

    Examples
    --------
    >>> rounded_ids(["1401214633076310000", "1401214633076320000"])
    ['1401214633076310000', '1401214633076320000']
    >>> rounded_ids(["1401214633076310000", "1401214633076318721"])
    []
    """
    long_ids = [i for i in ids if len(i) > SPREADSHEET_DIGITS]
    shaped = [i for i in long_ids if set(i[SPREADSHEET_DIGITS:]) == {"0"}]
    return shaped if len(long_ids) >= 2 and len(shaped) == len(long_ids) else []


def spreadsheet_rounding(tweet_id: str) -> set[str]:
    """What a spreadsheet may have saved for ``tweet_id``: the id rounded to 15 significant digits.

    Both the exact decimal rounding and the rounding of the nearest double are returned (they differ only when
    the id lies within a double's spacing of a rounding boundary).

    Examples
    --------
    >>> sorted(spreadsheet_rounding("1401214633076314113"))
    ['1401214633076310000']
    """
    if len(tweet_id) <= SPREADSHEET_DIGITS:
        return {tweet_id}
    scale = 10 ** (len(tweet_id) - SPREADSHEET_DIGITS)
    exact = str((int(tweet_id) + scale // 2) // scale * scale)
    as_double = str(int(Decimal(f"{float(tweet_id):.{SPREADSHEET_DIGITS - 1}e}")))
    return {exact, as_double}


def rounded_ids_error(what: str, examples: list[str]) -> DataError:
    """The error for ids a spreadsheet rounded, naming where they were found."""
    return DataError(f"{what}: tweet ids such as {examples[:3]} end in zeros after the 15th digit. {_ROUNDED_FIX}")
