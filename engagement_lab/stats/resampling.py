"""Tweet-level (cluster) bootstrap and permutation tests for ratio-of-sums and mean metrics, vectorised.

Resampling tweets, not impressions, keeps the clustering. Each replicate draws n tweets with replacement per
arm; the (M, D) pairs are gathered as one complex64 array (half the memory traffic of two float64 gathers;
exact for counts below 2**24) and summed in complex128, in chunks over two threads. BCa uses the analytic
leave-one-out jackknife of a ratio of sums, O(n) instead of the O(n²) of a generic jackknife.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats as sps

from ..errors import StatsInputError

__all__ = ["BootstrapResult", "cluster_bootstrap", "permutation_test"]

Statistic = Literal["diff", "lift"]
_CHUNK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap distribution summary of treatment-vs-control."""

    estimate: float
    ci: tuple[float, float]
    se: float
    method: str
    n_resamples: int


def _stat(
    sum_mt: np.ndarray, sum_dt: np.ndarray, sum_mc: np.ndarray, sum_dc: np.ndarray, statistic: Statistic
) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        rt, rc = sum_mt / sum_dt, sum_mc / sum_dc
        out: np.ndarray = rt - rc if statistic == "diff" else rt / rc - 1
        return out


def _observed(
    control: tuple[np.ndarray, np.ndarray], treatment: tuple[np.ndarray, np.ndarray], statistic: Statistic
) -> float:
    sums = [np.array([np.sum(a)]) for a in (*treatment, *control)]
    return float(_stat(sums[0], sums[1], sums[2], sums[3], statistic)[0])


def _replicates(
    control: tuple[np.ndarray, np.ndarray],
    treatment: tuple[np.ndarray, np.ndarray],
    n_resamples: int,
    statistic: Statistic,
    seed: int | None,
) -> np.ndarray:
    xc = (control[0] + 1j * control[1]).astype(np.complex64)
    xt = (treatment[0] + 1j * treatment[1]).astype(np.complex64)
    chunk = max(1, _CHUNK_ELEMENTS // (len(xc) + len(xt)))
    starts = list(range(0, n_resamples, chunk))
    streams = np.random.SeedSequence(seed).spawn(len(starts))

    def work(k: int) -> np.ndarray:
        rng = np.random.default_rng(streams[k])
        size = min(chunk, n_resamples - starts[k])
        sc = np.take(xc, rng.integers(0, len(xc), size=(size, len(xc)))).sum(axis=1, dtype=np.complex128)
        st = np.take(xt, rng.integers(0, len(xt), size=(size, len(xt)))).sum(axis=1, dtype=np.complex128)
        return _stat(st.real, st.imag, sc.real, sc.imag, statistic)

    workers = min(2, os.cpu_count() or 1, len(starts))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return np.concatenate(list(pool.map(work, range(len(starts)))))


def _jackknife(
    control: tuple[np.ndarray, np.ndarray], treatment: tuple[np.ndarray, np.ndarray], statistic: Statistic
) -> np.ndarray:
    """Leave-one-tweet-out statistics for every tweet of both arms, O(n)."""
    (mc, dc), (mt, dt) = control, treatment
    smc, sdc, smt, sdt = mc.sum(), dc.sum(), mt.sum(), dt.sum()
    drop_c = _stat(np.full(len(mc), smt), np.full(len(mc), sdt), smc - mc, sdc - dc, statistic)
    drop_t = _stat(smt - mt, sdt - dt, np.full(len(mt), smc), np.full(len(mt), sdc), statistic)
    return np.concatenate([drop_c, drop_t])


def _bca(theta: float, reps: np.ndarray, jack: np.ndarray, alpha: float) -> tuple[float, float]:
    below = np.mean(reps < theta) + 0.5 * np.mean(reps == theta)
    z0 = sps.norm.ppf(np.clip(below, 1e-12, 1 - 1e-12))
    d = jack.mean() - jack
    denominator = 6 * (np.sum(d * d) ** 1.5)
    acceleration = np.sum(d**3) / denominator if denominator > 0 else 0.0
    out = []
    for q in (alpha / 2, 1 - alpha / 2):
        zq = sps.norm.ppf(q)
        adjusted = sps.norm.cdf(z0 + (z0 + zq) / (1 - acceleration * (z0 + zq)))
        out.append(float(np.quantile(reps, adjusted)))
    return out[0], out[1]


def cluster_bootstrap(
    control: tuple[np.ndarray, np.ndarray],
    treatment: tuple[np.ndarray, np.ndarray],
    *,
    statistic: Statistic = "diff",
    n_resamples: int = 10_000,
    method: Literal["percentile", "bca"] = "bca",
    alpha: float = 0.05,
    seed: int | None = 0,
) -> BootstrapResult:
    """Bootstrap interval of ΣM_T/ΣD_T − ΣM_C/ΣD_C (``"diff"``) or of the relative lift (``"lift"``), resampling
    tweets within each arm. Pass D as ones for per-tweet means."""
    if min(len(control[0]), len(treatment[0])) < 2:
        raise StatsInputError("the bootstrap needs at least 2 tweets in each group")
    if method not in ("percentile", "bca"):
        raise StatsInputError(f"method must be 'percentile' or 'bca', got {method!r}")
    control = (np.asarray(control[0], float), np.asarray(control[1], float))
    treatment = (np.asarray(treatment[0], float), np.asarray(treatment[1], float))
    theta = _observed(control, treatment, statistic)
    reps = _replicates(control, treatment, n_resamples, statistic, seed)
    reps = reps[np.isfinite(reps)]
    if method == "percentile":
        ci = (float(np.quantile(reps, alpha / 2)), float(np.quantile(reps, 1 - alpha / 2)))
    else:
        ci = _bca(theta, reps, _jackknife(control, treatment, statistic), alpha)
    return BootstrapResult(theta, ci, float(reps.std(ddof=1)), method, len(reps))


def permutation_test(
    control: tuple[np.ndarray, np.ndarray],
    treatment: tuple[np.ndarray, np.ndarray],
    *,
    statistic: Statistic = "diff",
    n_resamples: int = 10_000,
    seed: int | None = 0,
) -> float:
    """Two-sided p-value from permuting arm labels across tweets (the sharp null of no effect on any tweet).

    Each permutation's group sums are one matrix product of a 0/1 assignment matrix with the (M, D) columns.
    """
    m = np.concatenate([control[0], treatment[0]]).astype(float)
    d = np.concatenate([control[1], treatment[1]]).astype(float)
    n_t, n = len(treatment[0]), len(m)
    values = np.column_stack([m, d])
    totals = values.sum(axis=0)
    observed = _observed(control, treatment, statistic)
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_ELEMENTS // n)
    extreme = 0
    draw: Callable[[int], np.ndarray] = lambda size: rng.random((size, n)).argsort(axis=1)[:, :n_t]  # noqa: E731
    done = 0
    while done < n_resamples:
        size = min(chunk, n_resamples - done)
        mask = np.zeros((size, n), dtype=np.float64)
        np.put_along_axis(mask, draw(size), 1.0, axis=1)
        sums_t = mask @ values
        stats = _stat(sums_t[:, 0], sums_t[:, 1], totals[0] - sums_t[:, 0], totals[1] - sums_t[:, 1], statistic)
        extreme += int(np.sum(np.abs(stats) >= abs(observed) - 1e-15))
        done += size
    return (extreme + 1) / (n_resamples + 1) if math.isfinite(observed) else math.nan
