"""Covariate balance between groups: why an unadjusted comparison of non-randomised groups misleads.

For each covariate, each group is compared with the control by the standardised mean difference (SMD):
``(mean_g − mean_c) / sqrt((var_g + var_c) / 2)`` for a number, and for each level of a category the same with
shares, ``(p_g − p_c) / sqrt((p_g(1 − p_g) + p_c(1 − p_c)) / 2)``. An |SMD| above 0.1 is the usual sign that
the groups differ in that covariate (Austin 2009), so a raw comparison mixes its effect in.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import narwhals as nw
import pandas as pd
import pyarrow as pa

from ..errors import StatsInputError, did_you_mean
from ..load.frames import to_frame
from ..options import Backend, check_backend
from .adjusted import is_categorical
from .inputs import collect

__all__ = ["IMBALANCED", "balance"]

IMBALANCED = 0.1
"""|SMD| above this marks a covariate the groups differ in."""
_COLUMNS = ("covariate", "level", "group", "control", "value", "control_value", "smd", "imbalanced")


def _smd(a: float, b: float, var_a: float, var_b: float) -> float:
    pooled = math.sqrt((var_a + var_b) / 2)
    return (a - b) / pooled if pooled > 0 else (0.0 if a == b else math.inf)


def _renamed(adjust_for: str | Sequence[str] | None, covariates: Sequence[str] | None) -> list[str]:
    """The columns to check: ``adjust_for``, or its deprecated old name ``covariates`` (with a warning)."""
    if covariates is not None:
        warnings.warn(
            "balance(covariates=[...]) is deprecated; use balance(adjust_for=[...]), the word compare() uses",
            DeprecationWarning,
            stacklevel=3,
        )
        if adjust_for is not None:
            raise StatsInputError("give adjust_for=[...] only: covariates= is its old name")
        adjust_for = covariates
    if adjust_for is None:
        raise StatsInputError("balance() needs adjust_for=[...]: the columns to check, e.g. ['account', 'hour_of_day']")
    return [adjust_for] if isinstance(adjust_for, str) else list(adjust_for)


def balance(
    frame: Any,
    *,
    by: str,
    adjust_for: str | Sequence[str] | None = None,
    control: str | None = None,
    backend: Backend | None = None,
    covariates: Sequence[str] | None = None,
) -> Any:
    """Each covariate's distribution by group against the control, with standardised mean differences.

    ``adjust_for`` names the covariates to check, as in :func:`engagement_lab.compare` (whose adjusted comparison
    holds them fixed); ``covariates=`` is its old name, deprecated (it still works, with a
    ``DeprecationWarning``, for one release).

    Returns a frame with one row per (covariate, level, group): ``covariate``, ``level`` (``None`` for a
    number), ``group``, ``control``, ``value`` (share or mean in the group), ``control_value``, ``smd`` and
    ``imbalanced`` (|SMD| > 0.1). Categories follow the rules of the adjusted comparison (text, booleans, and
    whole numbers with few values such as hour of day). Draw it with :func:`engagement_lab.viz.balance_plot`.
    """
    names = _renamed(adjust_for, covariates)
    native = nw.from_native(frame)
    columns = list(native.collect_schema().names())
    for name in [by, *names]:
        if name not in columns:
            raise StatsInputError(f"{name!r} is not a column{did_you_mean(name, columns)}; columns: {columns[:15]}")
    table = collect(native.select(*dict.fromkeys([by, *names]))).to_pandas().dropna(subset=[by])
    table[by] = table[by].astype(str)
    groups = sorted(table[by].unique())
    reference = control if control is not None else (groups[0] if groups else None)
    if reference is None or reference not in groups:
        raise StatsInputError(f"control {reference!r} is not a value of {by!r}; values: {groups}")
    rows = [row for name in names for row in _covariate_rows(table, by, name, groups, reference)]
    out = pd.DataFrame(rows, columns=list(_COLUMNS))
    chosen = check_backend(backend or ("polars" if "polars" in type(frame).__module__ else "pandas"))
    return to_frame(pa.Table.from_pandas(out, preserve_index=False), chosen)


def _covariate_rows(table: pd.DataFrame, by: str, name: str, groups: list[str], reference: str) -> list[dict[str, Any]]:
    """One covariate's rows: each group against the control, per level of a category or once for a number."""
    base = table[table[by] == reference]
    column = table[name]
    levels = sorted(column.dropna().astype(str).unique()) if is_categorical(column) else [None]
    rows = []
    for group in (g for g in groups if g != reference):
        part = table[table[by] == group]
        for level in levels:
            if level is None:
                x, c = part[name].astype(float), base[name].astype(float)
                value, ref = float(x.mean()), float(c.mean())
                smd = _smd(value, ref, float(x.var()), float(c.var()))
            else:
                value = float((part[name].astype(str) == level).mean())
                ref = float((base[name].astype(str) == level).mean())
                smd = _smd(value, ref, value * (1 - value), ref * (1 - ref))
            values = (name, level, group, reference, value, ref, smd, abs(smd) > IMBALANCED)
            rows.append(dict(zip(_COLUMNS, values, strict=True)))
    return rows
