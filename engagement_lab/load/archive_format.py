"""The on-disk format of a fetch archive, shared by its writer (``api.archive``) and reader (``load.archive``).

::

    <archive>/
      responses/<key>.json.gz   one gzip file per response: a JSON header line, then the body's bytes
      manifest.jsonl            an index, one provenance object per line (rebuilt from responses/ if torn)
      quarantine/               unreadable response files moved aside by a resume (their requests are refetched)
      .lock                     held by the one process writing the archive (its pid inside)
      parquet/                  optional: the Parquet dataset ``compact`` writes from responses/ (see load.compaction)

A response file appears only by an atomic rename of a complete temporary file, so a reader never sees half
of one. The body is the response exactly as received (its bytes); provenance has no secrets.

A response file (format 2) is, once unzipped, one line of JSON and then the body::

    {"format":2,"body_bytes":<n>,"provenance":{...}}\n<the n bytes of the body>

so the body is read by slicing, not by unescaping a JSON string (which cost a third of parsing the answer), and
``zcat FILE | tail -n +2`` shows it as the API sent it. Format 1 files, one JSON document
``{"provenance": {...}, "body": "<text>"}``, are still read (an archive may hold both).
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from pathlib import Path
from typing import Any, Final

import msgspec

from ..errors import DataError

__all__ = [
    "LOCK",
    "MANIFEST",
    "QUARANTINE",
    "RESPONSES",
    "SUFFIX",
    "CorruptArchiveFile",
    "encode_envelope",
    "envelope_paths",
    "fsync_dir",
    "fsync_file",
    "read_envelope",
    "read_manifest",
]

MANIFEST: Final = "manifest.jsonl"
RESPONSES: Final = "responses"
SUFFIX: Final = ".json.gz"
FORMAT_VERSION: Final = 2
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


def encode_envelope(provenance: dict[str, Any], body: bytes) -> bytes:
    """One response file's content before gzip (format 2): the header line, then ``body``."""
    header = {"format": FORMAT_VERSION, "body_bytes": len(body), "provenance": provenance}
    return json.dumps(header, separators=(",", ":")).encode() + b"\n" + body


def read_envelope(path: Path) -> dict[str, Any]:
    """One archived response: ``{"provenance": {...}, "body": bytes}``, checked (format 2 or 1).

    Raises
    ------
    CorruptArchiveFile
        Naming the file and what is wrong with it.
    """
    try:
        if path.stat().st_size == 0:
            raise CorruptArchiveFile(path, "the file is empty (0 bytes)")
        data = gzip.decompress(path.read_bytes())  # one call, which lets other threads run while it inflates
    except (OSError, EOFError, zlib.error) as exc:
        raise CorruptArchiveFile(path, f"not a complete gzip file: {exc or type(exc).__name__}") from None
    envelope = _format_2(path, data)
    if envelope is None:
        envelope = _format_1(path, data)
    provenance = envelope.get("provenance")
    if not isinstance(provenance, dict):
        raise CorruptArchiveFile(path, "not an archive envelope with 'provenance' and 'body'")
    for field in ("key", "endpoint", "status", "retrieved_at"):
        if field not in provenance:
            raise CorruptArchiveFile(path, f"its provenance lacks {field!r}")
    if f"{provenance['key']}{SUFFIX}" != path.name:
        raise CorruptArchiveFile(path, f"it holds request {provenance['key']!r}: the file was renamed or copied")
    return envelope


def _format_2(path: Path, data: bytes) -> dict[str, Any] | None:
    """A format-2 file's envelope, or None when ``data`` is not one (format 1 has no raw newline: JSON text
    escapes them, and a file rewritten with indents has no format-2 header line)."""
    newline = data.find(b"\n")
    if newline < 0:
        return None
    try:
        header = msgspec.json.decode(data[:newline])
    except ValueError:
        return None
    if not isinstance(header, dict) or header.get("format") != 2:
        return None
    body = data[newline + 1 :]
    if header.get("body_bytes") != len(body):
        raise CorruptArchiveFile(
            path, f"its body holds {len(body)} bytes where its header says {header.get('body_bytes')}"
        )
    return {"provenance": header.get("provenance"), "body": body}


def _format_1(path: Path, data: bytes) -> dict[str, Any]:
    """A format-1 file's envelope (one JSON document), its body as the UTF-8 bytes of its text."""
    try:
        # msgspec, not json: the body is one long escaped string, which json unescapes at a third of msgspec's
        # speed. It also refuses bytes that are not UTF-8
        envelope = msgspec.json.decode(data)
    except ValueError as exc:
        raise CorruptArchiveFile(path, f"not valid JSON: {exc}") from None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("body"), str):
        raise CorruptArchiveFile(path, "not an archive envelope with 'provenance' and 'body'")
    return {"provenance": envelope.get("provenance"), "body": envelope["body"].encode()}


def envelope_paths(root: Path) -> list[Path]:
    """Every complete response file of an archive, in key order (temporary files are skipped)."""
    return sorted((root / RESPONSES).glob(f"*{SUFFIX}"))


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
