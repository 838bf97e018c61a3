"""Poisson regression with categorical covariates absorbed as fixed effects, and its robust errors.

The adjusted model (see :mod:`engagement_lab.stats.adjusted`) holds accounts, hours and weekdays fixed. With one
indicator column per level the model matrix is tweets × levels (a million tweets of 2,000 accounts: 16 GB), so
here no such matrix is built. The model is fitted by IRLS (Fisher scoring, exact for the canonical log link) on
the normal equations, assembled from grouped sums (``np.bincount`` over level codes, O(tweets) per iteration):

    [A  C] [α]   [a]      A = diag(Σ w per level of the absorbed covariate, the one with most levels)
    [Cᵀ B] [γ] = [b]      C, B = sums of w over the crosstabs of the absorbed levels with the other terms

and the absorbed block eliminated in closed form (``A`` is diagonal): ``S = B − Cᵀ A⁻¹ C``, the normal equations of
the other terms demeaned within the absorbed levels, whose size is the number of *other* terms (groups, the
smaller covariates' levels, numbers), not of tweets or accounts. This is the concentrated likelihood of
fixest/pyfixest with the demeaning done exactly, in one pass, instead of by alternating projections.

Written here rather than calling pyfixest's ``fepois`` because (pyfixest 0.60): it offers HC1 but refuses HC2/HC3
with fixed effects, and HC3 is what keeps these intervals calibrated when a few high-impression tweets carry high
leverage (see :func:`engagement_lab.stats.adjusted.hc3`); the exact elimination gives the GLM hat values in closed
form (below), which alternating projections do not. pyfixest stays the cross-check in the tests and the
benchmark (``benchmarks/adjusted.py``).

Hat values: for tweet ``i`` in absorbed level ``l`` with other-terms row ``rᵢ``,
``hᵢ = μᵢ (1/A_l + r̃ᵢᵀ S⁻¹ r̃ᵢ)`` with ``r̃ᵢ = rᵢ − (C/A)_l`` (rᵢ demeaned within its level), and the rows of the
bread ``(DᵀWD)⁻¹Dᵀ`` for the group terms are ``(S⁻¹ r̃ᵢ)_groups``; both are gathered from small tables by codes.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import linalg
from scipy.linalg import lapack

from ..errors import StatsInputError

__all__ = [
    "Block",
    "FixedEffectsFit",
    "Terms",
    "available_memory",
    "check_sizes",
    "check_tweets",
    "fit_poisson",
    "independent",
    "memory_needed",
]

TOLERANCE = 1e-12
"""IRLS stops when the deviance changes by less than this, relative (fixest's default is 1e-8; Newton's steps
converge quadratically, so the few extra iterations buy estimates equal to a dense fit's to 1e-10)."""
MAX_ITERATIONS = 100
RANK_TOLERANCE = 1e-10
"""A term whose scaled pivot falls below this is a combination of others (nested covariates): left out."""


@dataclass(frozen=True)
class Block:
    """A categorical term as level codes ``0..levels-1``; level 0 is the reference (no column of its own)."""

    name: str
    codes: np.ndarray
    levels: int


@dataclass(frozen=True)
class Terms:
    """The model's right-hand side without a dense matrix: the absorbed covariate's codes (every level its own
    intercept), indicator blocks (the groups first, then the other categorical covariates) and numeric columns."""

    absorbed: Block
    blocks: tuple[Block, ...]
    numeric: np.ndarray
    """(tweets, numeric covariates), centred."""
    columns: tuple[int, ...] = field(init=False)
    """Where each block's columns start in the other-terms vector, then where the numeric ones start."""

    def __post_init__(self) -> None:
        starts, at = [], 0
        for block in self.blocks:
            starts.append(at)
            at += block.levels - 1
        starts.append(at)
        object.__setattr__(self, "columns", tuple(starts))

    @property
    def width(self) -> int:
        """The number of other terms (block columns and numeric columns)."""
        return self.columns[-1] + int(self.numeric.shape[1])

    @property
    def parameters(self) -> int:
        """Every coefficient of the equivalent dense model: a constant, the indicators and the numbers."""
        return self.absorbed.levels + self.width

    def positions(self, block: int) -> np.ndarray:
        """Each tweet's column for ``blocks[block]``, or ``width`` (a zero column) for its reference level."""
        b = self.blocks[block]
        return np.where(b.codes == 0, self.width, self.columns[block] + b.codes - 1)


@dataclass(frozen=True)
class FixedEffectsFit:
    """The group terms' coefficients (the first block's columns) and their robust covariance."""

    coefficients: np.ndarray
    covariance: np.ndarray
    mu: np.ndarray
    iterations: int


def available_memory(cgroup_root: str = "/sys/fs/cgroup", membership: str = "/proc/self/cgroup") -> int:
    """Bytes the process can still use: MemAvailable where /proc says it (else half the physical memory), and no
    more than the headroom its own cgroup and every ancestor leave (a container or a systemd slice), which
    MemAvailable does not see. Reclaimable page cache (inactive files) counts as free, as in MemAvailable."""
    free = _meminfo_available()
    headroom = _cgroup_headroom(cgroup_root, membership)
    return free if headroom is None else min(free, headroom)


def _cgroup_headroom(root: str, membership: str) -> int | None:
    """The least room left under any memory limit on the way from this process's cgroup up to the root: cgroup
    v2 (``0::/path``: memory.max, memory.current, inactive_file of memory.stat) or v1 (``N:...memory...:/path``:
    memory.limit_in_bytes, memory.usage_in_bytes, total_inactive_file). None when no limit is set or readable."""
    try:
        lines = Path(membership).read_text().splitlines()
    except OSError:
        return None
    layouts = []
    for line in lines:
        if line.count(":") < 2:  # not a cgroup line
            continue
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # v2: one unified hierarchy
            layouts.append((Path(root), path, "memory.max", "memory.current", "inactive_file"))
        elif "memory" in controllers.split(","):
            layouts.append((Path(root) / "memory", path, "memory.limit_in_bytes", "memory.usage_in_bytes",
                            "total_inactive_file"))  # fmt: skip
    least: int | None = None
    for base, path, limit_file, usage_file, inactive_key in layouts:
        folder = base / path.strip("/")
        while True:
            room = _room(folder, limit_file, usage_file, inactive_key)
            if room is not None:
                least = room if least is None else min(least, room)
            if folder == base or base not in folder.parents:
                break
            folder = folder.parent
    return least


def _room(folder: Path, limit_file: str, usage_file: str, inactive_key: str) -> int | None:
    try:
        limit = (folder / limit_file).read_text().strip()
        usage = (folder / usage_file).read_text().strip()
    except OSError:
        return None
    if not (limit.isdigit() and usage.isdigit()) or int(limit) >= 1 << 60:  # "max", or v1's huge number: no limit
        return None
    inactive = 0
    try:
        for entry in (folder / "memory.stat").read_text().splitlines():
            key, _, value = entry.partition(" ")
            if key == inactive_key and value.strip().isdigit():
                inactive = int(value)
    except OSError:
        pass
    return max(0, int(limit) - max(0, int(usage) - inactive))


def _meminfo_available() -> int:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")) // 2
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def memory_needed(tweets: int, absorbed_levels: int, width: int, blocks: int) -> int:
    """Bytes the fit needs at its peak: per tweet the working vectors (y, offset, μ, weights, response, η, hat
    values and codes, about 24 float64s plus one per term block and numeric column), and the dense tables
    (C is absorbed levels × other terms, S and its inverse other terms²), each held a few times over."""
    per_tweet = 8 * (24 + 3 * blocks)
    return tweets * per_tweet + 8 * (4 * absorbed_levels * (width + 1) + 6 * (width + 1) ** 2)


def _sums(terms: Terms, weights: np.ndarray, values: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Grouped sums of ``weights`` over the crosstabs (A, C, B) or, given ``values``, of ``weights·values`` per
    level and term (a, b): the normal equations, never a tweets × levels matrix."""
    absorbed, blocks, numeric = terms.absorbed, terms.blocks, terms.numeric
    k, la = terms.width, absorbed.levels
    starts = terms.columns
    if values is not None:
        wz = weights * values
        a = np.bincount(absorbed.codes, wz, minlength=la)
        b = np.zeros(k)
        for j, block in enumerate(blocks):
            b[starts[j] : starts[j + 1]] = np.bincount(block.codes, wz, minlength=block.levels)[1:]
        if numeric.shape[1]:
            b[starts[-1] :] = wz @ numeric
        return a, b
    a = np.bincount(absorbed.codes, weights, minlength=la)
    c = np.zeros((la, k))
    big_b = np.zeros((k, k))
    weighted = numeric * weights[:, None] if numeric.shape[1] else numeric
    for j, block in enumerate(blocks):
        lo, hi, lv = starts[j], starts[j + 1], block.levels
        cross = np.bincount(absorbed.codes * lv + block.codes, weights, minlength=la * lv).reshape(la, lv)
        c[:, lo:hi] = cross[:, 1:]
        diagonal = np.bincount(block.codes, weights, minlength=lv)[1:]
        big_b[np.arange(lo, hi), np.arange(lo, hi)] = diagonal
        for i in range(j):
            other = blocks[i]
            lo2, hi2, lv2 = starts[i], starts[i + 1], other.levels
            tab = np.bincount(other.codes * lv + block.codes, weights, minlength=lv2 * lv).reshape(lv2, lv)
            big_b[lo2:hi2, lo:hi] = tab[1:, 1:]
            big_b[lo:hi, lo2:hi2] = tab[1:, 1:].T
        for q in range(numeric.shape[1]):
            column = np.bincount(block.codes, weighted[:, q], minlength=lv)[1:]
            big_b[lo:hi, starts[-1] + q] = column
            big_b[starts[-1] + q, lo:hi] = column
    for q in range(numeric.shape[1]):
        c[:, starts[-1] + q] = np.bincount(absorbed.codes, weighted[:, q], minlength=la)
    if numeric.shape[1]:
        big_b[starts[-1] :, starts[-1] :] = weighted.T @ numeric
    return a, c, big_b


def _schur(a: np.ndarray, c: np.ndarray, big_b: np.ndarray) -> np.ndarray:
    """``B − Cᵀ A⁻¹ C``: the other terms' normal equations with the absorbed levels eliminated."""
    s: np.ndarray = big_b - c.T @ (c / a[:, None])
    symmetric: np.ndarray = (s + s.T) / 2
    return symmetric


def independent(terms: Terms, weights: np.ndarray) -> tuple[np.ndarray, bool]:
    """The other terms that are not combinations of the rest (nested covariates, levels fully absorbed), and
    whether the group terms are among them (the groups can be told apart from the covariates).

    A pivoted Cholesky (LAPACK ``pstrf``) of the non-group terms' eliminated normal matrix, each term scaled by its
    own undemeaned weight so that a term lying in the absorbed levels' span shows a pivot near 0; then the groups
    are identified when their matrix, with the kept terms also eliminated, is positive definite."""
    groups = terms.blocks[0].levels - 1
    a, c, big_b = _sums(terms, weights)
    s = _schur(a, c, big_b)
    scale = np.sqrt(np.maximum(np.diag(big_b), np.finfo(float).tiny))
    scaled = s / scale[:, None] / scale[None, :]
    rest = scaled[groups:, groups:]
    kept: np.ndarray = np.arange(0)
    if rest.shape[0]:
        _, pivots, rank, _ = lapack.dpstrf(rest, tol=RANK_TOLERANCE, lower=1)
        kept = np.sort(pivots[:rank] - 1) + groups
    keep = np.concatenate([np.arange(groups), kept]).astype(np.int64)
    own = scaled[:groups, :groups]
    if kept.size:
        across = scaled[np.ix_(np.arange(groups), kept)]
        inner = scaled[np.ix_(kept, kept)]
        own = own - across @ linalg.solve(inner, across.T, assume_a="pos")
    smallest = float(np.linalg.eigvalsh((own + own.T) / 2).min()) if groups else 1.0
    return keep, smallest > RANK_TOLERANCE


def fit_poisson(
    y: np.ndarray, offset: np.ndarray, terms: Terms, keep: np.ndarray, *, cluster: np.ndarray | None = None
) -> FixedEffectsFit:
    """IRLS for ``log E[y] = offset + α_absorbed + r·γ`` over the columns ``keep`` of the other terms, and the
    group terms' HC3 (or, with ``cluster`` codes, cluster-robust) covariance."""
    groups = terms.blocks[0].levels - 1
    mu = (y + y.mean()) / 2  # statsmodels' start
    eta = np.log(mu)
    deviance_old = math.inf
    positions = [terms.positions(j) for j in range(len(terms.blocks))]
    iteration = 0
    while iteration < MAX_ITERATIONS:
        iteration += 1
        z = eta - offset + (y - mu) / mu
        a, c, big_b = _sums(terms, mu)
        ra, rb = _sums(terms, mu, z)
        ck = c[:, keep]
        s = _schur(a, ck, big_b[np.ix_(keep, keep)])
        gamma_k = linalg.solve(s, rb[keep] - ck.T @ (ra / a), assume_a="pos")
        alpha = (ra - ck @ gamma_k) / a
        gamma = np.zeros(terms.width + 1)
        gamma[keep] = gamma_k
        eta_new = offset + _linear(terms, positions, alpha, gamma)
        deviance, mu_new, eta_new = _step(y, eta, eta_new, deviance_old)
        eta, mu = eta_new, mu_new
        if abs(deviance - deviance_old) <= TOLERANCE * (abs(deviance) + 0.1):
            break
        deviance_old = deviance
    else:
        raise StatsInputError(
            f"the adjusted Poisson model did not converge in {MAX_ITERATIONS} iterations; adjust for fewer "
            "covariates or coarser levels"
        )
    coefficients = gamma[:groups]
    covariance = _robust(y, mu, terms, positions, keep, cluster)
    return FixedEffectsFit(coefficients, covariance, mu, iteration)


def _linear(terms: Terms, positions: list[np.ndarray], alpha: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """α_l + rᵢ·γ for every tweet (``gamma`` padded with a zero for the reference levels' column)."""
    out: np.ndarray = alpha[terms.absorbed.codes]
    for where in positions:
        out = out + gamma[where]
    if terms.numeric.shape[1]:
        out = out + terms.numeric @ gamma[terms.columns[-1] : terms.width]
    return out


def _step(y: np.ndarray, eta: np.ndarray, eta_new: np.ndarray, old: float) -> tuple[float, np.ndarray, np.ndarray]:
    """The new linear predictor, halved back towards the old while the deviance is not finite or rises."""
    for _ in range(30):
        mu = np.exp(eta_new)
        deviance = _deviance(y, mu)
        if math.isfinite(deviance) and (not math.isfinite(old) or deviance <= old * (1 + 1e-9) + 1e-9):
            return deviance, mu, eta_new
        eta_new = (eta + eta_new) / 2
    return deviance, mu, eta_new


def _deviance(y: np.ndarray, mu: np.ndarray) -> float:
    """Poisson deviance, 2 Σ y·log(y/μ) − (y − μ)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
        return float(2 * np.sum(ratio - (y - mu)))


def _robust(
    y: np.ndarray,
    mu: np.ndarray,
    terms: Terms,
    positions: list[np.ndarray],
    keep: np.ndarray,
    cluster: np.ndarray | None,
) -> np.ndarray:
    """The group terms' sandwich covariance: HC3 (hat values in closed form), or clustered on ``cluster`` codes
    with statsmodels' small-sample factor G/(G−1)·(n−1)/(n−K)."""
    k = terms.width
    groups = terms.blocks[0].levels - 1
    a, c, big_b = _sums(terms, mu)
    ck = c[:, keep]
    inverse_k = linalg.inv(_schur(a, ck, big_b[np.ix_(keep, keep)]))
    inverse = np.zeros((k + 1, k + 1))
    inverse[np.ix_(keep, keep)] = (inverse_k + inverse_k.T) / 2
    means = np.zeros((terms.absorbed.levels, k + 1))
    means[:, keep] = ck / a[:, None]  # (C/A): each absorbed level's weighted mean of the other terms
    rows = inverse[:groups]  # the group terms' rows of S⁻¹
    influence = _apply(terms, positions, rows, means)  # (S⁻¹ r̃ᵢ)_groups, tweets × groups
    residual = y - mu
    if cluster is not None:
        scores = np.column_stack([np.bincount(cluster, influence[:, g] * residual) for g in range(groups)]).reshape(
            -1, groups
        )
        n_clusters, n = int(cluster.max()) + 1, len(y)
        factor = n_clusters / (n_clusters - 1) * (n - 1) / (n - terms.absorbed.levels - len(keep))
        clustered: np.ndarray = factor * scores.T @ scores
        return clustered
    leverage = mu * (1 / a[terms.absorbed.codes] + _quadratic(terms, positions, inverse, means))
    free = 1.0 - leverage
    # a tweet its own level fits exactly (an account with one tweet: h = 1) has no influence on the groups' terms
    # (its demeaned row is 0); left at 1e-12 its rounding residual would be divided by 1e-24
    weights = np.where(free > 1e-10, residual**2 / np.maximum(free, 1e-10) ** 2, 0.0)
    covariance: np.ndarray = (influence * weights[:, None]).T @ influence
    return covariance


def _apply(terms: Terms, positions: list[np.ndarray], rows: np.ndarray, means: np.ndarray) -> np.ndarray:
    """``rows · r̃ᵢ`` for every tweet (``rows``: m × (width+1), zero in the padding column): the demeaned
    other-terms row of each tweet times a small matrix, by gathers."""
    start = terms.columns[-1]
    per_level = means @ rows.T  # absorbed levels × m
    out: np.ndarray = -per_level[terms.absorbed.codes]
    for where in positions:
        out = out + rows.T[where]
    if terms.numeric.shape[1]:
        out = out + terms.numeric @ rows[:, start : terms.width].T
    return out


def _quadratic(terms: Terms, positions: list[np.ndarray], inverse: np.ndarray, means: np.ndarray) -> np.ndarray:
    """``r̃ᵢᵀ S⁻¹ r̃ᵢ`` for every tweet, as r·S⁻¹·r − 2 r·S⁻¹·m + m·S⁻¹·m (m: the level's mean row), by gathers."""
    start, k = terms.columns[-1], terms.width
    numeric = terms.numeric
    projected = means @ inverse  # absorbed levels × (width+1)
    out: np.ndarray = np.einsum("lj,lj->l", projected, means)[terms.absorbed.codes]
    for i, left in enumerate(positions):
        out = out - 2 * projected[terms.absorbed.codes, left]
        out = out + inverse[left, left]
        for right in positions[:i]:
            out = out + 2 * inverse[left, right]
        if numeric.shape[1]:
            out = out + 2 * np.einsum("iq,iq->i", numeric, inverse[left, start:k])
    if numeric.shape[1]:
        out = out - 2 * np.einsum("iq,iq->i", numeric, projected[terms.absorbed.codes, start:k])
        out = out + np.einsum("iq,qr,ir->i", numeric, inverse[start:k, start:k], numeric)
    return out


def check_sizes(tweets: int, terms: Terms) -> None:
    """Refuse, before the fit, a model the machine cannot hold, with its size and a way out."""
    needed = memory_needed(tweets, terms.absorbed.levels, terms.width, len(terms.blocks))
    free = available_memory()
    if needed > free:
        raise StatsInputError(
            f"the adjusted model of {tweets:,} tweets with {terms.absorbed.levels:,} levels of "
            f"{terms.absorbed.name!r} absorbed and {terms.width:,} other terms needs about {_size(needed)}; "
            f"this machine has {_size(free)} free. Adjust for coarser levels (the covariate with most levels "
            "costs least: it is absorbed), or compare a sample or a shorter period."
        )


def check_tweets(tweets: int, columns: int) -> None:
    """Refuse, before any row is read, a number of tweets whose columns and working vectors alone exceed the
    memory free (the levels are not known yet: those are checked by :func:`check_sizes` once read)."""
    needed = tweets * 8 * columns + memory_needed(tweets, 1, 0, columns)
    free = available_memory()
    if needed > free:
        raise StatsInputError(
            f"the adjusted model of {tweets:,} tweets needs about {_size(needed)} before its levels are counted; "
            f"this machine has {_size(free)} free. Compare a sample or a shorter period (or run on a machine with "
            "more memory)."
        )


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"
