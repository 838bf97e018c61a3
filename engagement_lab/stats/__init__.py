"""Statistics for clustered engagement data: tweets are the units, impressions cluster within them.

Pure numerics (numpy/scipy), no I/O. Entry points: :func:`compare`, :func:`summarize`, :func:`omnibus`;
building blocks below them for direct use.
"""

from __future__ import annotations

from .balance import balance
from .classic import (
    TestResult,
    barnard_exact,
    fisher_exact,
    hedges_g,
    kruskal,
    mann_whitney,
    proportions_chisquare,
    proportions_ztest,
    welch_anova,
    welch_ttest,
)
from .compare import compare, omnibus, summarize
from .effects import contrast, design_effect
from .multiple import adjust_pvalues
from .next_test import AACheck, Plan, aa_check, plan
from .notes import Note
from .planning import (
    mde,
    power_curve,
    power_prop_test,
    power_ratio,
    power_t_test,
    sample_size_prop_test,
    sample_size_ratio,
    sample_size_t_test,
    srm_check,
)
from .resampling import BootstrapTest, bootstrap_test, cluster_bootstrap, permutation_test
from .results import Comparison, Summary
from .sufficient import GroupStats, group_stats
from .views import bayesian_lift, confidence_sequence
from .wording import format_p

__all__ = [
    "AACheck",
    "BootstrapTest",
    "Comparison",
    "GroupStats",
    "Note",
    "Plan",
    "Summary",
    "TestResult",
    "aa_check",
    "adjust_pvalues",
    "balance",
    "barnard_exact",
    "bayesian_lift",
    "bootstrap_test",
    "cluster_bootstrap",
    "compare",
    "confidence_sequence",
    "contrast",
    "design_effect",
    "fisher_exact",
    "format_p",
    "group_stats",
    "hedges_g",
    "kruskal",
    "mann_whitney",
    "mde",
    "omnibus",
    "permutation_test",
    "plan",
    "power_curve",
    "power_prop_test",
    "power_ratio",
    "power_t_test",
    "proportions_chisquare",
    "proportions_ztest",
    "sample_size_prop_test",
    "sample_size_ratio",
    "sample_size_t_test",
    "srm_check",
    "summarize",
    "welch_anova",
    "welch_ttest",
]
