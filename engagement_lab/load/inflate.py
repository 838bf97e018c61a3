"""Inflating gzip with a cap: what comes out of a compressed file or answer never outgrows a bound.

``gzip.decompress`` and httpx's decoders inflate whatever they are given at once, so a 1 MB file made to inflate
to 1 GB takes a gigabyte (or a ``MemoryError``) before anything can refuse it. :class:`Inflater` is fed the
compressed bytes piece by piece and asks zlib for at most the bytes still allowed (``max_length``), so it refuses
a bomb after holding no more than its cap. The standard library has no capped streaming gunzip (``GzipFile.read``
takes a size but reads a whole member's header and trailer loosely), hence this small wrapper over ``zlib``.

The caps (:func:`file_cap`): the size a file declares when it declares one, and always a ratio to the compressed
size (gzip cannot exceed about 1,032:1; real answers of this API reach about 130:1 even when every count is zero)
under an absolute ceiling.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import Final

from ..errors import InflationLimitError

__all__ = ["MAX_INFLATED", "MAX_RATIO", "MIN_CAP", "Inflater", "file_cap", "inflate"]

MAX_RATIO: Final = 300
"""Inflated bytes allowed per compressed byte: above 2x the most compressible answer seen (an all-zero hourly
answer compresses 130:1), far below gzip's 1,032:1 ceiling."""
MIN_CAP: Final = 64 * 2**20
"""A small file may always inflate this far (64 MiB), whatever its ratio."""
MAX_INFLATED: Final = 2**30
"""No single compressed file or answer is inflated past 1 GiB."""

GZIP: Final = 31
"""zlib's ``wbits`` for gzip members; ``47`` reads gzip or zlib (HTTP ``deflate``) alike."""


def file_cap(compressed_bytes: int) -> int:
    """The most a file of ``compressed_bytes`` may inflate to: the ratio cap, at least :data:`MIN_CAP`, at most
    :data:`MAX_INFLATED`."""
    return min(MAX_INFLATED, max(MIN_CAP, MAX_RATIO * compressed_bytes))


class Inflater:
    """Inflates a gzip stream (members one after another, as ``gzip.decompress`` reads them) fed in pieces, refusing
    to produce more than ``limit`` bytes in all.

    Parameters
    ----------
    limit : int
        Bytes allowed out; :attr:`limit` may be lowered while inflating (e.g. once a header declared a size).
    what : str
        Names the input in the error, e.g. ``"archive file 'x.json.gz'"``.
    why : str
        Where the limit comes from, for the error (``"max_response_bytes"``).
    wbits : int
        zlib's window bits: :data:`GZIP` (default), or ``47`` for gzip or zlib.

    Raises
    ------
    InflationLimitError
        From :meth:`feed` as soon as the output would pass the limit.
    zlib.error
        From :meth:`feed` for bytes that are not a valid stream.
    EOFError
        From :meth:`finish` for a stream that stops early.
    """

    def __init__(self, limit: int, *, what: str, why: str, wbits: int = GZIP) -> None:
        self.limit, self.what, self.why, self.wbits = limit, what, why, wbits
        self.produced = 0
        self._inflate = zlib.decompressobj(wbits)
        self._started = False

    def feed(self, data: bytes) -> list[bytes]:
        """The bytes ``data`` inflates to (in pieces), after checking they stay within the limit."""
        out: list[bytes] = []
        while data:
            self._started = True
            if self._inflate.eof:  # another member follows (or trailing bytes, which zlib then refuses)
                data = self._inflate.unused_data + data
                self._inflate = zlib.decompressobj(self.wbits)
            allowed = max(0, self.limit - self.produced)  # the limit may have been lowered below what came out
            piece = self._inflate.decompress(data, allowed + 1)  # never more than one byte past the limit
            self.produced += len(piece)
            if self.produced > self.limit:
                raise InflationLimitError(
                    f"{self.what} inflates past {self.limit:,} bytes ({self.why}); refused as a decompression bomb "
                    "or a damaged file",
                    limit=self.limit,
                )
            if piece:
                out.append(piece)
            data = self._inflate.unconsumed_tail
            if self._inflate.eof and self._inflate.unused_data:
                data = self._inflate.unused_data + data
                self._inflate = zlib.decompressobj(self.wbits)
        return out

    def split(self, data: bytes, size: int) -> tuple[bytes, bytes]:
        """Exactly the first ``size`` bytes ``data`` inflates to (``data`` must hold them), and the input left for
        :meth:`feed` (so a header can be taken apart from the body that follows it without copying the body)."""
        out: list[bytes] = []
        got = 0
        while got < size:
            if self._inflate.eof:
                data = self._inflate.unused_data + data
                self._inflate = zlib.decompressobj(self.wbits)
            if not data:
                raise zlib.error(f"the stream holds fewer than {size} bytes")
            piece = self._inflate.decompress(data, size - got)
            out.append(piece)
            got += len(piece)
            data = self._inflate.unconsumed_tail
        if self._inflate.eof:  # the member ended with the split: what follows is the next member's
            data = self._inflate.unused_data + data
            self._inflate = zlib.decompressobj(self.wbits)
        self._started = True
        self.produced += got
        return b"".join(out), data

    def finish(self) -> None:
        """Check the stream ended where a gzip member ends (a truncated file raises ``EOFError``, as ``gzip``)."""
        if self._started and not self._inflate.eof:
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")


def inflate(chunks: Iterable[bytes], limit: int, *, what: str, why: str) -> bytes:
    """Every chunk of a gzip stream inflated, within ``limit`` bytes (see :class:`Inflater`)."""
    inflater = Inflater(limit, what=what, why=why)
    pieces: list[bytes] = []
    for chunk in chunks:
        pieces += inflater.feed(chunk)
    inflater.finish()
    return b"".join(pieces)
