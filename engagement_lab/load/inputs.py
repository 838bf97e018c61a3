"""Many inputs, one list: a path, a list of paths, a directory, a glob, a file object or a parsed payload.

Every loader that reads files takes its ``source`` through :func:`expand_sources`, so each accepts the same
kinds of input and every row can name the file it came from. Files are read in a stable order (the order
given; a directory or glob in sorted name order) and that order is the tie-breaker when two observations of
one number carry no time.
"""

from __future__ import annotations

import glob
import io
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError, ResponseFormatError
from .inflate import MAX_RATIO, file_cap, inflate
from .nesting import check_nesting, too_deep

__all__ = ["Item", "expand_sources", "item_text", "json_documents", "one_document", "only_document"]

_GZIP_MAGIC = b"\x1f\x8b"
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Item:
    """One input: its file name (``None`` for an in-memory payload), its position, and its content."""

    name: str | None
    order: int
    content: Any
    """Decompressed bytes for files, file objects and bytes; the object itself for a parsed payload or JSON text."""


def _plain(raw: bytes, where: str) -> bytes:
    """The bytes as given, or decompressed when they are gzip (files, file objects and in-memory bytes alike)."""
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:  # in a stream, with a cap: a small file made to inflate to gigabytes is refused, not held
        return inflate([raw], file_cap(len(raw)), what=where, why=f"at most {MAX_RATIO}x its {len(raw):,} bytes")
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{where} looks gzip-compressed but cannot be decompressed ({exc})") from None


def _read_path(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    return _plain(raw, repr(str(path)))


def _paths(text: str, suffixes: tuple[str, ...]) -> list[Path]:
    path = Path(text)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and p.name.lower().endswith(suffixes))
        if not found:
            raise DataError(f"directory {text!r} holds no {'/'.join(suffixes)} files")
        return found
    if path.is_file():
        return [path]
    if _GLOB_CHARS & set(text):
        matched = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not matched:
            raise DataError(f"the pattern {text!r} matched no files")
        return matched
    raise DataError(f"{text!r} is not an existing file, directory or glob pattern")


def _looks_like_payload(value: object) -> bool:
    return isinstance(value, str) and value.lstrip()[:1] in ("{", "[")


def expand_sources(source: object, *, suffixes: tuple[str, ...]) -> list[Item]:
    """The inputs named by ``source``, in order.

    Parameters
    ----------
    source : path, str, list, directory, glob, file object, dict or bytes
        A directory contributes its files ending in one of ``suffixes`` (not recursing); a glob its matches.
        A str that starts with ``{`` or ``[`` is JSON text, not a path.
    suffixes : tuple of str
        File endings (lower case) taken from a directory, e.g. ``(".json", ".jsonl", ".gz")``.
    """
    check_nesting(source, "the input")  # a hostile list or payload, refused before anything recurses into it
    items: list[Item] = []

    def add(value: object) -> None:
        if isinstance(value, (list, tuple)):
            for part in value:
                add(part)
        elif isinstance(value, Path) or (isinstance(value, str) and not _looks_like_payload(value)):
            for path in _paths(str(value), suffixes):
                items.append(Item(str(path), len(items), _read_path(path)))
        elif isinstance(value, io.IOBase) or hasattr(value, "read"):
            data = value.read()
            name = getattr(value, "name", None)
            shown = str(name) if isinstance(name, (str, Path)) else None
            raw = data.encode() if isinstance(data, str) else bytes(data)
            items.append(Item(shown, len(items), _plain(raw, repr(shown) if shown else "the file object")))
        elif isinstance(value, (bytes, bytearray, memoryview)):
            items.append(Item(None, len(items), _plain(bytes(value), "the payload")))
        else:
            items.append(Item(None, len(items), value))

    add(source)
    if not items:
        raise DataError("no input given: pass a path, a list of paths, a directory, a glob or a payload")
    return items


def item_text(item: Item) -> str:
    """An item's content as text (UTF-8, a byte-order mark removed), naming the file when it is not text."""
    content = item.content
    if isinstance(content, str):
        return content.removeprefix("\ufeff")
    try:
        return bytes(content).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        where = item.name or "the input"
        raise DataError(
            f"{where} is not UTF-8 text (byte {exc.start}: {exc.object[exc.start : exc.start + 1]!r}); "
            "re-save it as UTF-8 (spreadsheets: 'CSV UTF-8')"
        ) from None


def json_documents(item: Item) -> list[Any]:
    """The JSON documents of one input: one document, a top-level list of them, or JSON Lines (one per line)."""
    if not isinstance(item.content, (bytes, bytearray, str)):
        return list(item.content) if isinstance(item.content, list) else [item.content]
    where = item.name or "the payload"
    text = item_text(item).strip()
    if not text:
        raise ResponseFormatError(f"{where} is empty; expected JSON or JSON Lines")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise ResponseFormatError(f"{where} is not valid JSON: {exc}") from None
    except RecursionError:  # the decoder's own recursion ran out
        raise too_deep(where) from None
    except ValueError as exc:  # valid JSON Python will not read: an integer of thousands of digits
        raise ResponseFormatError(f"{where} holds JSON that cannot be read ({exc})") from None
    else:
        return list(document) if isinstance(document, list) else [document]
    documents = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                documents.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ResponseFormatError(f"{where}, line {number} is not valid JSON ({exc.msg})") from None
            except RecursionError:
                raise too_deep(f"{where}, line {number}") from None
            except ValueError as exc:
                raise ResponseFormatError(f"{where}, line {number} holds JSON that cannot be read ({exc})") from None
    return documents


def one_document(payload: object) -> Any:
    """One in-memory response (a dict, JSON text, or bytes, gzip accepted) decoded: exactly one JSON document."""
    if isinstance(payload, dict):
        check_nesting(payload, "the payload")
        return payload
    return only_document(expand_sources(payload, suffixes=())[0])


def only_document(item: Item) -> Any:
    """The one JSON document an input holds, decoded (more than one is refused)."""
    documents = json_documents(item)
    if len(documents) != 1:
        raise ResponseFormatError(f"expected one JSON response, found {len(documents)} documents")
    return documents[0]
