"""An input's kind, read from its content (:mod:`engagement_lab.sources.kinds` knows the shapes): for ``load()``,
which sends each file to its reader, and for each specific loader, which refuses another kind naming its reader."""

from __future__ import annotations

import json
from collections.abc import Iterator

import msgspec

from ..errors import DataError
from ..sources.kinds import KINDS, Kind, document_kind, text_kind, wrong_loader
from .inputs import Item, item_text

__all__ = ["check_kind", "guess_kind", "kind_of"]


_LOOK_AT = 1000
"""Documents of a JSON Lines file (or elements of a JSON list) looked at to tell its kind: a twarc file can open
with pages that hold only ``errors`` (ids no longer found), which tell nothing."""


def _first_document(raw: bytes) -> object:
    """The first document of a file that tells its kind (the first document if none does), decoded only as deep
    as telling needs: an Engagement API response's groupings (most of a large file) are not decoded, only seen to
    be objects."""
    try:
        top = msgspec.json.decode(raw, type=dict[str, msgspec.Raw])
    except msgspec.DecodeError:
        pass
    else:
        shallow: dict[str, object] = {}
        for key, value in top.items():
            nested = bytes(value).lstrip()[:1] == b"{" and key not in ("data", "__twarc")
            try:
                shallow[key] = {} if nested else msgspec.json.decode(value)
            except msgspec.DecodeError:  # e.g. an integer past 64 bits: not what tells the kind; the parser names it
                shallow[key] = None
        return shallow
    try:
        elements = msgspec.json.decode(raw, type=list[msgspec.Raw])
    except msgspec.DecodeError:
        documents = _lines(raw)
    else:
        documents = (msgspec.json.decode(e) for e in elements[:_LOOK_AT])
    first = None
    for i, document in enumerate(documents):
        if i == 0:
            first = document
        if document_kind(document) is not None:
            return document
    return first


def _lines(raw: bytes) -> Iterator[object]:
    """The first documents of JSON Lines (a line that is not JSON ends the look: the parser will name it)."""
    for line in raw.split(b"\n", _LOOK_AT)[:_LOOK_AT]:
        if line.strip():
            try:
                yield json.loads(line)
            except ValueError:  # not JSON, not UTF-8, or an integer of thousands of digits
                return


def _errors_only(document: object) -> bool:
    """A v2 page that holds only ``errors`` (every id asked for was not found or not authorised)."""
    return isinstance(document, dict) and "errors" in document and not set(document) - {"errors", "meta", "__twarc"}


def _text_or_document(item: Item) -> tuple[str | None, object]:
    """The item's text when it is not JSON (a CSV), else (None, its first document)."""
    content = item.content
    if not isinstance(content, (bytes, bytearray, str)):
        return None, (content[0] if isinstance(content, list) and content else content)
    text = item_text(item)
    if text.lstrip()[:1] not in ("{", "["):
        return text, None
    try:
        return None, _first_document(text.encode() if isinstance(content, str) else bytes(content))
    except RecursionError:
        raise DataError(
            f"{item.name or 'the payload'}: its JSON is nested too deeply to be an answer of these APIs"
        ) from None


def guess_kind(item: Item) -> Kind | None:
    """The kind of one input, or None when its content matches none (or is not text: still gzip-compressed bytes
    given in memory, which the parser itself reads)."""
    try:
        text, document = _text_or_document(item)
    except DataError:
        return None
    return text_kind(text) if text is not None else document_kind(document)


def kind_of(item: Item) -> Kind:
    """The kind of one input; refused naming the file and what it holds when none fits."""
    where = item.name or "the payload"
    text, document = _text_or_document(item)
    kind = text_kind(text) if text is not None else document_kind(document)
    if kind is not None:
        return kind
    if _errors_only(document):
        return "v2_posts"  # no rows, only problems: the v2 reader puts them in the load report
    if text is not None:
        first = text.strip().splitlines()[0][:80] if text.strip() else "nothing"
        found = f"neither JSON nor an analytics export: its first line is {first!r}"
    else:
        keys = (
            sorted(document)[:6]
            if isinstance(document, dict)
            else "an empty list"
            if document is None
            else type(document).__name__
        )
        found = f"JSON of no kind load() reads (found {keys})"
    raise DataError(f"{where} is {found}; load() reads {', '.join(KINDS.values())}, and fetch archives")


def check_kind(item: Item, reading: Kind) -> None:
    """Refuse an input of another kind than the loader's, naming the loader that reads it (an input of no known
    kind is left to the loader's parser, whose message says what is wrong with it)."""
    message = wrong_loader(guess_kind(item), reading, item.name or "the payload")
    if message:
        raise DataError(message)
