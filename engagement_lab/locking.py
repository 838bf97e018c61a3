"""One writer at a time: an advisory lock held for as long as a process writes a file or folder we own.

The lock is ``flock`` on a small ``.lock`` file that records the holder's pid. The kernel drops it when the
holder exits for any reason (``kill -9`` included), so there is never a stale lock to clean up; the file
itself stays (removing it would let two processes lock two different files). A second writer fails at once
with a message naming the holder, instead of both writing (an archive fetched twice, a webhook fired twice).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from .errors import LockError

__all__ = ["WriterLock"]


class WriterLock:
    """An exclusive, non-blocking lock on ``path`` (created if missing), naming ``what`` it protects."""

    def __init__(self, path: str | Path, what: str) -> None:
        self.path, self.what = Path(path), what
        self._fd: int | None = None

    def acquire(self) -> WriterLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LockError(
                f"{self.what} is in use by another process (pid {holder}); only one may write it at a time. "
                "Wait for that process to finish (or stop it) and run again; nothing was written."
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()
