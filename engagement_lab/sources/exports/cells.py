"""Count cells of analytics exports: the number the file says, or a refusal that names the cell.

X writes counts as plain digits (``"29"``), float-formatted digits (``"3423.0"``) and, in X Premium exports,
with thousands separators (``"1,234"``). Anything else -- a decimal comma, a sign, an exponent, hex, a
fraction -- is not a count X wrote: guessing what it meant is how a wrong number gets in silently, so it is
refused with the reason and the fix.
"""

from __future__ import annotations

import re

from ...errors import DataError

__all__ = ["FIX", "parse_count"]

FIX = "Re-export the file from X, or save the CSV with '.' decimals, no thousands dots and no formulas"
"""The fix shown under every refused count."""

_PLAIN = re.compile(r"[0-9]+(?:\.0+)?", re.ASCII)
_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.0+)?", re.ASCII)
# Both readings of "1.000" (one, or one thousand with a European thousands dot) are plausible in a file a
# European spreadsheet re-saved; X itself writes float counts with one zero ("3423.0").
_DOT_GROUPS = re.compile(r"[0-9]{1,3}(?:\.[0-9]{3})+", re.ASCII)


def parse_count(text: str, where: str, *, comma_groups: bool = True) -> int | None:
    """The whole number in a count cell, or None for an empty cell or ``-`` (X's "not promoted").

    Parameters
    ----------
    text : str
        The cell as read from the CSV.
    where : str
        ``"<file>, line <n>, column '<name>'"``, put at the front of the error message.
    comma_groups : bool
        Whether ``,`` may separate thousands (``"1,234"``). False for ``;``- or tab-separated files, which
        European spreadsheets write with decimal commas, where ``"1,234"`` means 1.234. A thousands dot
        (``"1.000"``: one, or one thousand?) is refused in every file.

    Raises
    ------
    DataError
        When the cell is not digits, digits with ``,`` thousands groups or digits with a ``.0`` decimal part;
        the message names the cell, says what it looks like and how to fix the file.

    Examples
    --------
    >>> parse_count("1,234", "x"), parse_count("3423.0", "x"), parse_count("-", "x")
    (1234, 3423, None)
    """
    value = text.strip()
    if value in ("", "-"):
        return None
    if _PLAIN.fullmatch(value) and not _DOT_GROUPS.fullmatch(value):  # "1.000": one, or a thousand?
        return _in_range(value.split(".")[0], text, where)
    if comma_groups and _GROUPED.fullmatch(value):
        return _in_range(value.split(".")[0].replace(",", ""), text, where)
    examples = "'3423', '1,234' or '3423.0'" if comma_groups else "'3423' or '3423.0'"
    raise DataError(
        f"{where}: {text!r} is not a count{_looks_like(value, comma_groups)}; expected a whole number such as "
        f"{examples}. {FIX}."
    )


_MAX_COUNT = 2**63 - 1


def _in_range(digits: str, text: str, where: str) -> int:
    """The count the digits spell, refused past int64 (the digits are checked first: ``int()`` of thousands of
    digits is slow, and past 4,300 refused with a ValueError)."""
    digits = digits.lstrip("0") or "0"
    if len(digits) > len(str(_MAX_COUNT)) or int(digits) > _MAX_COUNT:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise DataError(
            f"{where}: {shown!r} is larger than any count can be (at most 2**63 - 1); the cell is damaged. {FIX}."
        )
    return int(digits)


def _looks_like(value: str, comma_groups: bool) -> str:
    """Why a cell is not a count, as a clause (``" (it is a spreadsheet formula)"``), or ``""``."""
    reasons = [
        (r"=.*", "it is a spreadsheet formula, not its value"),
        (r"[+-]\s*[0-9.,]+", "it has a sign"),
        (r"0[xX][0-9a-fA-F]+", "it is hexadecimal"),
        (r"[0-9.,]*[0-9][eE][+-]?[0-9]+", "it is in scientific notation, which loses digits"),
        (r"[0-9]{1,3}(?:\.[0-9]{3})+(?:,[0-9]+)?", "it has a European thousands '.', so its value is unclear"),
        (
            r"[0-9]+,[0-9]+",
            "in a ';'- or tab-separated file ',' is a decimal comma"
            if not comma_groups
            else "a decimal comma? ',' groups 3 digits",
        ),
        (r"[0-9]*\.[0-9]+", "it has a fraction, but counts are whole numbers"),
        (r"[0-9]+(?:[ \u00a0\u202f'][0-9]{3})+", "it has spaces or apostrophes between digit groups"),
    ]
    for pattern, reason in reasons:
        if re.fullmatch(pattern, value):
            return f" ({reason})"
    return ""
