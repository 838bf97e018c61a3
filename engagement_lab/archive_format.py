"""The on-disk format of a fetch archive, shared by its writer (``api.archive``) and reader (``load.archive``).

::

    <archive>/
      responses/<key>.json.gz   one gzip JSON envelope per response: {"provenance": {...}, "body": "<text>"}
      manifest.jsonl            an index, one provenance object per line (rebuilt from responses/ if torn)
      quarantine/               unreadable response files moved aside by a resume (their requests are refetched)
      .lock                     held by the one process writing the archive (its pid inside)
      parquet/                  optional: the Parquet dataset ``compact`` writes from responses/ (see load.compaction)

A response file appears only by an atomic rename of a complete temporary file, so a reader never sees half
of one. The body is the response text exactly as received; provenance has no secrets.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import msgspec

from .errors import DataError

__all__ = [
    "LOCK",
    "MANIFEST",
    "QUARANTINE",
    "RESPONSES",
    "SUFFIX",
    "CorruptArchiveFile",
    "fsync_dir",
    "fsync_file",
    "iter_envelopes",
    "read_envelope",
    "read_manifest",
]

MANIFEST: Final = "manifest.jsonl"
RESPONSES: Final = "responses"
SUFFIX: Final = ".json.gz"
FORMAT_VERSION: Final = 1
QUARANTINE: Final = "quarantine"
LOCK: Final = ".lock"


class CorruptArchiveFile(DataError):
    """An archive file that cannot be read (truncated, empty, not gzip, bad JSON, renamed); names the file."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"archive file {str(path)!r} is unreadable ({reason}); a fetch into this archive moves it to "
            f"{QUARANTINE}/ and fetches that request again, or delete it yourself"
        )
        self.path, self.reason = path, reason


def fsync_file(path: Path) -> None:
    """Flush a written file's bytes to the disk (before a rename or a commit makes it count)."""
    with open(path, "rb+") as written:
        os.fsync(written.fileno())


def fsync_dir(path: Path) -> None:
    """Make a rename into ``path`` durable (a file's own fsync does not cover its directory entry)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_envelope(path: Path) -> dict[str, Any]:
    """One archived response: ``{"provenance": {...}, "body": str}``, checked.

    Raises
    ------
    CorruptArchiveFile
        Naming the file and what is wrong with it.
    """
    try:
        if path.stat().st_size == 0:
            raise CorruptArchiveFile(path, "the file is empty (0 bytes)")
        with gzip.open(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as exc:
        raise CorruptArchiveFile(path, f"not a complete gzip file: {exc or type(exc).__name__}") from None
    try:
        # msgspec, not json: the body is one long escaped string, which json unescapes at a third of msgspec's
        # speed (16 ms vs 6 ms for a 3.3 MB body). It also refuses bytes that are not UTF-8
        envelope = msgspec.json.decode(data)
    except ValueError as exc:
        raise CorruptArchiveFile(path, f"not valid JSON: {exc}") from None
    provenance = envelope.get("provenance") if isinstance(envelope, dict) else None
    if not isinstance(provenance, dict) or not isinstance(envelope.get("body"), str):
        raise CorruptArchiveFile(path, "not an archive envelope with 'provenance' and 'body'")
    for field in ("key", "endpoint", "status", "retrieved_at"):
        if field not in provenance:
            raise CorruptArchiveFile(path, f"its provenance lacks {field!r}")
    if f"{provenance['key']}{SUFFIX}" != path.name:
        raise CorruptArchiveFile(path, f"it holds request {provenance['key']!r}: the file was renamed or copied")
    checked: dict[str, Any] = envelope
    return checked


def iter_envelopes(root: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every complete response file of an archive, in key order (temporary files are skipped).

    A file that cannot be read raises :class:`CorruptArchiveFile` naming it.
    """
    for path in sorted((root / RESPONSES).glob(f"*{SUFFIX}")):
        yield path, read_envelope(path)


def read_manifest(root: Path) -> list[dict[str, Any]]:
    """The manifest's entries; a torn last line (a crash mid-append) is ignored."""
    path = root / MANIFEST
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries
