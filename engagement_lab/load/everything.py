"""``load(source)``: every file a user holds, each recognised from its content, into one tidy frame.

A folder of downloads mixes kinds under names that say nothing. Each file goes to its kind's reader
(:mod:`engagement_lab.sources.kinds` decides, from the content alone), every reader's rows become observations,
and the observations of all files collapse by the usual rules (:mod:`.observations`: one number seen twice is
kept once, the latest; lifetime totals are never added). Fetch archives (directories) are read by
:func:`load_archive` and join the same collapse with their recorded fetch times.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, overload

import polars as pl

from ..errors import DataError, EngagementLabError, check_choice
from ..sources.kinds import KINDS
from .archive import load_archive_with_report
from .archive_format import MANIFEST
from .frames import Backend, Frame, check_backend
from .inputs import expand_sources
from .loaders import KEEP_DOC, finish, observe
from .observations import Observation, combine
from .recognise import kind_of
from .report import LoadReport

__all__ = ["load"]

_SUFFIXES = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz", ".csv", ".csv.gz")


def _is_archive(path: Path) -> bool:
    return path.is_dir() and ((path / MANIFEST).is_file() or (path / "responses").is_dir())


def _split_archives(source: object) -> tuple[list[Path], list[object]]:
    """Fetch archive directories apart from everything else (a directory's sub-archives included)."""
    archives: list[Path] = []
    rest: list[object] = []

    def add(value: object) -> None:
        if isinstance(value, (list, tuple)):
            for part in value:
                add(part)
            return
        path = Path(value) if isinstance(value, (str, Path)) and not _looks_like_json(value) else None
        if path is not None and _is_archive(path):
            archives.append(path)
        elif path is not None and path.is_dir():
            archives.extend(sub for sub in sorted(path.iterdir()) if _is_archive(sub))
            if any(p.is_file() and p.name.lower().endswith(_SUFFIXES) for p in path.iterdir()):
                rest.append(value)
            elif not any(_is_archive(sub) for sub in path.iterdir()):
                rest.append(value)  # let the reader say the folder holds nothing it can read
        else:
            rest.append(value)

    add(source)
    return archives, rest


def _looks_like_json(value: object) -> bool:
    return isinstance(value, str) and value.lstrip()[:1] in ("{", "[")


@overload
def load(
    source: Any,
    *,
    backend: Backend = ...,
    keep: str | None = ...,
    on_error: Literal["raise", "skip"] = ...,
    report: Literal[False] = ...,
) -> Frame: ...
@overload
def load(
    source: Any,
    *,
    backend: Backend = ...,
    keep: str | None = ...,
    on_error: Literal["raise", "skip"] = ...,
    report: Literal[True],
) -> tuple[Frame, LoadReport]: ...
def load(
    source: Any,
    *,
    backend: Backend = "pandas",
    keep: str | None = None,
    on_error: Literal["raise", "skip"] = "raise",
    report: bool = False,
) -> Frame | tuple[Frame, LoadReport]:
    """Everything in ``source`` -> one tidy frame, each file read by the loader of its kind.

    Parameters
    ----------
    source : path, list of paths, directory, glob, file object or payload
        Files of any kind the loaders read, recognised from their content, not their names: analytics.twitter.com
        and X Premium CSV exports, twarc2 files (pages or flattened tweets), X API v2 post lookups,
        ``/2/tweets/analytics`` and ``/2/media/analytics`` answers, Engagement API responses (``.gz`` accepted);
        and fetch archive folders (a folder's sub-folders that are archives are read too).
    backend : {"pandas", "polars"}
    keep
        When two files hold different values of one lifetime total and neither is known to be the later
        observation. KEEP
    on_error : {"raise", "skip"}
        A file that is of no kind, or that its reader refuses, stops the load (``"raise"``, the default, naming
        the file and why); with ``"skip"`` it is left out, listed in ``LoadReport.refused`` with why, and a
        warning says how many were.
    report : bool
        Also return the :class:`LoadReport`; ``LoadReport.kinds`` lists every file with its kind and rows.

    Examples
    --------
    >>> frame = load({"data": [{"id": "1346889436626259968", "impressions": 120, "likes": 4}]})
    >>> frame[["tweet_id", "engagement_type", "value"]].values.tolist()
    [['1346889436626259968', 'impressions', 120], ['1346889436626259968', 'favorites', 4]]
    """
    check_backend(backend)
    check_choice("on_error", on_error, ("raise", "skip"), DataError)
    archives, rest = _split_archives(source)
    observations: list[Observation] = []
    kinds: list[str] = []
    refused: list[str] = []

    def refuse(where: str, why: str) -> None:
        if on_error == "raise":
            raise DataError(f"{why} (load(..., on_error='skip') leaves such files out and lists them)")
        refused.append(f"{where}: {why}")

    order = 0
    for path in archives:
        try:
            frame, archive_report = load_archive_with_report(path, backend="polars")
        except EngagementLabError as exc:
            refuse(str(path), str(exc))
            continue
        assert isinstance(frame, pl.DataFrame)
        table = frame.to_arrow()
        observations.append(Observation(table, archive_report, str(path), order))
        kinds.append(f"{path}: a fetch archive, {table.num_rows:,} rows")
        order += 1
    items = expand_sources(rest, suffixes=_SUFFIXES) if rest else []
    for item in items:
        where = item.name or "the payload"
        try:
            kind = kind_of(item)
            found = observe(kind, replace(item, order=order))
        except EngagementLabError as exc:
            refuse(where, str(exc))
            continue
        observations.extend(found)
        kinds.append(f"{where}: {KINDS[kind]}, {sum(o.table.num_rows for o in found):,} rows")
        order += 1
    if refused:
        warnings.warn(
            f"load() left out {len(refused)} file(s) it could not read; LoadReport.refused says why: {refused[0]}",
            UserWarning,
            stacklevel=2,
        )
    if not observations:
        raise DataError("no file could be read: " + "; ".join(refused) if refused else "no input given")
    table, merged = combine(observations, keep=keep)
    merged = replace(merged, kinds=tuple(kinds), refused=tuple(refused))
    return finish(table, merged, backend, report)


load.__doc__ = (load.__doc__ or "").replace("KEEP", KEEP_DOC)
