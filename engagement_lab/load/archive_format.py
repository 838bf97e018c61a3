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

import contextlib
import errno
import json
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import msgspec

from ..errors import DataError, InflationLimitError, StorageError
from .inflate import GZIP, MAX_RATIO, Inflater, file_cap

__all__ = [
    "LOCK",
    "MANIFEST",
    "QUARANTINE",
    "RESPONSES",
    "SUFFIX",
    "ArchiveFileBomb",
    "CorruptArchiveFile",
    "encode_envelope",
    "envelope_paths",
    "fsync_dir",
    "fsync_file",
    "read_envelope",
    "read_manifest",
    "writing",
]

MANIFEST: Final = "manifest.jsonl"
RESPONSES: Final = "responses"
SUFFIX: Final = ".json.gz"
FORMAT_VERSION: Final = 2
QUARANTINE: Final = "quarantine"
LOCK: Final = ".lock"
_CHUNK: Final = 2**20
"""Compressed bytes read (and inflated) at a time."""
_HEADER_MAX: Final = 2**20
_PEEK: Final = 2**16
"""Inflated bytes first looked at for the header line (a provenance line is a few KB)."""
"""A format-2 header line is looked for in the first MiB (a provenance line is a few KB)."""


class CorruptArchiveFile(DataError):
    """An archive file that cannot be read (truncated, empty, not gzip, bad JSON, renamed); names the file."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"archive file {str(path)!r} is unreadable ({reason}); a fetch into this archive moves it to "
            f"{QUARANTINE}/ and fetches that request again, or delete it yourself"
        )
        self.path, self.reason = path, reason


_FIXES: Final = {
    errno.ENOSPC: "the disk is full: free some space, then {rerun} (everything committed is kept)",
    errno.EDQUOT: "the disk quota is used up: free some space, then {rerun} (everything committed is kept)",
    errno.EROFS: "the file system is read-only: choose a writable folder ({flag} elsewhere)",
    errno.EACCES: "permission denied: choose a folder you may write ({flag} elsewhere), or fix its permissions",
    errno.EPERM: "permission denied: choose a folder you may write ({flag} elsewhere), or fix its permissions",
}


@contextlib.contextmanager
def writing(path: Path, *, rerun: str, flag: str = "--out") -> Iterator[None]:
    """Within the block, an ``OSError`` (a full disk, a read-only or forbidden folder) becomes a
    :class:`~engagement_lab.errors.StorageError` naming ``path`` and the fix: ``rerun`` says how to resume (e.g.
    "rerun the same command to resume"), ``flag`` which option chooses another place."""
    try:
        yield
    except StorageError:
        raise
    except OSError as exc:
        fix = _FIXES.get(exc.errno or 0, "check the folder and the disk, then {rerun}")
        raise StorageError(exc, exc.filename or path, fix.format(rerun=rerun, flag=flag)) from None


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
        size = path.stat().st_size
        if size == 0:
            raise CorruptArchiveFile(path, "the file is empty (0 bytes)")
        header, body = _inflate(path, size)
    except (OSError, EOFError, zlib.error) as exc:
        raise CorruptArchiveFile(path, f"not a complete gzip file: {exc or type(exc).__name__}") from None
    envelope = _format_1(path, body) if header is None else _format_2(path, header, body)
    provenance = envelope.get("provenance")
    if not isinstance(provenance, dict):
        raise CorruptArchiveFile(path, "not an archive envelope with 'provenance' and 'body'")
    for field in ("key", "endpoint", "status", "retrieved_at"):
        if field not in provenance:
            raise CorruptArchiveFile(path, f"its provenance lacks {field!r}")
    if f"{provenance['key']}{SUFFIX}" != path.name:
        raise CorruptArchiveFile(path, f"it holds request {provenance['key']!r}: the file was renamed or copied")
    return envelope


class ArchiveFileBomb(CorruptArchiveFile, InflationLimitError):
    """An archive file that inflates past what it declares or past a sane ratio to its size: refused while
    inflating (memory stays bounded), and quarantined by a resume like any unreadable file."""

    def __init__(self, path: Path, reason: str, limit: int) -> None:
        super().__init__(path, reason)
        self.limit = limit


def _declared(line: bytes) -> int | None:
    """The body size a format-2 header line declares, or None when ``line`` is not such a header."""
    try:
        header = msgspec.json.decode(line)
    except ValueError:
        return None
    if isinstance(header, dict) and header.get("format") == 2:
        size = header.get("body_bytes")
        return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else -1
    return None


def _inflate(path: Path, size: int) -> tuple[bytes | None, bytes]:
    """A response file inflated in a stream, within its cap: ``(header line, body)`` for a format-2 file (the
    header's declared body size is then the cap), else ``(None, everything)``. zlib runs without the GIL, so the
    loader's helper thread inflates the next file while this one is parsed."""
    cap = file_cap(size)
    inflater = Inflater(cap, what=f"archive file {str(path)!r}", why=f"at most {MAX_RATIO}x its {size:,} bytes")
    pieces: list[bytes] = []
    head: bytes | None = None
    with open(path, "rb") as handle:
        chunk = handle.read(_CHUNK)
        line = _header_line(chunk)
        declared = _declared(line) if line is not None else None
        if line is not None and declared is not None:  # format 2: the header's size caps the body
            if declared > cap - len(line) - 1:
                raise ArchiveFileBomb(
                    path, f"its header declares a {declared:,}-byte body, more than {MAX_RATIO}x its size", cap
                )
            if declared >= 0:  # inflating past the declared body is refused at once, not at the ratio cap
                inflater.limit, inflater.why = len(line) + 1 + declared, "the size its header declares"
            head, chunk = inflater.split(chunk, len(line) + 1)  # the body apart: one piece, never copied
            head = head[:-1]
        while True:
            try:
                pieces += inflater.feed(chunk)
            except InflationLimitError:
                reason = f"it inflates past {inflater.limit:,} bytes ({inflater.why}): a decompression bomb or damage"
                raise ArchiveFileBomb(path, reason, inflater.limit) from None
            if not (chunk := handle.read(_CHUNK)):
                break
    inflater.finish()
    return head, b"".join(pieces)  # one piece (a file of one gzip member) is returned as is


def _header_line(chunk: bytes) -> bytes | None:
    """The first line ``chunk`` inflates to, when it ends within :data:`_HEADER_MAX` bytes (zlib's ``max_length``
    bounds what a peek inflates, whatever the input)."""
    for most in (_PEEK, _HEADER_MAX):
        peek = zlib.decompressobj(GZIP).decompress(chunk, most)
        newline = peek.find(b"\n")
        if newline >= 0:
            return peek[:newline]
        if len(peek) < most:
            return None
    return None


def _format_2(path: Path, head: bytes, body: bytes) -> dict[str, Any]:
    """A format-2 file's envelope from its header line (one :func:`_declared` found) and body. Format 1 files have
    no raw newline (JSON text escapes them), and one rewritten with indents has no format-2 header line."""
    header = msgspec.json.decode(head)
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
