"""compare()'s options, checked before any data is read, and the multiple-testing step over the chosen family."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from ..errors import StatsInputError, check_choice, did_you_mean
from .effects import RELATIVE_CIS, Alternative, RelativeCI, check_alternative
from .multiple import CORRECTIONS, Correction, adjust_pvalues
from .results import ContrastRow

__all__ = [
    "DELTA_METHODS",
    "METHODS",
    "CompareOptions",
    "Family",
    "Method",
    "Pairs",
    "Scale",
    "adjust_options",
    "check_covariate",
    "check_options",
    "correct",
]

Method = Literal[
    "auto", "delta-hc3", "delta", "welch", "bootstrap", "permutation", "mann-whitney", "fisher", "barnard", "naive-z"
]
METHODS: tuple[Method, ...] = (
    "auto", "delta-hc3", "delta", "welch", "bootstrap", "permutation", "mann-whitney", "fisher", "barnard", "naive-z"
)  # fmt: skip
DELTA_METHODS: tuple[Method, ...] = ("auto", "delta-hc3", "delta")
"""The methods that compare delta-method estimates (the adjusted path and the exact bound build on them)."""
Pairs = Literal["control", "all"]
Scale = Literal["relative", "absolute"]
Family = Literal["all", "metric"]


@dataclass(frozen=True)
class CompareOptions:
    """compare()'s options, each one checked (see :func:`check_options`)."""

    method: Method
    pairs: Pairs
    alpha: float
    correction: Correction
    family: Family
    alternative: Alternative
    relative_ci: RelativeCI | None
    """``None``: the method's own (the log ratio for ``"delta-hc3"``, the delta method's for ``"delta"``)."""
    scale: Scale
    n_resamples: int
    seed: int | None
    covariate: str | None = None
    """The pre-period column for CUPED, once checked against the frame's columns (:func:`check_covariate`)."""


def check_options(
    method: object,
    pairs: object,
    alpha: object,
    correction: object,
    family: object,
    alternative: object,
    relative_ci: object,
    scale: object,
    n_resamples: object,
    seed: object,
) -> CompareOptions:
    """Every option checked before any data is read; a typo gets a suggestion, never a silent default."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise StatsInputError(f"alpha must be a number between 0 and 1 (e.g. 0.05), got {alpha!r}")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 100:
        raise StatsInputError(f"n_resamples must be a whole number of at least 100, got {n_resamples!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise StatsInputError(f"seed must be an int or None, got {seed!r}")
    return CompareOptions(
        method=check_choice("method", method, METHODS),
        pairs=check_choice("pairs", pairs, ("control", "all")),
        alpha=float(alpha),
        correction=check_choice("correction", correction, CORRECTIONS),
        family=check_choice("family", family, ("all", "metric")),
        alternative=check_alternative(alternative),
        relative_ci=None if relative_ci is None else check_choice("relative_ci", relative_ci, RELATIVE_CIS),
        scale=check_choice("scale", scale, ("relative", "absolute")),
        n_resamples=n_resamples,
        seed=seed,
    )


def check_covariate(options: CompareOptions, covariate: object, columns: list[str]) -> CompareOptions:
    """The options with CUPED's ``covariate`` added, once it is known to be a column of the frame."""
    if covariate is not None and (not isinstance(covariate, str) or covariate not in columns):
        hint = did_you_mean(str(covariate), columns)
        raise StatsInputError(f"covariate={covariate!r} is not a column{hint}; columns: {columns[:15]}")
    return replace(options, covariate=covariate)


def correct(per_metric: list[list[ContrastRow]], options: CompareOptions) -> tuple[ContrastRow, ...]:
    """The rows, in order, each with its ``p_adjusted``: the multiple-testing adjustment over the chosen family
    (every contrast, or each metric's)."""
    families = per_metric if options.family == "metric" else [[row for rows in per_metric for row in rows]]
    return tuple(
        replace(row, p_adjusted=float(p))
        for rows in families
        for row, p in zip(rows, adjust_pvalues([r.p_value for r in rows], options.correction), strict=True)
    )


def adjust_options(
    adjust_for: object, model: object, cluster: object, columns: list[str], by: str, options: CompareOptions
) -> list[str]:
    """The confounders to adjust for, checked: columns that exist, and options the adjusted model supports."""
    if adjust_for is None:
        if cluster is not None:
            raise StatsInputError("cluster= applies to adjusted comparisons; give adjust_for=[...] as well")
        return []
    items = [adjust_for] if isinstance(adjust_for, str) else list(adjust_for)  # type: ignore[call-overload]
    if not items:
        raise StatsInputError("adjust_for is empty; name the confounders, e.g. adjust_for=['account', 'hour_of_day']")
    for name in [*items, *([cluster] if cluster is not None else [])]:
        if not isinstance(name, str) or name not in columns:
            raise StatsInputError(
                f"{name!r} is not a column{did_you_mean(str(name), columns)}; columns: {columns[:15]}"
            )
    if by in items:
        raise StatsInputError(f"adjust_for names the group column {by!r} itself; adjust for other columns")
    check_choice("adjust_model", model, ("poisson", "negbin"))
    if options.method not in DELTA_METHODS:
        raise StatsInputError(f"method={options.method!r} cannot adjust for covariates; use method='auto'")
    if options.relative_ci is not None:
        raise StatsInputError(
            f"relative_ci={options.relative_ci!r} does not apply to adjusted comparisons: their intervals are "
            "Wald intervals of the log rate ratio from the model; leave relative_ci at its default"
        )
    if options.scale != "relative" or options.covariate:
        raise StatsInputError("adjusted comparisons estimate rate ratios: use scale='relative' and no covariate=")
    return list(dict.fromkeys(items))
