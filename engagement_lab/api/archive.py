"""The raw-response archive: every body saved as received, atomically, with provenance; resume by key."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import ConfigError
from ..load.archive_format import (
    FORMAT_VERSION,
    LOCK,
    MANIFEST,
    QUARANTINE,
    RESPONSES,
    SUFFIX,
    CorruptArchiveFile,
    encode_envelope,
    envelope_paths,
    fsync_dir,
    fsync_file,
    read_envelope,
    read_manifest,
    writing,
)
from ..locking import WriterLock
from .http import RawResponse

__all__ = ["Archive"]

log = logging.getLogger("engagement_lab.api")


@dataclass
class Archive:
    """A directory of archived responses.

    ``save`` writes ``responses/<key>.json.gz`` through a temporary file, ``fsync`` and ``rename`` (the commit
    point), then appends the provenance to ``manifest.jsonl``. Opening an archive takes its writer lock (a
    second process opening it fails at once, naming the holder's pid; :meth:`close` releases it), rebuilds
    manifest lines that a crash lost, removes stray temporary files, and moves unreadable response files to
    ``quarantine/`` (logged; their requests are then fetched again; nothing valid is ever deleted).
    ``entries`` maps request keys to provenance.
    """

    root: Path
    entries: dict[str, dict[str, Any]] = field(init=False, default_factory=dict)
    quarantined: list[Path] = field(init=False, default_factory=list)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _writer: WriterLock = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        try:
            (self.root / RESPONSES).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the archive folder {str(self.root)!r}: {exc.strerror or exc}") from None
        self._writer = WriterLock(self.root / LOCK, f"archive {str(self.root)!r}").acquire()
        try:
            self._open()
        except BaseException:
            self._writer.release()
            raise

    def close(self) -> None:
        """Release the writer lock (the archive stays readable by anyone)."""
        self._writer.release()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _quarantine(self, path: Path, reason: str) -> None:
        target = self.root / QUARANTINE / path.name
        target.parent.mkdir(exist_ok=True)
        os.replace(path, target)
        self.quarantined.append(target)
        log.warning(
            "archive file %s is unreadable (%s); moved to %s and its request will be fetched again",
            path,
            reason,
            target,
        )

    def _open(self) -> None:
        for stray in (self.root / RESPONSES).glob("*.tmp"):
            stray.unlink()
        manifest = self.root / MANIFEST
        if manifest.is_file() and manifest.stat().st_size and not manifest.read_bytes().endswith(b"\n"):
            with open(manifest, "ab") as handle:  # end a line torn by a crash, so the next entry starts clean
                handle.write(b"\n")
        listed = {e["key"]: e for e in read_manifest(self.root) if "key" in e}
        for path in envelope_paths(self.root):
            try:
                envelope = read_envelope(path)
            except CorruptArchiveFile as exc:
                self._quarantine(path, exc.reason)
                continue
            provenance = envelope["provenance"]
            if provenance["key"] not in listed:
                self._append_manifest(provenance)
            self.entries[provenance["key"]] = provenance

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def body(self, key: str) -> str:
        """The archived response text of ``key`` (bytes that are not UTF-8 shown as U+FFFD)."""
        body: bytes = read_envelope(self.root / RESPONSES / f"{key}{SUFFIX}")["body"]
        return body.decode("utf-8", errors="replace")

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
        final = self.root / RESPONSES / f"{request.key}{SUFFIX}"
        tmp = final.with_name(f"{final.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with writing(tmp, rerun="rerun the same command to resume"):  # a full disk names the file and the fix
            try:
                with open(tmp, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as handle:
                    handle.write(encode_envelope(provenance, response.body))
                fsync_file(tmp)
            except OSError:
                with contextlib.suppress(OSError):
                    tmp.unlink()  # never read (a resume removes it too); leave no litter on a full disk
                raise
        with writing(final, rerun="rerun the same command to resume"):
            os.replace(tmp, final)
            fsync_dir(final.parent)
        with self._lock, writing(self.root / MANIFEST, rerun="rerun the same command to resume"):
            self._append_manifest(provenance)
            self.entries[request.key] = provenance
        return provenance

    def _append_manifest(self, provenance: dict[str, Any]) -> None:
        with open(self.root / MANIFEST, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(provenance, separators=(",", ":")) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
