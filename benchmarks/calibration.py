"""Calibration harness: every comparison method's false-alarm rate and coverage on worlds shaped like real accounts.

For each world of :func:`engagement_lab.stats.calibration.worlds` and each size (20, 40, 120, 400 tweets per
comparison), ``--runs`` A/A experiments (random halves of a random draw of the world's tweets: any rejection is a
false alarm) and as many with a known +25% lift (the control's engagements thinned binomially) give each method's
rejection rate at 5% and its interval's coverage of the lift, with their Monte-Carlo standard errors. The
resampling methods run on a fifth of the experiments (1,000 resamples each). The band the default must hold at 40
tweets and more: false alarms 5% ± 1.5 points, coverage 93.5-96.5%.

With ``--adjusted``: the adjusted comparison instead (compare(adjust_for=["account", "hour_of_day", "weekday"]),
see :mod:`engagement_lab.stats.calibration_adjusted`), on two confounded brands of 1,000 accounts at 2,000 and
5,000 tweets per comparison, ``--runs`` (at most 1,000) confounded A/A experiments and as many with a +25% lift.

Run: .venv/bin/python benchmarks/calibration.py [--runs 4000] [--quick] [--adjusted] (``make calibrate``).
"""

from __future__ import annotations

import argparse
import time

from engagement_lab.stats.calibration import METHODS, Cell, run_cell, table, top_share, worlds
from engagement_lab.stats.calibration_adjusted import ADJUSTED_METHODS, brands, run_adjusted_cell

SIZES = (20, 40, 120, 400)
DEFAULT = "delta-hc3 (default)"
RESAMPLING = ("bootstrap (BCa)", "permutation")
ADJUSTED_SIZES = (2_000, 5_000)


def compact(cells: list[Cell], methods: list[str]) -> list[str]:
    """One row per world and size, one column per method: false alarms / coverage."""
    lines = ["| world | tweets | " + " | ".join(methods) + " |", "|---|---|" + "---|" * len(methods)]
    for world in dict.fromkeys(c.world for c in cells):
        for n in dict.fromkeys(c.n for c in cells if c.world == world):
            found = {c.method: c for c in cells if c.world == world and c.n == n}
            shown = []
            for method in methods:
                c = found.get(method)
                cover = "" if c is None or c.coverage != c.coverage else f" / {c.coverage:.1%}"
                shown.append("" if c is None else f"{c.false_alarms:.1%}{cover}")
            lines.append(f"| {world} | {n} | " + " | ".join(shown) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4000, help="experiments per cell (A/A and with the lift each)")
    parser.add_argument("--quick", action="store_true", help="200 runs per cell, no resampling methods")
    parser.add_argument("--methods", nargs="*", default=list(METHODS), help=f"from {list(METHODS)}")
    parser.add_argument("--adjusted", action="store_true", help="the adjusted comparison on confounded brands")
    args = parser.parse_args()
    if args.adjusted:
        adjusted(200 if args.quick else min(args.runs, 1000))
        return
    runs = 200 if args.quick else args.runs
    methods = [m for m in args.methods if not (args.quick and m in RESAMPLING)]
    cells: list[Cell] = []
    started = time.perf_counter()
    for world in worlds().values():
        print(f"# {world.name}: {world.description}; {world.size} tweets, top 5% hold {top_share(world.d):.0%} of "
              f"the impressions", flush=True)  # fmt: skip
        for n in SIZES:
            if n > world.size:
                continue
            for method in methods:
                cell_runs = min(runs, 400) if method in RESAMPLING else runs
                cells.append(run_cell(world, method, n, runs=cell_runs))
                print("  " + table([cells[-1]])[-1], flush=True)
    print("\n" + "\n".join(table(cells)))
    print("\nfalse alarms / coverage of the +25% lift, each world and size (the README's table):\n")
    print("\n".join(compact(cells, methods)))
    print(f"\n{len(cells)} cells in {time.perf_counter() - started:.0f} s")
    default = [c for c in cells if c.method == DEFAULT and c.n >= 40]
    outside = [c for c in default if not c.within()]
    print(f"the default ({DEFAULT}) at 40 tweets and more: {len(default) - len(outside)} of {len(default)} cells in "
          "the band (false alarms 3.5-6.5%, coverage 93.5-96.5%)")  # fmt: skip
    for c in outside:
        print(f"  outside: {c.world} n={c.n}: false alarms {c.false_alarms:.1%}, coverage {c.coverage:.1%}")


def adjusted(runs: int) -> None:
    """The adjusted comparison's cells: each brand, size and way of computing its errors."""
    cells: list[Cell] = []
    started = time.perf_counter()
    for brand in brands().values():
        print(f"# {brand.name}: {brand.description}; {brand.size} tweets", flush=True)
        for n in ADJUSTED_SIZES:
            for method in ADJUSTED_METHODS:
                cells.append(run_adjusted_cell(brand, method, n, runs=runs))
                print("  " + table([cells[-1]])[-1], flush=True)
    print("\n" + "\n".join(table(cells)))
    print(f"\n{len(cells)} cells in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
