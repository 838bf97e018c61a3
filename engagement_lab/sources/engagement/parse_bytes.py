"""Engagement API response bytes -> the table :func:`parse_response` gives, without a Python object per count.

Why a scan of our own, not only a library: every JSON parser we measured (``json``, orjson, msgspec) builds a
dict per object and a str per key and count. On the benchmark's 1.1 million counts that alone is the whole time
a load may take, and walking those objects costs twice as much again. A grouping has one shape: objects nested
one to four deep whose leaves are counts. So msgspec first checks that the whole document is valid JSON (each
grouping is decoded as ``msgspec.Raw``, which validates it without building anything), and numpy then reads the
tree off the positions of the quotes and braces.

Anything outside the usual shape (escapes, non-ASCII bytes, arrays, numbers, ragged depth, a repeated key, a key
or count that is not valid) makes :func:`scan_response` return ``None``. The caller then parses the ordinary way,
so every refusal and its message stay with :func:`~engagement_lab.sources.engagement.parse.parse_response`, and both
ways give equal tables (``tests/load/test_engagement_bytes.py`` compares them on generated and real responses).
"""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa

from ...errors import ResponseFormatError
from ...load.inputs import Item, expand_sources, json_documents, only_document
from ...load.nesting import check_nesting
from . import catalog
from .parse import (
    EMPTY_TREE,
    ParsedResponse,
    Tree,
    assemble,
    grouping_rows,
    level_kind,
    no_path,
    parse_response,
    reserved_keys,
)

__all__ = ["parse_item", "parse_one", "parse_response_bytes", "scan_response"]

_TOP = msgspec.json.Decoder(dict[str, msgspec.Raw])
_QUOTE, _COLON, _OPEN, _CLOSE = ord('"'), ord(":"), ord("{"), ord("}")
_BACKSLASH, _BRACKET, _SPACE = ord("\\"), ord("["), ord(" ")


def parse_response_bytes(data: bytes, *, keep_unsupported: bool = False) -> ParsedResponse:
    """``parse_response(json.loads(data))``, reading the usual shape of response straight from the bytes."""
    found = scan_response(data, keep_unsupported=keep_unsupported)
    if found is not None:
        return found
    return parse_response(json.loads(data), keep_unsupported=keep_unsupported)


def parse_one(payload: object, *, keep_unsupported: bool = False) -> ParsedResponse:
    """One in-memory response (a dict, JSON text or bytes, gzip accepted) -> what :func:`parse_response` gives."""
    if isinstance(payload, dict):
        check_nesting(payload, "the payload")
        return parse_response(payload, keep_unsupported=keep_unsupported)
    item = expand_sources(payload, suffixes=())[0]  # read (and unzipped) once, whichever way it is parsed
    found = _scan_item(item, keep_unsupported)
    return found if found is not None else parse_response(only_document(item), keep_unsupported=keep_unsupported)


def parse_item(item: Item, *, keep_unsupported: bool = False) -> list[ParsedResponse]:
    """The responses one input holds (one document, a JSON list of them, or JSON Lines), parsed."""
    found = _scan_item(item, keep_unsupported)
    if found is not None:
        return [found]
    return [parse_response(document, keep_unsupported=keep_unsupported) for document in json_documents(item)]


def _scan_item(item: Item, keep_unsupported: bool) -> ParsedResponse | None:
    content = item.content
    if isinstance(content, str):
        content = content.encode()
    return scan_response(content, keep_unsupported=keep_unsupported) if isinstance(content, bytes) else None


def scan_response(data: bytes, *, keep_unsupported: bool = False) -> ParsedResponse | None:
    """One response's bytes -> what :func:`parse_response` gives, or ``None`` when they are not the usual shape."""
    if len(data) >= 2**31:  # string offsets below are 32-bit
        return None
    try:
        top = _TOP.decode(data)
    except (msgspec.DecodeError, RecursionError):  # not JSON, not an object, or too deep: the ordinary parser says
        return None
    small: dict[str, Any] = {}
    groupings = []
    for name, raw in top.items():
        if name in catalog.RESERVED_KEYS:
            try:  # a few ids or times: json keeps long integers exact
                small[name] = json.loads(bytes(raw))
            except (ValueError, RecursionError):  # not UTF-8, or nested past the decoder: the ordinary parser says
                return None
        else:
            groupings.append((name, raw))
    try:
        reserved = reserved_keys(small)
        parts = []
        for name, raw in groupings:
            tree = _tree(name, raw)
            if tree is None:
                return None
            parts.append(grouping_rows(name, tree, no_path, reserved, keep_unsupported))
    except ResponseFormatError:
        return None
    return assemble([name for name, _ in groupings], parts, reserved)


