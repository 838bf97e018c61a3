"""Import-time benchmark: ``import engagement_lab`` in a fresh interpreter.

Ratio, measured in the same run: the package import against loading every public name (what ``import
engagement_lab`` cost when it imported everything eagerly: pandas, polars, scipy.stats, httpx). Each side is the
median of 7 fresh interpreters, with the interpreter's own start-up (``python -c pass``) subtracted.
Target: ``import engagement_lab`` < 0.5 s.

Run: .venv/bin/python benchmarks/import_time.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def median_seconds(code: str, runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    startup = median_seconds("pass")
    package = median_seconds("import engagement_lab") - startup
    everything = median_seconds("import engagement_lab as e; [getattr(e, n) for n in e.__all__]") - startup
    print(f"interpreter start-up: {startup:.3f} s (subtracted below)")
    print(f"import engagement_lab: {package:.3f} s (target < 0.5 s)")
    print(f"every public name loaded: {everything:.3f} s")
    print(f"ratio, every name / package import: {everything / package:.1f}x")


if __name__ == "__main__":
    main()
