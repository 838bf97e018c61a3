"""Multiple-testing adjustment: Bonferroni, Holm, Benjamini–Hochberg, Benjamini–Yekutieli (spec §b4)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np

from ..errors import StatsInputError, check_choice

__all__ = ["CORRECTIONS", "Correction", "adjust_pvalues"]

Correction = Literal["none", "bonferroni", "holm", "fdr_bh", "fdr_by"]
CORRECTIONS: tuple[Correction, ...] = ("none", "bonferroni", "holm", "fdr_bh", "fdr_by")


def adjust_pvalues(
    p_values: Sequence[float], correction: Correction = "holm", *, method: Correction | None = None
) -> np.ndarray:
    """Adjusted p-values in the input order (statsmodels ``multipletests`` names). NaNs stay NaN and do not
    count towards the family size.

    ``correction`` is the word :func:`engagement_lab.compare` uses; ``method=`` is its old name, deprecated
    (it still works, with a ``DeprecationWarning``, for one release).

    Examples
    --------
    >>> adjust_pvalues([0.01, 0.04, 0.03, 0.005, 0.55, 0.6], correction="holm").round(4).tolist()
    [0.05, 0.12, 0.12, 0.03, 1.0, 1.0]
    """
    if method is not None:
        warnings.warn(
            "adjust_pvalues(method=...) is deprecated; use adjust_pvalues(correction=...)",
            DeprecationWarning,
            stacklevel=2,
        )
        if correction not in ("holm", method):
            raise StatsInputError(f"give correction={correction!r} or method={method!r} (its old name), not both")
        correction = method
    check_choice("correction", correction, CORRECTIONS)
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    valid = ~np.isnan(p)
    m = int(valid.sum())
    if m == 0 or correction == "none":
        out[valid] = p[valid]
        return out
    values = p[valid]
    order = np.argsort(values, kind="mergesort")
    ranked = values[order]
    i = np.arange(1, m + 1)
    if correction == "bonferroni":
        adjusted = np.minimum(1.0, ranked * m)
    elif correction == "holm":
        adjusted = np.minimum(1.0, np.maximum.accumulate((m - i + 1) * ranked))
    else:
        scale = m * (np.sum(1.0 / i) if correction == "fdr_by" else 1.0)
        adjusted = np.minimum(1.0, np.minimum.accumulate((scale * ranked / i)[::-1])[::-1])
    back = np.empty(m)
    back[order] = adjusted
    out[valid] = back
    return out
