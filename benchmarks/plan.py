"""Planning benchmarks: the A/A self-check's speed, and how well a plan's predicted power holds on fresh tweets.

(1) aa_check with the default method, 1,000 A/A splits x 4 sizes (20, 50, 100, 200 tweets per arm) of a 2,000-tweet
    heavy-tailed history (target < 10 s on 2 cores), vs the loop a notebook would write: one compare() call per
    split on the split's rows, timed on 40 splits per size and scaled to 1,000 (it is linear in splits). Both sides
    give the same verdicts (tests/stats/test_next_test.py checks it split by split).
(2) The back-test: on 12 heavy-tailed histories of 1,668 tweets (and 376), the power plan() predicts for a +20% lift
    against the power realised on 3,000 fresh experiments from the same generator with every treatment tweet's
    rate truly 20% higher: the mean error (the planner's bias) and the spread of a single history's error.

Run: .venv/bin/python benchmarks/plan.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pandas as pd
from timing import best

import engagement_lab as el
from engagement_lab.metrics import Ratio
from engagement_lab.stats.history import draw_splits, split_p_values

SIZES = (20, 50, 100, 200)


def skewed(seed: int, n: int, sigma: float = 1.2, lift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Impressions lognormal(σ) around 2,000, each tweet's rate lognormal around 2% (lower on the most seen
    tweets), Poisson engagements; ``lift`` raises every rate."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(n)
    w = -0.3 * z + math.sqrt(1 - 0.09) * rng.standard_normal(n)
    d = np.round(np.exp(math.log(2000) + sigma * z)).clip(1)
    mean = d * 0.02 * np.exp(0.5 * w - 0.125) * (1 + lift)
    return np.minimum(rng.poisson(mean), d).astype(float), d


def history(seed: int, n: int) -> pd.DataFrame:
    m, d = skewed(seed, n)
    return pd.DataFrame({"tweet_id": [str(10**18 + i) for i in range(n)], "impressions": d, "engagements": m})


def compare_loop(past: pd.DataFrame, splits: int) -> list[float]:
    rates = []
    for n in SIZES:
        arm = np.repeat(["control", "treatment"], n)
        p = [
            el.compare(past.iloc[s].assign(arm=arm), metric="engagement_rate", by="arm", control="control")
            .to_frame()["p_value"]
            .iloc[0]
            for s in draw_splits(len(past), n, splits, 0)
        ]
        rates.append(float(np.mean(np.array(p) < 0.05)))
    return rates


def speed(quick: bool) -> None:
    past = history(1, 2000)
    splits = 200 if quick else 1000
    loop_splits = 10 if quick else 40
    ours = best(lambda: el.aa_check(past, n=list(SIZES), splits=splits, methods=["auto"]), repeat=3)
    loop = best(lambda: compare_loop(past, loop_splits), repeat=3) * splits / loop_splits
    print(f"(1) aa_check, default method, {splits:,} splits x {len(SIZES)} sizes of 2,000 tweets: {ours:.2f} s")
    print(f"    a loop of compare() calls (timed on {loop_splits} splits per size, scaled): {loop:.1f} s")
    print(f"    ratio: {loop / ours:.0f}x faster; target < 10 s: {'met' if ours < 10 else 'MISSED'}")
    started = time.perf_counter()
    print("    " + el.plan(past, lift=0.1, splits=splits).sentence(), f"({time.perf_counter() - started:.1f} s)")


def realised_power(n: int, lift: float, experiments: int) -> float:
    m = np.empty((experiments, 2 * n))
    d = np.empty_like(m)
    for i in range(experiments):
        (mc, dc), (mt, dt) = skewed(10_000 + i, n), skewed(20_000 + i, n, lift=lift)
        m[i], d[i] = np.r_[mc, mt], np.r_[dc, dt]
    p, effect = split_p_values("auto", Ratio("m", "d"), m, d, 0.05)
    return float(np.mean((p < 0.05) & (effect > 0)))


def back_test(quick: bool) -> None:
    histories = 4 if quick else 12
    experiments = 1000 if quick else 3000
    print(f"(2) back-test, +20% lift: predicted power from {histories} histories vs {experiments:,} fresh experiments")
    for size in (1668, 376):
        plans = [el.plan(history(40 + s, size), lift=0.2, splits=500, max_per_arm=10) for s in range(histories)]
        for n in (40, 100):
            truth = realised_power(n, 0.2, experiments)
            errors = np.array([found.power_at(n) for found in plans]) - truth
            print(
                f"    history {size:5,} tweets, {n:3d} per arm: realised {truth:.1%}, mean error {errors.mean():+.1%}, "
                f"sd {errors.std(ddof=1):.1%}, worst {errors[np.argmax(abs(errors))]:+.1%}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer splits and histories (a smoke run)")
    quick = parser.parse_args().quick
    speed(quick)
    back_test(quick)


if __name__ == "__main__":
    main()
