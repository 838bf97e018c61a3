"""compact on a full disk or a read-only folder (issue 30): a named error with the file and the fix, like fetch's,
never "unexpected ComputeError ... please report it"; after space is freed, compact resumes to the same dataset.

The full disk and the read-only folder are real (a tiny tmpfs, remounted read-only), which needs root; where it
cannot be mounted those tests skip, and a monkeypatched ``ENOSPC`` keeps the naming covered everywhere."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from engagement_lab import compact, load_archive, scan
from engagement_lab.errors import EngagementLabError, StorageError

from .test_archive import _fetch, _hourly

RESUME = "free some space, then run compact again to resume"


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    _fetch(_hourly("2026-05-01", "2026-05-05"), tmp_path / "archive")
    return tmp_path / "archive"


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 12 KiB tmpfs: room for the lock and little else."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12k", "tmpfs", str(mount)], capture_output=True,
                          check=False)  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _remount(mount: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(mount)], check=True)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engagement_lab.cli", *args], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


def test_a_full_disk_is_named_with_the_file_and_compact_resumes_once_freed(archive: Path, tiny_disk: Path) -> None:
    dataset = tiny_disk / "parquet"
    with pytest.raises(StorageError) as caught:
        compact(archive, out=dataset)
    error = caught.value
    assert error.errno == errno.ENOSPC
    assert isinstance(error, OSError)
    assert isinstance(error, EngagementLabError)
    assert str(error).startswith(f"cannot write '{dataset}/")  # the file it was writing
    assert "No space left on device; the disk is full: " + RESUME in str(error)
    assert Path(error.filename).is_relative_to(dataset)
    done = _cli("compact", str(archive), "--out", str(dataset), "--no-progress")
    assert done.returncode == 1
    assert f"engagement-lab: cannot write '{dataset}/" in done.stderr
    assert RESUME in done.stderr
    assert "unexpected" not in done.stderr
    assert "ComputeError" not in done.stderr
    assert "Traceback" not in done.stderr
    _remount(tiny_disk, "size=64m")  # space freed
    result = compact(archive, out=dataset)
    assert result.added == len(list((archive / "responses").iterdir()))
    eager = load_archive(archive, backend="polars")
    assert (
        scan(dataset)
        .collect()
        .sort(pl.all())
        .equals(eager.select(scan(dataset).collect_schema().names()).sort(pl.all()))
    )


def test_a_read_only_folder_is_named_with_the_file_and_the_flag(archive: Path, tiny_disk: Path) -> None:
    _remount(tiny_disk, "size=64m")
    dataset = tiny_disk / "parquet"
    compact(archive, out=dataset)  # a dataset that exists, on a disk that then turns read-only
    _remount(tiny_disk, "ro")
    with pytest.raises(StorageError, match=rf"cannot write '{dataset}/.lock': Read-only file system; the file system "
                                           r"is read-only: choose a writable folder \(--out elsewhere\)"):  # fmt: skip
        compact(archive, out=dataset)
    done = _cli("compact", str(archive), "--out", str(dataset), "--no-progress")
    assert done.returncode == 1
    assert "read-only: choose a writable folder (--out elsewhere)" in done.stderr
    assert "unexpected" not in done.stderr
    assert "Traceback" not in done.stderr


def test_a_failed_write_names_its_file_everywhere(archive: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without root: the disk fills up at the first fsync of a Parquet file."""
    real = os.fsync

    def full(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".parquet"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(StorageError, match=r"cannot write '.*/part-[^']*\.parquet': No space left on device; the disk"):
        compact(archive)
    monkeypatch.setattr(os, "fsync", real)
    assert compact(archive).added == len(list((archive / "responses").iterdir()))  # nothing half-committed
