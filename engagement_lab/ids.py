"""Tweet ids: strings end to end.

Ids above 2**53 lose precision as floats, so a float id is refused (its digits are already wrong) and an
int is accepted and turned into a string. Snowflake ids also carry their creation time.
"""

from __future__ import annotations

import math
import numbers
import re
import warnings
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import DataError

__all__ = [
    "TweetIdError",
    "float_neighbours",
    "parse_tweet_id",
    "parse_tweet_ids",
    "rounded_ids",
    "rounded_ids_error",
    "snowflake_id",
    "spreadsheet_rounding",
    "tweet_created_at",
    "warn_unmatched",
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


FLOAT_ROUNDING: Final = 2**11
"""How far a float can move a tweet id: a double keeps 53 bits, so an id below 2**64 is rounded to a multiple of
at most 2**11 and lands within 2**11 of the real one (``1243191980982747137`` -> ``1243191980982747136``)."""


def _as_int(ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The ids that are plain digits within the 64-bit range (media keys such as ``7_1790...`` are not), as int64,
    and their positions in ``ids`` (Arrow parses them: a Python ``int()`` per id is ten times slower)."""
    text = pa.array(ids, pa.string())
    ok = pc.fill_null(pc.match_substring_regex(text, r"^[0-9]{1,19}$"), False)
    ok = pc.and_(ok, pc.or_(pc.less(pc.utf8_length(text), 19), pc.less_equal(text, str(MAX_TWEET_ID))))
    position = np.flatnonzero(ok.to_numpy(zero_copy_only=False))
    values = pc.cast(text.filter(ok), pa.int64()).to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.int64), position


def float_neighbours(ids: list[str], others: list[str]) -> list[tuple[str, str]]:
    """Pairs ``(id, other)`` where ``other`` is the nearest of ``others`` within :data:`FLOAT_ROUNDING` of ``id``.

    Two different tweet ids that close are what a float or a spreadsheet leaves of one id (only ids of 2**53 and
    above: a double holds smaller ones exactly). Sorted once and
    searched (``searchsorted``), so a million ids against a million take a second, not a double loop.

    Examples
    --------
    >>> float_neighbours(["1243191980982747137", "20"], ["1243191980982747136"])
    [('1243191980982747137', '1243191980982747136')]
    """
    values, position = _as_int(ids)
    exact = values < 2**53  # a double holds these exactly: a float cannot have moved them
    values, position = values[~exact], position[~exact]
    near, where = _as_int(others)
    if not len(values) or not len(near):
        return []
    order = np.argsort(near, kind="stable")
    near, where = near[order], where[order]
    right = np.clip(np.searchsorted(near, values), 0, len(near) - 1)
    left = np.clip(right - 1, 0, len(near) - 1)
    # exact int64 differences (both ids are below 2**63, so a difference never overflows)
    gap_left = np.abs(values - near[left])
    gap_right = np.abs(values - near[right])
    best = np.where(gap_left <= gap_right, left, right)
    gap = np.minimum(gap_left, gap_right)
    hit = np.flatnonzero((gap <= FLOAT_ROUNDING) & (gap > 0))
    return [(ids[int(position[k])], others[int(where[best[k]])]) for k in hit]


def warn_unmatched(
    tweet_ids: list[str], metadata_ids: list[str], *, what: str = "metadata", stacklevel: int = 2
) -> None:
    """Warn when tweets find no metadata row (they get no campaign, variant or group), with the count and examples,
    and name the pairs that are one id mangled by a float (an id that went through a float or a spreadsheet).

    Parameters
    ----------
    tweet_ids : list of str
        The tweets of the result (distinct).
    metadata_ids : list of str
        The ``tweet_id`` values of the metadata (distinct).
    what : str
        How the warning names the metadata.
    stacklevel : int
        As for :func:`warnings.warn`, counted from the caller of this function (2: the caller's caller).
    """
    known = set(metadata_ids)
    missing = [t for t in tweet_ids if t not in known]
    if not missing:
        return
    present = set(tweet_ids)
    spare = [m for m in metadata_ids if m not in present]
    pairs = float_neighbours(missing, spare)
    message = (
        f"{len(missing)} of {len(tweet_ids)} tweets have no row in the {what} (e.g. {sorted(missing)[:5]}), so "
        "their metadata columns are null and they fall out of any comparison by those columns."
    )
    if pairs:
        shown = ", ".join(f"tweet {a} ~ {what} {b} (off by {abs(int(a) - int(b))})" for a, b in pairs[:5])
        message += (
            f" {len(pairs)} of them are probably float-mangled (an id that went through a float/spreadsheet): "
            f"{shown}. Ids above 2**53 lose their last digits as floats; re-read the file with the id column as "
            "text (pd.read_csv(path, dtype={'tweet_id': str})) or re-export it from its source."
        )
    else:
        message += f" Add them to the {what}, or filter them out first if that is intended."
    warnings.warn(message, UserWarning, stacklevel=stacklevel + 1)
