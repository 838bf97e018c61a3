"""Archive-loading benchmark: load_archive vs load_response on the same response bodies (>= 1 M leaf values).

Ratio, measured in the same run: ``load_archive`` (read each gzip envelope, parse, add provenance columns,
deduplicate across responses) over ``load_response`` run on each of the same bodies, already in memory, one at a
time (parsing only: no provenance, nothing collapsed across bodies). Each side is the best of 3. Target <= 1.3x.

Run: .venv/bin/python benchmarks/load_archive.py [--leaves N]
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from load import sandbox_answers  # benchmarks/load.py and timing.py, beside this script
from timing import best

from engagement_lab import load_archive, load_response
from engagement_lab.api.archive import Archive
from engagement_lab.api.client import RawResponse


def archived(root: Path, target_leaves: int) -> list[bytes]:
    """The load benchmark's sandbox /historical answers, saved to an archive at ``root``; their bodies."""
    answers = sandbox_answers(target_leaves)
    with Archive(root) as archive:
        for k, (request, text) in enumerate(answers):
            when = datetime(2026, 6, 1, tzinfo=UTC) + timedelta(seconds=k)
            archive.save(RawResponse(200, text, {}, request, "acme", b"", when, 0.1))
    return [text for _, text in answers]


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
