"""Stats benchmarks, each against a baseline measured in the same run.

(1) compare() on 1,000,000 tweets x 8 groups (all 28 pairs, Holm), given a pandas and a polars frame, vs the way
    a notebook would do it: pandas groupby to per-group variances, then scipy's t for each pair, then Holm (target:
    compare at least 2x faster on both), for the default (leverage-corrected variances and degrees of freedom, the
    lift on the log scale) and for the peers' delta method (method="delta"). The delta loop on polars is printed
    for scale.
(2) cluster bootstrap, 10,000 resamples on 100,000 tweets, vs scipy.stats.bootstrap resampling indices, for the
    percentile and BCa intervals (target >= 10x faster, same interval within Monte Carlo error).
(3) compare(method="bootstrap") on 1,000,000 tweets x 10,000 resamples, both scales' BCa intervals and p-values
    (target < 60 s), vs a plain numpy loop (one index draw and gather per resample and statistic) timed on 200
    resamples and scaled to 10,000 (it is linear in resamples).

Run: .venv/bin/python benchmarks/stats.py [--quick]
"""

from __future__ import annotations

import os

# The baseline loops' dot products (e @ e) run on OpenBLAS, whose idle workers then spin on the second core for a
# while. On two cores that takes the core from whichever side runs next in the turns: compare's group-by took 36 ms
# instead of 26 right after a loop, and 26 after a loop whose BLAS had one thread. One thread leaves the loops as fast
# as before (80-106 ms against 83-125 ms), and compare calls no BLAS routine at these sizes. Set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import itertools
import time
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from scipy import stats as sps
from timing import best, taking_turns

from engagement_lab.stats import adjust_pvalues, cluster_bootstrap, compare


