"""What a file is, from its content: which loader reads it, and the words that say so when the wrong one is used.

A user's folder mixes analytics exports, twarc files, v2 answers and Engagement API responses, often under names
that say nothing (``data (3).json``). Each kind has shapes no other kind shares, checked here on the decoded
document (or the first line of a CSV), so :func:`engagement_lab.load` can send every file to its reader and each
specific loader can refuse another kind naming the loader that reads it, instead of returning no rows.

Kinds: ``"analytics_csv"`` (analytics.twitter.com and X Premium exports), ``"engagement"`` (Engagement API
responses), ``"v2_posts"`` (X API v2 post lookups: response pages, twarc2 pages and flattened tweets) and
``"v2_analytics"`` (``GET /2/tweets/analytics`` and ``/2/media/analytics`` answers, in list or single-object
shape). Fetch archives are directories, recognised by :func:`engagement_lab.load.archive_format` files.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from typing import Final, Literal

from .engagement import catalog as engagement
from .exports.headers import is_export_header
from .x_v2 import catalog as v2

__all__ = ["KINDS", "LOADERS", "Kind", "document_kind", "text_kind", "wrong_loader"]

Kind = Literal["analytics_csv", "engagement", "v2_posts", "v2_analytics"]

KINDS: Final[Mapping[str, str]] = {
    "analytics_csv": "an analytics.twitter.com / X Premium CSV export",
    "engagement": "an Engagement API response",
    "v2_posts": "an X API v2 post lookup (a response page, a twarc2 page or a flattened tweet)",
    "v2_analytics": "an X API v2 analytics answer (GET /2/tweets/analytics or /2/media/analytics)",
}
"""Each kind, in words."""

LOADERS: Final[Mapping[str, str]] = {
    "analytics_csv": "load_analytics_csv",
    "engagement": "load_response",
    "v2_posts": "load_v2",
    "v2_analytics": "load_analytics",
}
"""The loader (in :mod:`engagement_lab.load`) that reads each kind."""

_POST_SECTIONS: Final = frozenset({"public_metrics", "non_public_metrics", "organic_metrics", "promoted_metrics"})
_POST_FIELDS: Final = frozenset({"text", "edit_history_tweet_ids", "author_id", "conversation_id", "created_at"})
_ANALYTICS_FIELDS: Final = frozenset(v2.POST_METRICS) | frozenset(v2.MEDIA_METRICS) | {"timestamped_metrics"}
_PAGE_KEYS: Final = frozenset({"data", "includes", "meta", "errors", "__twarc"})


def _item_kind(item: object) -> Kind | None:
    """The kind of one element of a v2 ``data`` (or a flattened tweet): a post or an analytics item."""
    if not isinstance(item, dict):
        return None
    keys = set(item)
    if keys & _POST_SECTIONS or keys & _POST_FIELDS or "__twarc" in keys or "attachments" in keys:
        return "v2_posts"
    if "timestamped_metrics" in keys or (({"id", "media_key"} & keys) and keys & _ANALYTICS_FIELDS):
        return "v2_analytics"
    return None


def _engagement_grouping(value: object) -> bool:
    """An Engagement API grouping: an object of objects keyed by tweet ids, metric names or days, never a v2
    object (which has an ``id`` or ``media_key`` string)."""
    return (
        isinstance(value, dict)
        and bool(value)
        and not {"id", "media_key"} & set(value)
        and all(isinstance(v, dict) for v in value.values())
    )


def document_kind(document: object) -> Kind | None:
    """The kind of one decoded JSON document, or None when it matches none (or is only an ``errors`` list,
    which v2 lookups and analytics answers share)."""
    if not isinstance(document, dict):
        return None
    if "data" in document and _engagement_grouping(document["data"]) and not {"includes", "meta"} & set(document):
        return "engagement"  # an Engagement API grouping its user named "data"
    if "data" in document:
        data = document["data"]
        items = data if isinstance(data, list) else [data]
        kinds = {_item_kind(item) for item in items} - {None}
        if len(kinds) == 1:
            return kinds.pop()
        if "includes" in document or "meta" in document or "__twarc" in document:
            return "v2_posts"
        return None
    if isinstance(document.get("id"), str):  # a flattened tweet (an Engagement API grouping is an object)
        return _item_kind(document)
    if not set(document) - _PAGE_KEYS:
        return None  # {"errors": [...]} alone: a failed v2 request of either kind
    groupings = [v for k, v in document.items() if k not in engagement.RESERVED_KEYS]
    if groupings and all(isinstance(v, dict) for v in groupings):
        return "engagement"
    return None


def text_kind(text: str) -> Kind | None:
    """``"analytics_csv"`` when a line of the text is an export's header (the first, normally; one further down,
    in its first 200 lines or its last, is still sent to the export reader, which names the line), else None
    (JSON text, or a CSV of another kind: the caller names what it found)."""
    head = text.lstrip("\ufeff").lstrip()
    if head[:1] in ("{", "["):
        return None  # JSON: decode it and ask document_kind
    first = head.split("\n", 200)[:200]
    last = head.rstrip("\n").rsplit("\n", 1)[-1]
    for line in [*first, last]:  # bounded: another program's large CSV is not read line by line
        if any(is_export_header(_cells(line, sep)) for sep in (",", ";", "\t")):
            return "analytics_csv"
    return None


def _cells(line: str, separator: str) -> list[str]:
    """One line's cells; a line the csv module cannot split (a stray carriage return) is no header."""
    try:
        return next(csv.reader([line], delimiter=separator), [])
    except csv.Error:
        return []


def wrong_loader(kind: Kind | None, reading: Kind, where: str) -> str | None:
    """The message for a document of ``kind`` given to the loader of ``reading`` (None when it may read it)."""
    if kind is None or kind == reading:
        return None
    return (
        f"{where} is {KINDS[kind]}, not {KINDS[reading]}: read it with {LOADERS[kind]}(...), "
        "or with load(...), which recognises every kind"
    )
