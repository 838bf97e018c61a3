"""Fixtures shared by every test folder."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


# Chromium's own background calls (network time, component updates) are in its net log too; they are not the page's.
BROWSER_OWN = re.compile(r"https?://[a-z0-9.-]*\.(?:google\.com|googleapis\.com|gvt1\.com)/")


@pytest.fixture
def requests_from_page() -> Callable[[Path], list[str]]:
    """``requests_from_page(netlog)``: the URLs a page asked for that are neither local files nor inline data,
    read from the ``--log-net-log`` file of a :func:`headless_chromium` run."""

    def read(netlog: Path) -> list[str]:
        requested = set(re.findall(r'"url":"([^"]+)"', netlog.read_text(errors="replace")))
        return sorted(u for u in requested if not u.startswith(("file:", "data:")) and not BROWSER_OWN.match(u))

    return read


@pytest.fixture(scope="session")
def world_totals() -> tuple[Any, Any]:
    """Lifetime totals of 300 of the sandbox world's tweets, as a /totals answer would give them (a polars tidy
    frame), and their metadata: the data the Spark and Dask tests hand to those engines."""
    import polars as pl

    from engagement_lab import load_response
    from engagement_lab.sandbox import World

    world = World(seed=7)
    tweets = [t for t in world.tweets if t.status == "ok"][:300]
    answer = {"per_tweet": {t.tweet_id: {"impressions": str(int(world.series(t)[0].sum())),
                                         "engagements": str(int(world.series(t)[1].sum()))} for t in tweets}}  # fmt: skip
    tidy = load_response(answer, backend="polars")
    metadata = pl.DataFrame(world.metadata()).select("tweet_id", "variant", "content_type")
    return tidy, metadata