def _tree(name: str, raw: msgspec.Raw) -> Tree | None:
    """One grouping's JSON (valid, msgspec checked) -> its :class:`Tree`, or None when it is not the usual shape."""
    b = np.frombuffer(raw, np.uint8)
    # one scratch mask serves the byte-wide comparisons: a fresh 3 MB array for each cost more in page faults
    # than the comparisons themselves
    mask = np.empty(len(b), dtype=bool)
    if b[0] != _OPEN or b.max() >= 0x80 or _any(b, _BACKSLASH, mask) or _any(b, _BRACKET, mask):
        return None
    quotes = np.flatnonzero(np.equal(b, _QUOTE, out=mask))  # with no backslash, each quote opens or closes a string
    if len(quotes) == 0:  # valid JSON with no string and no array: an empty object
        return EMPTY_TREE
    opening, ends = quotes[0::2], quotes[1::2]  # string i is b[opening[i] + 1 : ends[i]]
    # In an object a string is a key when a colon follows it. A key whose next string is not a key has that
    # string as its value (a leaf); any other key must open an object, which is checked next. So a number,
    # true, false or null as a value (its key is followed by another key, or by nothing) is refused.
    after = _next_byte(b, ends)
    is_key = after == _COLON
    leaf = np.flatnonzero(is_key[:-1] & ~is_key[1:])
    if len(leaf) == 0:
        return None
    is_key[leaf] = False
    inner = np.flatnonzero(is_key)
    colon = _next_token(b, ends[inner])[1]
    follow, opened = _next_token(b, colon)
    if (follow != _OPEN).any():
        return None
    # Without arrays, every object but the grouping itself is the value of one key, and those keys are exactly
    # the inner ones, each shown above to open a real object. So as many braces as that mean none is in a string.
    shifted = np.subtract(b, _OPEN, dtype=np.uint8)  # "{" -> 0 and "}" -> 2, every other byte to neither
    braces = np.flatnonzero(np.equal(np.bitwise_and(shifted, 0xFD, out=shifted), 0, out=mask))
    del shifted
    is_open = b[braces] == _OPEN
    if len(braces) != 2 * (len(inner) + 1) or int(is_open.sum()) != len(inner) + 1:
        return None
    # a key's depth: the braces opened before it and not closed (the grouping's own keys are at depth 1)
    depth = np.cumsum(np.where(is_open, 1, -1))[np.searchsorted(braces, opening[inner]) - 1]
    n_levels = int(depth.max()) + 1 if len(inner) else 1
    # The leaves' objects: those the deepest inner keys open (or the grouping itself). They hold no brace, as
    # only inner keys open objects, so a non-empty one ends with a count followed by its closing brace. Any other
    # object ending so, or a leaf key and count outside them, is a ragged depth.
    holders = inner[depth == n_levels - 1] if len(inner) else np.full(1, -1)
    filled = _next_byte(b, opened[depth == n_levels - 1]) != _CLOSE if len(inner) else np.ones(1, bool)
    last = np.flatnonzero(after == _CLOSE)
    if len(last) != int(filled.sum()):
        return None
    per_holder = np.zeros(len(holders), dtype=np.intp)  # strings inside: from the one after the holder key
    per_holder[filled] = last - holders[filled]
    if int(per_holder.sum()) != 2 * len(leaf):
        return None
    per_holder //= 2  # leaf keys per holder, in document order
    levels = [inner[depth == d] for d in range(1, n_levels)]
    # an inner key's object is the value of the last key one level up before it
    parents = [np.zeros(len(levels[0]), dtype=np.intp)] if levels else []
    parents += [np.searchsorted(opening[upper], opening[lower]) - 1 for upper, lower in pairwise(levels)]
    keys, key_codes = [], []
    for strings, parent in zip([*levels, leaf], [*parents, None], strict=True):
        distinct, codes = _encode(b, raw, opening[strings] + 1, ends[strings])
        if _repeats(codes, len(distinct), parent, per_holder):
            return None  # a key twice in one object: json keeps the last, the ordinary parser decides
        keys.append(distinct)
        key_codes.append(codes)
    values = _counts(b, opening[leaf + 1] + 1, ends[leaf + 1])
    if values is None:
        return None
    used: set[str] = set()
    kinds = []
    for distinct in keys:
        kinds.append(level_kind(set(distinct.to_pylist()), used, name, lambda key: []))
        used.add(kinds[-1])
    # every leaf's key at each level: its holder's ancestors, repeated once per leaf key the holder has
    codes_per_leaf = [key_codes[-1]]
    ancestor = np.arange(len(holders))
    for level in range(len(levels) - 1, -1, -1):
        codes_per_leaf.insert(0, np.repeat(key_codes[level][ancestor], per_holder))
        ancestor = parents[level][ancestor]
    return Tree(kinds, keys, codes_per_leaf, values)


