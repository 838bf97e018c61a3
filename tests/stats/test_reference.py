"""Published reference values (shared/spec/stats-methods.md §c), pinned at their stated tolerances."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from engagement_lab.stats import (
    adjust_pvalues,
    barnard_exact,
    fisher_exact,
    mann_whitney,
    power_prop_test,
    power_t_test,
    proportions_chisquare,
    proportions_ztest,
    sample_size_prop_test,
    sample_size_t_test,
    welch_ttest,
)


class TestC1ProportionsZ:
    def test_two_sample_pooled(self) -> None:
        r = proportions_ztest([5, 12], [83, 99])
        assert r.p_value == pytest.approx(0.159, abs=5e-4)
        assert r.statistic == pytest.approx(-1.4078304151258787, rel=1e-12)
        assert r.p_value == pytest.approx(0.15918129181156992, rel=1e-12)

    def test_one_sample_uses_the_sample_proportion(self) -> None:
        r = proportions_ztest(5, 83, value=0.05)
        assert r.p_value == pytest.approx(0.695, abs=5e-4)
        assert r.statistic == pytest.approx(0.3921260263140161, rel=1e-12)
        assert r.p_value == pytest.approx(0.6949650981148476, rel=1e-12)


class TestC2KSampleChiSquare:
    def test_r_prop_test_example(self) -> None:
        r = proportions_chisquare([83, 90, 129, 70], [86, 93, 136, 82])
        assert r.df == 3
        assert r.statistic == pytest.approx(12.600411297127634, rel=1e-12)
        assert r.p_value == pytest.approx(0.005585476661627036, rel=1e-12)

    def test_statsmodels_r_parity(self) -> None:
        r = proportions_chisquare([73, 90, 114, 75], [86, 93, 136, 82])
        assert r.statistic == pytest.approx(11.11938768628861, rel=1e-12)
        assert r.p_value == pytest.approx(0.011097511366581344, rel=1e-12)


class TestC3Exact:
    def test_tea_tasting(self) -> None:
        two = fisher_exact([[3, 1], [1, 3]])
        assert two.p_value == pytest.approx(0.48571428571428565, rel=1e-12)
        assert two.estimate == pytest.approx(6.408309, rel=1e-4)  # R's conditional MLE, not the sample OR of 9
        greater = fisher_exact([[3, 1], [1, 3]], alternative="greater")
        assert greater.p_value == pytest.approx(0.24285714285714283, rel=1e-12)
        assert greater.ci[0] == pytest.approx(0.3136, abs=1e-3)

    @pytest.mark.parametrize(
        ("alternative", "p"),
        [("two-sided", 0.10256410256410257), ("greater", 0.08624708624708627), ("less", 0.9953379953379957)],
    )
    def test_scipy_docstring_table(self, alternative: str, p: float) -> None:
        assert fisher_exact([[6, 2], [1, 4]], alternative=alternative).p_value == pytest.approx(p, rel=1e-12)  # type: ignore[arg-type]

    def test_second_table(self) -> None:
        assert fisher_exact([[8, 2], [1, 5]]).p_value == pytest.approx(0.034965034965034975, rel=1e-12)

    def test_barnard_vaccine_example(self) -> None:
        r = barnard_exact([[7, 12], [8, 3]], alternative="less")
        assert r.statistic == pytest.approx(-1.8943380760602064, rel=1e-6)
        assert r.p_value == pytest.approx(0.034076716365767874, rel=1e-6)
        assert fisher_exact([[7, 12], [8, 3]], alternative="less").p_value == pytest.approx(
            0.06406796601699151, rel=1e-12
        )


def test_c4_welch_sleep_data() -> None:
    g1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    g2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
    r = welch_ttest(g1, g2)
    assert r.statistic == pytest.approx(-1.8608134674868526, rel=1e-6)
    assert r.df == pytest.approx(17.776473516178488, rel=1e-6)
    assert r.p_value == pytest.approx(0.0793941401873583, rel=1e-6)
    assert r.ci == pytest.approx((-3.3654832, 0.2054832), rel=1e-6)


BH15 = [
    0.0001,
    0.0004,
    0.0019,
    0.0095,
    0.0201,
    0.0278,
    0.0298,
    0.0344,
    0.0459,
    0.3240,
    0.4262,
    0.5719,
    0.6528,
    0.7590,
    1.000,
]


class TestC7MultipleTesting:
    def test_benjamini_hochberg_1995(self) -> None:
        expected = [
            0.0015,
            0.003,
            0.0095,
            0.035625,
            0.0603,
            0.06385714,
            0.06385714,
            0.0645,
            0.0765,
            0.486,
            0.58118182,
            0.714875,
            0.75323077,
            0.81321429,
            1.0,
        ]
        adjusted = adjust_pvalues(BH15, "fdr_bh")
        assert adjusted == pytest.approx(expected, abs=1e-8)
        assert (adjusted <= 0.05).sum() == 4

    def test_holm_on_the_same(self) -> None:
        expected = [0.0015, 0.0056, 0.0247, 0.114, 0.2211, 0.278, 0.278, 0.278, 0.3213, 1, 1, 1, 1, 1, 1]
        adjusted = adjust_pvalues(BH15, "holm")
        assert adjusted == pytest.approx(expected, abs=1e-8)
        assert (adjusted <= 0.05).sum() == 3

    def test_scipy_small_case(self) -> None:
        assert adjust_pvalues([0.5, 0.6, 0.1, 0.001], "fdr_bh") == pytest.approx([0.6, 0.6, 0.2, 0.004], abs=1e-8)

    def test_growthbook_cases_in_original_order(self) -> None:
        assert adjust_pvalues([0.01, 0.04, 0.03, 0.005, 0.55, 0.6], "holm") == pytest.approx(
            [0.05, 0.12, 0.12, 0.03, 1, 1], abs=1e-8
        )
        bh = adjust_pvalues([0.898, 0.138, 0.007, 0.964, 0.538, 0.006, 0.138], "fdr_bh")
        assert bh == pytest.approx([0.964, 0.2415, 0.0245, 0.964, 0.7532, 0.0245, 0.2415], abs=1e-4)

    def test_by_and_bonferroni_against_independent_implementations(self) -> None:
        assert adjust_pvalues(BH15, "fdr_by") == pytest.approx(
            sps.false_discovery_control(BH15, method="by"), abs=1e-12
        )
        assert adjust_pvalues(BH15, "bonferroni") == pytest.approx(np.minimum(1, np.array(BH15) * 15), abs=1e-12)

    def test_nans_stay_out_of_the_family(self) -> None:
        out = adjust_pvalues([0.01, float("nan"), 0.04], "bonferroni")
        assert out[0] == pytest.approx(0.02)
        assert np.isnan(out[1])


class TestC10Power:
    def test_power_prop_test(self) -> None:
        assert power_prop_test(50, 0.5, 0.75) == pytest.approx(0.7401659013, rel=1e-6)

    def test_sample_size_prop_test(self) -> None:
        assert sample_size_prop_test(0.5, 0.75, power=0.9) == pytest.approx(76.70692845, abs=1e-3)

    def test_power_t_test_both_conventions(self) -> None:
        assert power_t_test(100, 1, 2.5) == pytest.approx(0.8036466, rel=1e-6)  # R strict=FALSE (our default)
        assert power_t_test(100, 1, 2.5, strict=True) == pytest.approx(
            0.8036475, rel=1e-6
        )  # statsmodels, R strict=TRUE

    def test_sample_size_t_test(self) -> None:
        assert sample_size_t_test(1, power=0.9) == pytest.approx(22.021088, abs=1e-3)


class TestC11MannWhitney:
    males, females = [19, 22, 16, 29, 24], [20, 11, 17, 12]

    def test_exact(self) -> None:
        r = mann_whitney(self.males, self.females, method="exact")
        assert r.statistic == 17.0
        assert r.p_value == pytest.approx(0.1111111111111111, rel=1e-12)

    def test_asymptotic_with_continuity_correction(self) -> None:
        assert mann_whitney(self.males, self.females, method="asymptotic").p_value == pytest.approx(
            0.11134688653314041, rel=1e-12
        )
