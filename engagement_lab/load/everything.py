"""``load(source)``: every file a user holds, each recognised from its content, into one tidy frame.

A folder of downloads mixes kinds under names that say nothing. Each file goes to its kind's reader
(:mod:`engagement_lab.sources.kinds` decides, from the content alone), every reader's rows become observations,
and the observations of all files collapse by the usual rules (:mod:`.observations`: one number seen twice is
kept once, the latest; lifetime totals are never added). Fetch archives (directories) are read by
:func:`load_archive` and join the same collapse with their recorded fetch times.
"""

from __future__ import annotations

import glob
import sys
import warnings
from dataclasses import dataclass, field, replace
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
from .nesting import check_nesting
from .observations import Observation, combine
from .recognise import kind_of
from .report import LoadReport

__all__ = ["SUFFIXES", "is_archive", "load"]

SUFFIXES = tuple(f"{kind}{gz}" for kind in (".json", ".jsonl", ".ndjson", ".csv", ".tsv", ".txt") for gz in ("", ".gz"))
"""Files of a folder that are read (each by its content, whatever the name says); others are listed, not read."""
_GLOB_CHARS = frozenset("*?[")


def is_archive(path: Path) -> bool:
    """Whether ``path`` is a fetch archive folder."""
    return path.is_dir() and ((path / MANIFEST).is_file() or (path / "responses").is_dir())


@dataclass
class _Inputs:
    """What ``source`` names: fetch archives, files and payloads to read, and files of a folder left alone."""

    archives: list[Path] = field(default_factory=list)
    files: list[object] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def add(self, value: object) -> None:
        if isinstance(value, (list, tuple)):
            for part in value:
                self.add(part)
            return
        if not isinstance(value, (str, Path)) or _looks_like_json(value):
            self.files.append(value)  # a payload or an open file
            return
        path = Path(value)
        if is_archive(path):
            self.archives.append(path)
        elif path.is_dir():
            before = len(self.archives) + len(self.files)
            self._folder(path)
            if len(self.archives) + len(self.files) == before:
                raise DataError(
                    f"folder {str(value)!r} holds no file load() reads (names ending in "
                    f"{', '.join(SUFFIXES[::2])}, optionally .gz) and no fetch archive"
                )
        elif path.is_file():
            self.files.append(path)  # named: read by its content, whatever its name
        elif _GLOB_CHARS & set(str(value)):
            matched = sorted(Path(p) for p in glob.glob(str(value), recursive=True))
            if not matched:
                raise DataError(f"the pattern {str(value)!r} matched no files or folders")
            for match in matched:  # as a folder's entries: files of other kinds are listed, not read
                if match.is_file():
                    self._entry(match)
                else:
                    self.add(match)
        else:
            raise DataError(f"{str(value)!r} is not an existing file, folder or glob pattern")

    def _folder(self, path: Path) -> None:
        for entry in sorted(path.iterdir()):
            if is_archive(entry):
                self.archives.append(entry)
            elif entry.is_file():
                self._entry(entry)

    def _entry(self, path: Path) -> None:
        if path.name.lower().endswith(SUFFIXES):
            self.files.append(path)
        elif not path.name.startswith("."):
            self.ignored.append(str(path))


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
    # warnings point at the user's line, whether load() was called directly or as engagement_lab.load(...)
    caller = 3 if sys._getframe(1).f_code.co_name == "__call__" else 2
    check_nesting(source, "the input")  # before the walk below recurses into a hostile list or payload
    inputs = _Inputs()
    inputs.add(source)
    observations: list[Observation] = []
    kinds: list[str] = []
    refused: list[str] = []

    def refuse(where: str, exc: Exception) -> None:
        """Stop naming the file (the error keeps its class and details), or list it and go on."""
        message = str(exc) if where in str(exc) else f"{where}: {exc}"
        if on_error == "raise":
            exc.args = (f"{message} (load(..., on_error='skip') leaves such files out and lists them)", *exc.args[1:])
            raise exc
        refused.append(message)

    order = 0
    for path in inputs.archives:
        try:
            frame, archive_report = load_archive_with_report(path, backend="polars")
        except EngagementLabError as exc:
            refuse(str(path), exc)
            continue
        assert isinstance(frame, pl.DataFrame)
        table = frame.to_arrow()
        observations.append(Observation(table, archive_report, str(path), order))
        kinds.append(f"{path}: a fetch archive, {table.num_rows:,} rows")
        order += 1
    for item in expand_sources(inputs.files, suffixes=SUFFIXES) if inputs.files else []:
        where = item.name or "the payload"
        try:
            kind = kind_of(item)
            found = observe(kind, replace(item, order=order))
        except EngagementLabError as exc:
            refuse(where, exc)
            continue
        except RecursionError:  # JSON nested deeper than any answer of these APIs
            refuse(where, DataError("its JSON is nested too deeply to be an answer of these APIs"))
            continue
        observations.extend(found)
        kinds.append(f"{where}: {KINDS[kind]}, {sum(o.table.num_rows for o in found):,} rows")
        order += 1
    if inputs.ignored:
        shown = ", ".join(Path(p).name for p in inputs.ignored[:3]) + (" ..." if len(inputs.ignored) > 3 else "")
        warnings.warn(
            f"load() left alone {len(inputs.ignored)} file(s) of the folders and patterns given, whose names end in "
            f"no kind it reads ({shown}; LoadReport.ignored lists them); name a file to have it read by its content",
            UserWarning,
            stacklevel=caller,
        )
    if refused:
        warnings.warn(
            f"load() left out {len(refused)} file(s) it could not read; LoadReport.refused says why: {refused[0]}",
            UserWarning,
            stacklevel=caller,
        )
    if not observations:
        raise DataError("no file could be read: " + "; ".join(refused) if refused else "no input given")
    table, merged = combine(observations, keep=keep)
    merged = replace(merged, kinds=tuple(kinds), refused=tuple(refused), ignored=tuple(inputs.ignored))
    return finish(table, merged, backend, report)


load.__doc__ = (load.__doc__ or "").replace("KEEP", KEEP_DOC)