def _any(b: np.ndarray, byte: int, mask: np.ndarray) -> bool:
    return bool(np.equal(b, byte, out=mask).any())


def _next_byte(b: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The first byte after each position that is not whitespace (see :func:`_next_token`)."""
    found: np.ndarray = b[1:][after]  # a shifted view: no array of positions + 1
    return _next_token(b, after)[0] if bool((found <= _SPACE).any()) else found


def _next_token(b: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first byte after each position that is not whitespace, and where it is.

    In valid JSON every byte outside a string below a space is whitespace, and a token follows each position
    asked about, so the search stays inside ``b``. The loop runs once per blank in the longest run of them.
    """
    at = after + 1
    found = b[at]
    todo = np.flatnonzero(found <= _SPACE)
    while len(todo):
        at[todo] += 1
        found[todo] = b[at[todo]]
        todo = todo[found[todo] <= _SPACE]
    return found, at


def _strings(raw: msgspec.Raw, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """The strings at ``[starts, ends)`` of ``raw`` as one Arrow array.

    Arrow reads a string array as offsets into one buffer; offsets start, end, start, end... make every other
    string one of ours (the rest are the bytes between them), and ``take`` keeps ours.
    """
    offsets = np.empty(2 * len(starts), dtype=np.int32)
    offsets[0::2], offsets[1::2] = starts, ends
    spans = pa.StringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(raw))
    return spans.take(pa.array(np.arange(0, len(offsets) - 1, 2)))


def _encode(b: np.ndarray, raw: msgspec.Raw, starts: np.ndarray, ends: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """A level's keys -> their distinct values and each key's index into them.

    Two-digit keys (hours, the level that holds most keys) are read as numbers, several times faster than
    hashing strings; any other key goes through Arrow's dictionary encoding.
    """
    if ((ends - starts) == 2).all():
        tens, ones = b[starts] - np.uint8(ord("0")), b[starts + 1] - np.uint8(ord("0"))  # a non-digit wraps past 9
        if tens.max() <= 9 and ones.max() <= 9:
            number = tens * np.uint8(10) + ones
            present = np.flatnonzero(np.bincount(number, minlength=100))
            index = np.zeros(100, dtype=np.intp)
            index[present] = np.arange(len(present))
            return pa.array([f"{n:02d}" for n in present], pa.string()), index[number]
    encoded = _strings(raw, starts, ends).dictionary_encode()
    return encoded.dictionary, encoded.indices.to_numpy().astype(np.intp)


def _repeats(codes: np.ndarray, n_distinct: int, parent: np.ndarray | None, per_holder: np.ndarray) -> bool:
    """Whether one object holds a key twice.

    ``parent`` is each key's object (keys in document order); ``None`` for the leaf keys, whose objects are
    runs of ``per_holder`` keys. The usual case, keys in increasing order within every object, is one pass.
    """
    if parent is None:
        rising = codes[1:] > codes[:-1]
        starts = np.cumsum(per_holder)[:-1]
        rising[starts[(starts > 0) & (starts < len(codes))] - 1] = True  # where a new object starts: no comparison
        if bool(rising.all()):
            return False
        parent = np.repeat(np.arange(len(per_holder)), per_holder)
    pair = parent.astype(np.int64) * n_distinct + codes
    if len(pair) < 2 or bool((pair[1:] > pair[:-1]).all()):
        return False
    if (int(parent[-1]) + 1) * n_distinct <= 4 * len(pair) + 4096:
        return bool(np.bincount(pair).max() > 1)
    return len(np.unique(pair)) != len(pair)


def _counts(b: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """The counts (strings of 1 to 18 digits, as the API sends them) -> int64, or None for anything else.

    Read digit by digit across all counts at once; past the first digit each step touches only the counts that
    long (most counts are a digit or two).
    """
    lengths = ends - starts
    if lengths.min() < 1 or lengths.max() > 18:
        return None
    zero = np.uint8(ord("0"))
    digit = b[starts] - zero  # a non-digit wraps past 9
    if digit.max() > 9:
        return None
    values: np.ndarray = digit.astype(np.int64)
    rows = np.flatnonzero(lengths > 1)
    for place in range(1, int(lengths.max())):
        if place > 1:
            rows = rows[lengths[rows] > place]
        digit = b[starts[rows] + place] - zero
        if digit.max() > 9:
            return None
        values[rows] = values[rows] * 10 + digit
    return values
