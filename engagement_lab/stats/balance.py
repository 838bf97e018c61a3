"""Covariate balance between groups: why an unadjusted comparison of non-randomised groups misleads.

For each covariate, each group is compared with the control by the standardised mean difference (SMD):
``(mean_g − mean_c) / sqrt((var_g + var_c) / 2)`` for a number, and for each level of a category the same with
shares, ``(p_g − p_c) / sqrt((p_g(1 − p_g) + p_c(1 − p_c)) / 2)``. An |SMD| above 0.1 is the usual sign that
the groups differ in that covariate (Austin 2009), so a raw comparison mixes its effect in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import narwhals as nw
import pandas as pd
import pyarrow as pa

from ..errors import StatsInputError, did_you_mean
from ..load.frames import Backend, check_backend, to_frame
from .adjusted import is_categorical
from .inputs import collect

__all__ = ["IMBALANCED", "balance"]

IMBALANCED = 0.1
"""|SMD| above this marks a covariate the groups differ in."""
_COLUMNS = ("covariate", "level", "group", "control", "value", "control_value", "smd", "imbalanced")


def _smd(a: float, b: float, var_a: float, var_b: float) -> float:
    pooled = math.sqrt((var_a + var_b) / 2)
    return (a - b) / pooled if pooled > 0 else (0.0 if a == b else math.inf)


def balance(
    frame: Any, *, by: str, covariates: Sequence[str], control: str | None = None, backend: Backend | None = None
) -> Any:
    """Each covariate's distribution by group against the control, with standardised mean differences.

    Returns a frame with one row per (covariate, level, group): ``covariate``, ``level`` (``None`` for a
    number), ``group``, ``control``, ``value`` (share or mean in the group), ``control_value``, ``smd`` and
    ``imbalanced`` (|SMD| > 0.1). Categories follow the rules of the adjusted comparison (text, booleans, and
    whole numbers with few values such as hour of day). Draw it with :func:`engagement_lab.viz.balance_plot`.
    """
    native = nw.from_native(frame)
    columns = list(native.collect_schema().names())
    for name in [by, *covariates]:
        if name not in columns:
            raise StatsInputError(f"{name!r} is not a column{did_you_mean(name, columns)}; columns: {columns[:15]}")
    selected = native.select(*dict.fromkeys([by, *covariates]))
    table = collect(selected).to_pandas().dropna(subset=[by])
    table[by] = table[by].astype(str)
    groups = sorted(table[by].unique())
    reference = control if control is not None else (groups[0] if groups else None)
    if reference not in groups:
        raise StatsInputError(f"control {reference!r} is not a value of {by!r}; values: {groups}")
    rows: list[dict[str, Any]] = []
    base = table[table[by] == reference]
    for name in covariates:
        column = table[name]
        categorical = is_categorical(column)
        levels = sorted(column.dropna().astype(str).unique()) if categorical else [None]
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
                rows.append(
                    dict(
                        zip(
                            _COLUMNS,
                            (name, level, group, reference, value, ref, smd, abs(smd) > IMBALANCED),
                            strict=True,
                        )
                    )
                )
    out = pd.DataFrame(rows, columns=list(_COLUMNS))
    chosen = check_backend(backend or ("polars" if "polars" in type(frame).__module__ else "pandas"))
    return to_frame(pa.Table.from_pandas(out, preserve_index=False), chosen)
