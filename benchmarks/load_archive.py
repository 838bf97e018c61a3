"""Archive-loading benchmark: load_archive vs load_response on the same response bodies (>= 1 M leaf values).

Ratio, measured in the same run: ``load_archive`` (read each gzip envelope, parse, add provenance columns,
deduplicate across responses) over ``load_response`` run on each of the same bodies, already in memory, one at a
time (parsing only: no provenance, nothing collapsed across bodies). Each side is the best of 7, the two taking
turns, run with the garbage collector paused as timeit does. Target <= 1.3x.

With ``--memory`` (e.g. ``--leaves 10000000``): the peak RSS load_archive adds, in a fresh process per backend,
over the RSS its result holds once loaded (target <= 2x), and over the frame's own size estimate (polars'
``estimated_size`` does not count all the memory behind its string views: the same rows from load_response hold
about twice their estimate).

Run: .venv/bin/python benchmarks/load_archive.py [--leaves N] [--memory]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from load import sandbox_answers  # benchmarks/load.py and timing.py, beside this script
from timing import taking_turns

from engagement_lab import load_archive, load_response
from engagement_lab.api.archive import Archive
from engagement_lab.sources.engagement.client import RawResponse


def archived(root: Path, target_leaves: int) -> list[bytes]:
    """The load benchmark's sandbox /historical answers, saved to an archive at ``root``; their bodies."""
    answers = sandbox_answers(target_leaves)
    with Archive(root) as archive:
        for k, (request, text) in enumerate(answers):
            when = datetime(2026, 6, 1, tzinfo=UTC) + timedelta(seconds=k)
            archive.save(RawResponse(200, text, {}, request, "acme", b"", when, 0.1))
    return [text for _, text in answers]


def _status(field: str) -> int:
    """A field of this process's /proc status, in bytes (VmRSS now, VmHWM its peak so far)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith(f"{field}:"))) * 1024


def _child_memory(root: Path, backend: str) -> None:
    """In a fresh process: load the archive; print the peak RSS it added and the size of the result."""
    before = _status("VmRSS")
    frame = load_archive(root, backend=backend)  # type: ignore[call-overload]
    size = frame.estimated_size() if backend == "polars" else int(frame.memory_usage(deep=True).sum())
    held = _status("VmRSS") - before  # what the result occupies once loaded (polars undercounts string views)
    print(json.dumps({"peak": _status("VmHWM") - before, "size": size, "held": held, "rows": len(frame)}))


def memory(leaves: int) -> None:
    """Peak RSS that load_archive adds, over the size of its result, each backend in its own process."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "archive"
        archived(root, leaves)
        for backend in ("polars", "pandas"):
            command = [sys.executable, __file__, "--child-memory", str(root), backend]
            found = json.loads(subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True).stdout)
            gb = {k: found[k] / 1024**3 for k in ("peak", "size", "held")}
            print(
                f"{backend:7} {found['rows']:,} rows: load_archive's peak RSS +{gb['peak']:.2f} GB; the result "
                f"holds {gb['held']:.2f} GB once loaded -> {gb['peak'] / gb['held']:.2f}x (target <= 2x); its own "
                f"size estimate {gb['size']:.2f} GB -> {gb['peak'] / gb['size']:.2f}x"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--memory", action="store_true", help="measure peak RSS against the result's size instead")
    parser.add_argument("--child-memory", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_memory:
        _child_memory(Path(args.child_memory[0]), args.child_memory[1])
        return
    if args.memory:
        memory(args.leaves)
        return
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "archive"
        bodies = archived(root, args.leaves)
        rows = load_archive(root, backend="polars").height
        for backend in ("polars", "pandas"):
            t_response, t_archive = taking_turns(
                [
                    lambda b=backend: [load_response(x, backend=b) for x in bodies],  # type: ignore[misc]
                    lambda b=backend: load_archive(root, backend=b),  # type: ignore[misc]
                ]
            )
            print(
                f"{backend:7} {rows:,} rows from {len(bodies)} responses: load_archive {t_archive:.2f}s, "
                f"load_response on the same bodies {t_response:.2f}s -> {t_archive / t_response:.2f}x (target <= 1.3x)"
            )


if __name__ == "__main__":
    main()
