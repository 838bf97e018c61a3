"""Plan the next test from the account's own tweets: how often each method cries wolf on them (:func:`aa_check`), and
how many tweets a test needs to tell a lift (:func:`plan`), both by resampling the history rather than from
textbook variances, because how skewed *these* tweets are decides both.

An A/A split draws 2n of the past tweets without replacement and halves them at random (:func:`draw_splits`): any
rejection is a false alarm. For power, the same draws with the control's engagements thinned binomially by
1/(1 + lift), so the treatment's true rate is exactly (1 + lift) times the control's. Each split is tested the way
:func:`engagement_lab.compare` tests it, from per-split sufficient statistics computed for all splits at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd
import polars as pl

from ..errors import StatsInputError
from ..metrics import Mean, Metric, Ratio, resolve_metric
from ..options import check_backend
from .compare import judge_pair
from .inputs import checked_frame, collect
from .options import check_options
from .sufficient import GroupStats, tweet_arrays

__all__ = [
    "HISTORY_METHODS",
    "MIN_HISTORY",
    "History",
    "draw_splits",
    "history_arrays",
    "judged_splits",
    "split_chunks",
    "split_p_values",
]

HISTORY_METHODS = ("auto", "delta-hc3", "delta", "naive-z")
"""The methods an A/A check runs (compare's names): each split tested as compare tests it."""
MIN_HISTORY = 30
"""Fewer past tweets than this and :func:`plan` falls back to the closed form (and says so)."""


@dataclass(frozen=True)
class History:
    """The past tweets a check or a plan resamples: the metric, each tweet's numerator ``m`` and denominator ``d``
    (1 for a mean), and how many rows were left out for a missing value."""

    metric: Metric
    m: np.ndarray
    d: np.ndarray
    left_out: int

    def left_out_note(self) -> str:
        if not self.left_out:
            return ""
        return f"{self.left_out:,} tweet(s) with no {' or '.join(self.metric.columns)} value were left out."


def history_arrays(tweets: Any, metric: str | Metric, *, counts: bool = False) -> History:
    """The past tweets' numbers, checked as compare checks them; with ``counts``, the numerator must be whole counts
    (a lift is injected by thinning them)."""
    data = nw.from_native(tweets)
    columns = list(data.collect_schema().names())
    resolved = resolve_metric(metric, columns)
    if isinstance(resolved, Mean) and resolved.proportion:
        raise StatsInputError("plan and aa_check compare rates and counts; a declared proportion is not supported")
    checked, _ = checked_frame(data.with_columns(_history=nw.lit("all")).to_native(), [resolved], "_history")
    shown = ["tweet_id"] if "tweet_id" in columns else []
    collected = collect(checked.select(*shown, "_history", *resolved.columns))
    m, d = tweet_arrays(collected.to_native(), resolved, "_history").get("all", (np.empty(0), np.empty(0)))
    numerator = resolved.numerator if isinstance(resolved, Ratio) else resolved.column
    if counts:
        fractional = collected.filter((nw.col(numerator) % 1) != 0)
        if len(fractional):
            where = fractional[shown[0]].head(3).to_list() if shown else "rows"
            raise StatsInputError(
                f"{numerator!r} has fractional values in {len(fractional)} tweet(s) (e.g. {where}): a lift is "
                "injected by thinning whole counts; plan a rate of counts such as 'engagement_rate'"
            )
    return History(resolved, m, d, len(collected) - len(m))


CHUNK_CELLS = 2_000_000
"""Splits are drawn and tested in chunks of about this many tweet slots, so memory stays bounded (tens of MB)
whatever the history and the size."""


def split_chunks(history: int, n_per_arm: int, splits: int, seed: int | None) -> Iterator[np.ndarray]:
    """Row indices of ``splits`` experiments of ``n_per_arm`` tweets per arm, in consecutive chunks of rows: each row
    one split, its first ``n_per_arm`` the control. Without replacement when the history holds 2·n tweets, else
    with replacement (a projection beyond the history). One generator draws the rows in order, so the splits are
    the same whatever the chunking."""
    rng = np.random.default_rng(seed)
    width = 2 * n_per_arm
    rows = max(1, CHUNK_CELLS // width)
    for first in range(0, splits, rows):
        count = min(rows, splits - first)
        if width <= history:
            yield np.stack([rng.choice(history, width, replace=False) for _ in range(count)])
        else:
            yield rng.integers(0, history, (count, width))


def draw_splits(history: int, n_per_arm: int, splits: int, seed: int | None) -> np.ndarray:
    """Every split of :func:`split_chunks` as one array (row ``i`` is split ``i``)."""
    return np.concatenate(list(split_chunks(history, n_per_arm, splits, seed)))


def judged_splits(
    method: str, metric: Metric, m: np.ndarray, d: np.ndarray, n_per_arm: int, *, splits: int, seed: int | None,
    alpha: float, lift: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Every split's verdict p-value and effect (see :func:`split_p_values`). With ``lift``, the split's true
    relative lift is injected by binomial thinning: the control's engagements by 1/(1 + lift) for a rise, the
    treatment's by (1 + lift) for a fall, so the treatment's rate is exactly (1 + lift) times the control's."""
    thinning = np.random.default_rng(None if seed is None else [seed, 1])
    found = []
    for index in split_chunks(len(m), n_per_arm, splits, seed):
        sample = m[index]
        if lift:
            arm = slice(None, n_per_arm) if lift > 0 else slice(n_per_arm, None)
            keep = 1 / (1 + lift) if lift > 0 else 1 + lift
            sample[:, arm] = thinning.binomial(sample[:, arm].astype(np.int64), keep)
        found.append(split_p_values(method, metric, sample, d[index], alpha))
    return np.concatenate([p for p, _ in found]), np.concatenate([e for _, e in found])


def _arm_stats(m: np.ndarray, d: np.ndarray) -> list[GroupStats]:
    """One GroupStats per row of ``m``/``d`` (splits x tweets), every sum computed for all rows at once."""
    total, count = d.sum(axis=1), m.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = m - (count / total)[:, None] * d
        u = d / total[:, None]
        keep = 1 - u
        fields = np.column_stack([
            count, (m * m).sum(axis=1), total, (d * d).sum(axis=1), (m * d).sum(axis=1), (e * e).sum(axis=1),
            ((e / keep) ** 2).sum(axis=1), (u * u / keep).sum(axis=1),
            (u * u * (1 - 2 * u) / (keep * keep)).sum(axis=1), d.max(axis=1),
        ])  # fmt: skip
    names = ("sum_m", "sum_mm", "sum_d", "sum_dd", "sum_md", "ss_res", "ss_hc3", "lev_a", "lev_b", "max_d")
    return [GroupStats(n=m.shape[1], **dict(zip(names, row, strict=True))) for row in fields.tolist()]


def split_p_values(
    method: str, metric: Metric, m: np.ndarray, d: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each split's verdict p-value and its effect estimate (treatment minus control) by compare's ``method``
    (``"auto"``, ``"delta-hc3"``, ``"delta"``, ``"welch"`` or ``"naive-z"``), two-sided at ``alpha``. Rows of
    ``m``/``d`` are splits, the first half of each row the control. The sums are vectorised over splits; each
    split is then judged by :func:`~.compare.judge_pair`, the function compare itself calls (a declared 0/1
    proportion is refused upstream, so no arm is ``binary``)."""
    is_ratio = isinstance(metric, Ratio)
    if method == "auto":
        method = "delta-hc3" if is_ratio else "welch"
    options = check_options(method, "control", alpha, "holm", "all", "two-sided", None, "relative", 10_000, 0)
    half = m.shape[1] // 2
    controls, treatments = _arm_stats(m[:, :half], d[:, :half]), _arm_stats(m[:, half:], d[:, half:])
    p, effect = np.empty(len(controls)), np.empty(len(controls))
    for i, (c, t) in enumerate(zip(controls, treatments, strict=True)):
        result, tested = judge_pair(c, t, method, is_ratio=is_ratio, binary=False, options=options)
        p[i], effect[i] = tested.p_value, result.abs_diff
    return p, effect


@dataclass(frozen=True)
class AACheckRow:
    method: str
    n_per_arm: int
    splits: int
    false_alarms: float
    low: float
    high: float
    """The 95% Monte-Carlo (Wilson) interval of the false-alarm rate."""


def wilson(hits: int, trials: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval of a proportion."""
    if not trials:
        return math.nan, math.nan
    p = hits / trials
    center = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, center - half), min(1.0, center + half)


def frame_of(records: list[dict[str, Any]], backend: str) -> Any:
    """The records as a frame of ``backend`` (checked: a typo gets the closest name)."""
    if check_backend(backend) == "polars":
        return pl.DataFrame(records)
    return pd.DataFrame(records)


def sizes_for(history: int, n: int | Sequence[int] | None) -> list[int]:
    """The tweets per arm to check: as given, or 20, 50, 100 and 200 where the history holds both arms."""
    if n is None:
        found = [s for s in (20, 50, 100, 200) if 2 * s <= history]
        return found or [max(2, history // 2)]
    sizes = [n] if isinstance(n, int) else list(n)
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, int) or size < 2:
            raise StatsInputError(f"n must be whole numbers of tweets per arm, at least 2, got {size!r}")
        if 2 * size > history:
            raise StatsInputError(
                f"n={size} tweets per arm needs {2 * size} past tweets for an A/A split, and the history has "
                f"{history}; check sizes up to {history // 2}"
            )
    return sizes
