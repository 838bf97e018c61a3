"""What an export's file name says about when it was made: the period it covers, and which download copy it is.

Both naming schemes are read: analytics.twitter.com's ``tweet_activity_metrics_ropensci_20210501_20210531_en.csv``
(compact dates, an optional language suffix) and X Premium's ``account_analytics_content_2026-07-20_2026-09-01.csv``
(ISO dates). A browser that finds the name taken saves the next download as ``name (1).csv``, then ``name (2).csv``
(Firefox writes ``name(1).csv``); that suffix is read as "a later download of ``name.csv``", and the period is read
through it. Only names are read here: nothing is opened, so this module imports nothing from the package.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import PurePath

__all__ = ["download_copy", "export_period_end"]

# " (1)" (Chrome, Edge) or "(1)" (Firefox) right before the extension: up to two short ones, so that
# ``name (1).csv.gz`` is copy 1 of ``name.csv.gz`` and a dot inside the name (``report.v2 (1).csv``) is kept.
_EXT = re.compile(r"(?:\.[A-Za-z][A-Za-z0-9]{0,4}){0,2}$")
_COPY = re.compile(r"^(?P<stem>.+?) ?\((?P<n>[1-9]\d*)\)$")
_COMPACT = r"\d{8}"
_ISO = r"\d{4}-\d{2}-\d{2}"
# The period closes the stem: _START_END, then (compact scheme only) a language such as _en, _ja or _pt-br.
_PERIOD = re.compile(
    rf"_(?:(?P<c0>{_COMPACT})_(?P<c1>{_COMPACT})(?:_[a-z]{{2}}(?:[-_][a-z]{{2,4}})?)?|(?P<i0>{_ISO})_(?P<i1>{_ISO}))$",
    re.IGNORECASE,
)


def _split(name: str) -> tuple[str, str, str]:
    """A path -> its folder (with the separator), the file name's stem and its extension(s)."""
    base = PurePath(name).name
    folder = name[: len(name) - len(base)]
    ext = _EXT.search(base)
    cut = ext.start() if ext else len(base)
    return folder, base[:cut], base[cut:]


def download_copy(name: str | None) -> tuple[str | None, int]:
    """Which download of a file a name is: the original name and the copy number (0 for the original).

    A browser saves a second download of ``export.csv`` as ``export (1).csv``, a third as ``export (2).csv``:
    copy ``n`` was saved after every copy below ``n`` of the same name in the same folder (the name was taken
    when it was saved), so it holds numbers at least as recent.

    Parameters
    ----------
    name : str or None
        A file name or path (``None`` for an in-memory input: not a copy of anything).

    Returns
    -------
    original, copy
        The name without the copy suffix (folder kept) and the copy number.

    Examples
    --------
    >>> download_copy("downloads/account_analytics_content_2026-07-20_2026-09-01 (1).csv")
    ('downloads/account_analytics_content_2026-07-20_2026-09-01.csv', 1)
    >>> download_copy("tweet_activity_metrics_ropensci_20210501_20210531_en(2).csv.gz")
    ('tweet_activity_metrics_ropensci_20210501_20210531_en.csv.gz', 2)
    >>> download_copy("export.csv")
    ('export.csv', 0)
    """
    if name is None:
        return None, 0
    folder, stem, ext = _split(name)
    match = _COPY.match(stem)
    if not match:
        return name, 0
    return folder + match.group("stem") + ext, int(match.group("n"))


def _date(text: str) -> datetime | None:
    try:
        return datetime.strptime(text.replace("-", ""), "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        return None


def export_period_end(name: str | None) -> datetime | None:
    """The end of an export's period from its file name: midnight (UTC) after the last day it covers.

    Reads ``..._YYYYMMDD_YYYYMMDD.csv`` with an optional language suffix (``_en``) and
    ``..._YYYY-MM-DD_YYYY-MM-DD.csv``, through a browser's download-copy suffix (``name (1).csv``). A name with no
    period, an impossible date or a period that ends before it starts says nothing (``None``): the caller then
    knows no time for the file rather than a wrong one.

    Examples
    --------
    >>> export_period_end("tweet_activity_metrics_ropensci_20210501_20210531_en.csv").isoformat()
    '2021-06-01T00:00:00+00:00'
    >>> export_period_end("account_analytics_content_2026-07-20_2026-09-01 (1).csv").isoformat()
    '2026-09-02T00:00:00+00:00'
    >>> export_period_end("account_overview_analytics (3).csv") is None
    True
    >>> export_period_end("tweet_activity_metrics_acme_20210531_20210501_en.csv") is None
    True
    """
    original, _ = download_copy(name)
    if original is None:
        return None
    _, stem, _ = _split(original)
    match = _PERIOD.search(stem)
    if not match:
        return None
    first, last = (
        (match.group("c0"), match.group("c1")) if match.group("c0") else (match.group("i0"), match.group("i1"))
    )
    start, end = _date(first), _date(last)
    if start is None or end is None or end < start:
        return None
    return end + timedelta(days=1)
