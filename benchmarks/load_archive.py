"""Archive-loading benchmark: load_archive vs load_response on the same response bodies (>= 1 M leaf values).

Ratio, measured in the same run: ``load_archive`` (read each gzip envelope, parse, add provenance columns,
deduplicate across responses) over ``load_response`` run on each of the same bodies, already in memory, one at a
time (parsing only: no provenance, nothing collapsed across bodies). Each side is the best of 3. Target <= 1.3x.

Run: .venv/bin/python benchmarks/load_archive.py [--leaves N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from timing import best  # benchmarks/timing.py, beside this script

from engagement_lab import catalog, load_archive, load_response
from engagement_lab.api.archive import Archive
from engagement_lab.api.client import RawResponse
from engagement_lab.query import EngagementRequest
from engagement_lab.sandbox import World
from engagement_lab.sandbox.responses import build_response


def archived(root: Path, target_leaves: int) -> list[bytes]:
    """Real sandbox /historical answers (25 tweets x 17 metrics x 28 days x 24 hours each), saved to ``root``."""
    world = World(seed=7)
    tweets = [t for t in world.tweets if t.status == "ok" and world.accounts_by_handle[t.account].owned]
    metrics = list(catalog.ENDPOINTS["historical"].metrics)
    bodies, leaves, i = [], 0, 0
    with Archive(root) as archive:
        while leaves < target_leaves:
            batch = tweets[i : i + 25]
            i += 25
            body = {"tweet_ids": [t.tweet_id for t in batch], "engagement_types": metrics,
                    "groupings": {"hourly": {"group_by": list(catalog.FOUR_ITEM_ORDERS[0])}}}  # fmt: skip
            request = EngagementRequest.from_body("historical", body, now=world.now)
            text = json.dumps(build_response(request, world, batch, [], world.now)).encode()
            when = datetime(2026, 6, 1, tzinfo=UTC) + timedelta(seconds=i)
            archive.save(RawResponse(200, text, {}, request, "acme", b"", when, 0.1))
            bodies.append(text)
            leaves += len(batch) * len(metrics) * 28 * 24
    return bodies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leaves", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "archive"
        bodies = archived(root, args.leaves)
        rows = load_archive(root, backend="polars").height
        for backend in ("polars", "pandas"):
            t_response = best(lambda b=backend: [load_response(body, backend=b) for body in bodies])  # type: ignore[misc]
            t_archive = best(lambda b=backend: load_archive(root, backend=b))  # type: ignore[misc]
            print(
                f"{backend:7} {rows:,} rows from {len(bodies)} responses: load_archive {t_archive:.2f}s, "
                f"load_response on the same bodies {t_response:.2f}s -> {t_archive / t_response:.2f}x (target <= 1.3x)"
            )


if __name__ == "__main__":
    main()