def tweets(n: int, groups: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    impressions = rng.lognormal(7, 1, n).round() + 1
    return pd.DataFrame(
        {
            "group": rng.integers(0, groups, n).astype(str),
            "impressions": impressions,
            "engagements": rng.binomial(impressions.astype(np.int64), rng.beta(30, 1000, n)).astype(float),
        }
    )


def _pairs(per: dict[Any, tuple[float, float, int]]) -> pd.DataFrame:
    """Each pair of groups from (rate, variance of the rate, tweets): Welch t on the lift, then Holm."""
    rows = []
    for a, b in itertools.combinations(sorted(per), 2):
        (ra, va, na), (rb, vb, nb) = per[a], per[b]
        dof = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
        lift, se = rb / ra - 1, np.sqrt(vb / ra**2 + rb**2 * va / ra**4)
        rows.append({"control": a, "treatment": b, "rel_lift": lift, "p_value": 2 * sps.t.sf(abs(lift / se), dof)})
    out = pd.DataFrame(rows)
    out["p_adjusted"] = adjust_pvalues(out["p_value"].to_numpy(), "holm")
    return out


def baseline_compare(df: pd.DataFrame) -> pd.DataFrame:
    per = {}
    for name, g in df.groupby("group"):
        m, d = g["engagements"], g["impressions"]
        r = m.sum() / d.sum()
        per[name] = (r, ((m - r * d).var(ddof=1)) / (len(g) * d.mean() ** 2), len(g))
    return _pairs(per)


def baseline_compare_hc3(df: pd.DataFrame) -> pd.DataFrame:
    """The default's numbers by the same minimal loop: per group the leverage-corrected variance of the rate and its
    degrees of freedom from the impression shares, then each pair's log ratio against Welch's t, then Holm."""
    per = {}
    for name, g in df.groupby("group"):
        m, d = g["engagements"].to_numpy(float), g["impressions"].to_numpy(float)
        total = d.sum()
        r, u = m.sum() / total, d / total
        e = (m - r * d) / (1 - u)
        dof = 1 / ((u * u / (1 - u)).sum() ** 2 + (u * u * (1 - 2 * u) / (1 - u) ** 2).sum())
        per[name] = (r, (e @ e) / total**2, dof)
    rows = []
    for a, b in itertools.combinations(sorted(per), 2):
        (ra, va, da), (rb, vb, db) = per[a], per[b]
        la, lb = va / ra**2, vb / rb**2
        dof = (la + lb) ** 2 / (la**2 / da + lb**2 / db)
        t = np.log(rb / ra) / np.sqrt(la + lb)
        rows.append({"control": a, "treatment": b, "p_value": 2 * sps.t.sf(abs(t), dof)})
    out = pd.DataFrame(rows)
    out["p_adjusted"] = adjust_pvalues(out["p_value"].to_numpy(), "holm")
    return out


def polars_loop(df: pl.DataFrame) -> pd.DataFrame:
    """The same minimal loop written for a polars frame: one group_by for the sums, then scipy per pair."""
    m, d = pl.col("engagements"), pl.col("impressions")
    sums = df.group_by("group").agg(
        pl.len().alias("n"), m.sum().alias("m"), d.sum().alias("d"), (m * m).sum().alias("mm"),
        (d * d).sum().alias("dd"), (m * d).sum().alias("md"),
    )  # fmt: skip
    per = {}
    for g, n, sm, sd, smm, sdd, smd in sums.sort("group").iter_rows():
        r = sm / sd
        var = (smm - 2 * r * smd + r * r * sdd - (sm - r * sd) ** 2 / n) / (n - 1)
        per[g] = (r, var / (n * (sd / n) ** 2), n)
    return _pairs(per)


def bench_compare(n: int) -> None:
    df = tweets(n, 8)
    frames = {"pandas": df, "polars": pl.from_pandas(df)}
    for method, loop in (("auto", baseline_compare_hc3), ("delta", baseline_compare)):
        base = loop(df)
        runs = [lambda loop=loop: loop(df)]  # type: ignore[misc]
        for frame in frames.values():
            ours = compare(frame, metric="engagement_rate", by="group", pairs="all", method=method).to_frame()
            # the default reads each group's leverages off its power sums to first order when no tweet holds 0.1% of
            # its group's impressions (a standard error short by at most 1.5e-6 of itself): here p within 1e-7
            assert np.allclose(ours["p_value"], base["p_value"], rtol=1e-6 if method == "auto" else 1e-9, atol=1e-15)
            runs.append(lambda f=frame, m=method: compare(f, metric="engagement_rate", by="group", pairs="all",  # type: ignore[misc]
                                                          method=m))  # fmt: skip
        t_base, *t_ours = taking_turns(runs, rounds=7)
        for backend, t in zip(frames, t_ours, strict=True):
            print(
                f"(1) compare(method={method!r}) on {backend}, {n:,} tweets x 8 groups, 28 pairs + Holm (input checks "
                f"included): {t * 1000:.0f} ms; pandas groupby + scipy loop {t_base * 1000:.0f} ms -> "
                f"{t_base / t:.1f}x (target >= 2x; same p-values; best of 7 each, taking turns)"
            )
    t_polars_loop = best(lambda: polars_loop(frames["polars"]), 7)
    assert np.allclose(polars_loop(frames["polars"])["p_value"], baseline_compare(df)["p_value"], rtol=1e-6)
    print(f"    for scale: the delta loop on a polars group_by (no input checks) takes {t_polars_loop * 1000:.0f} ms")


def bench_bootstrap(n: int, resamples: int, bca_baseline: bool) -> None:
    df = tweets(n, 2, seed=1)
    arms = {g: (x["engagements"].to_numpy(), x["impressions"].to_numpy()) for g, x in df.groupby("group")}
    (mc, dc), (mt, dt) = arms["0"], arms["1"]

    def stat(ic: np.ndarray, it: np.ndarray, axis: int = -1) -> np.ndarray:
        return mt[it].sum(axis) / dt[it].sum(axis) - mc[ic].sum(axis) / dc[ic].sum(axis)

    for method, scipy_method in (("percentile", "percentile"), ("bca", "BCa")):
        if method == "bca" and not bca_baseline:
            continue
        started = time.perf_counter()
        ours = cluster_bootstrap(arms["0"], arms["1"], n_resamples=resamples, method=method, seed=1)  # type: ignore[arg-type]
        t_ours = time.perf_counter() - started
        started = time.perf_counter()
        ref = sps.bootstrap(
            (np.arange(len(mc)), np.arange(len(mt))),
            stat,
            n_resamples=resamples,
            method=scipy_method,
            vectorized=True,
            rng=2,
            batch=50,
        )
        t_ref = time.perf_counter() - started
        low, high = ref.confidence_interval
        mc_error = max(abs(ours.ci[0] - low), abs(ours.ci[1] - high)) / (high - low)
        print(
            f"(2) bootstrap {method:10} {n:,} tweets x {resamples:,}: ours {t_ours:.2f}s, scipy {t_ref:.2f}s -> "
            f"{t_ref / t_ours:.1f}x; interval ends differ by {mc_error:.1%} of its width"
        )


def bench_compare_bootstrap(n: int, resamples: int) -> None:
    df = tweets(n, 2, seed=3)
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        compare(df, metric="engagement_rate", by="group", method="bootstrap", n_resamples=resamples)
        runs.append(time.perf_counter() - started)
    t_ours = float(np.median(runs))
    arms = [(g["engagements"].to_numpy(), g["impressions"].to_numpy()) for _, g in df.groupby("group")]
    rng = np.random.default_rng(0)
    probe = 200
    loops = []
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(probe):
            for _statistic in ("diff", "lift"):
                sums = []
                for m, d in arms:
                    i = rng.integers(0, len(m), len(m))
                    sums.append(m[i].sum() / d[i].sum())
        loops.append((time.perf_counter() - started) * resamples / probe)
    t_loop = float(np.median(loops))
    print(
        f"(3) compare(method='bootstrap') {n:,} tweets x {resamples:,} resamples: {t_ours:.1f}s (median of 3; "
        f"target < 60 s); plain numpy loop scaled from {probe} resamples {t_loop:.1f}s -> {t_loop / t_ours:.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, no scipy BCa baseline")
    args = parser.parse_args()
    bench_compare(100_000 if args.quick else 1_000_000)
    bench_bootstrap(20_000 if args.quick else 100_000, 2_000 if args.quick else 10_000, bca_baseline=not args.quick)
    bench_compare_bootstrap(100_000 if args.quick else 1_000_000, 2_000 if args.quick else 10_000)


if __name__ == "__main__":
    main()
