"""Fixtures shared by every test folder."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
Browser = Callable[..., str]


@pytest.fixture
def headless_chromium(tmp_path: Path) -> Browser:
    """``browse(page, "--dump-dom")`` or ``browse(page, "--screenshot=x.png", "--window-size=W,H")``: run Debian's
    Chromium headless and offline on a local page and return its stdout. Skips when Chromium is absent, since
    ``make test`` installs nothing system-wide."""
    if CHROMIUM is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    runs = iter(range(1_000))

    def browse(page: Path, *flags: str) -> str:
        done = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={tmp_path / f'chromium-profile-{next(runs)}'}",
                "--virtual-time-budget=5000",
                *flags,
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return done.stdout

    return browse
