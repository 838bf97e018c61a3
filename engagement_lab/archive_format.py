"""The on-disk format of a fetch archive, shared by its writer (``api.archive``) and reader (``load.archive``).

::

    <archive>/
      responses/<key>.json.gz   one gzip JSON envelope per response: {"provenance": {...}, "body": "<text>"}
      manifest.jsonl            an index, one provenance object per line (rebuilt from responses/ if torn)

A response file appears only by an atomic rename of a complete temporary file, so a reader never sees half
of one. The body is the response text exactly as received; provenance has no secrets.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

__all__ = ["MANIFEST", "RESPONSES", "SUFFIX", "iter_envelopes", "read_envelope", "read_manifest"]

MANIFEST: Final = "manifest.jsonl"
RESPONSES: Final = "responses"
SUFFIX: Final = ".json.gz"
FORMAT_VERSION: Final = 1


def read_envelope(path: Path) -> dict[str, Any]:
    """One archived response: ``{"provenance": {...}, "body": str}``."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        envelope: dict[str, Any] = json.load(handle)
    return envelope


def iter_envelopes(root: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every complete response file of an archive, in key order (temporary files are skipped)."""
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
