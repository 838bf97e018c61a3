"""The raw-response archive: every body saved as received, atomically, with provenance; resume by key."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

from .._version import __version__
from ..archive_format import FORMAT_VERSION, MANIFEST, RESPONSES, SUFFIX, iter_envelopes, read_envelope, read_manifest
from .client import RawResponse

__all__ = ["Archive"]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class Archive:
    """A directory of archived responses.

    ``save`` writes ``responses/<key>.json.gz`` through a temporary file, ``fsync`` and ``rename`` (the commit
    point), then appends the provenance to ``manifest.jsonl``. Opening an archive rebuilds manifest lines
    that a crash lost, and removes stray temporary files. ``entries`` maps request keys to provenance.
    """

    root: Path
    entries: dict[str, dict[str, Any]] = field(init=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        (self.root / RESPONSES).mkdir(parents=True, exist_ok=True)
        for stray in (self.root / RESPONSES).glob("*.tmp"):
            stray.unlink()
        manifest = self.root / MANIFEST
        if manifest.is_file() and manifest.stat().st_size and not manifest.read_bytes().endswith(b"\n"):
            with open(manifest, "ab") as handle:  # end a line torn by a crash, so the next entry starts clean
                handle.write(b"\n")
        listed = {e["key"]: e for e in read_manifest(self.root) if "key" in e}
        for _, envelope in iter_envelopes(self.root):
            provenance = envelope["provenance"]
            if provenance["key"] not in listed:
                self._append_manifest(provenance)
            self.entries[provenance["key"]] = provenance

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def body(self, key: str) -> str:
        """The archived response text of ``key``."""
        return str(read_envelope(self.root / RESPONSES / f"{key}{SUFFIX}")["body"])

    def save(self, response: RawResponse, *, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Archive one response (any status); return its provenance."""
        request = response.request
        provenance = {
            "format": FORMAT_VERSION,
            "key": request.key,
            "endpoint": request.endpoint,
            "request": request.to_body(),
            "request_sha256": hashlib.sha256(response.sent).hexdigest(),
            "account": response.account,
            "auth": "bearer" if response.account == "bearer" else "user",
            "status": response.status_code,
            "retrieved_at": response.retrieved_at.astimezone(UTC).isoformat(),
            "library_version": __version__,
            **(extra or {}),
        }
        envelope = {"provenance": provenance, "body": response.body.decode("utf-8", errors="replace")}
        final = self.root / RESPONSES / f"{request.key}{SUFFIX}"
        tmp = final.with_name(f"{final.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as handle:
            handle.write(json.dumps(envelope, separators=(",", ":")).encode())
        with open(tmp, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        with self._lock:
            self._append_manifest(provenance)
            self.entries[request.key] = provenance
        return provenance

    def _append_manifest(self, provenance: dict[str, Any]) -> None:
        with open(self.root / MANIFEST, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(provenance, separators=(",", ":")) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
