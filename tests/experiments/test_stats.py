"""The verdict statistics, table-driven, checked against scipy on the same data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sp

from control_plane.domain import stats

PROPORTIONS = [
    # (x_a, n_a, x_b, n_b)
    (910, 1000, 931, 1000),
    (11_284, 12_400, 11_544, 12_400),
    (45, 50, 40, 50),
    (0, 30, 3, 30),
    (500, 1000, 500, 1000),
    (9_990, 10_000, 9_999, 10_000),
]


@pytest.mark.parametrize("p", [1e-6, 0.001, 0.0242, 0.025, 0.3, 0.5, 0.8, 0.975, 0.9999])
def test_normal_ppf_matches_scipy(p: float) -> None:
    assert stats.normal_ppf(p) == pytest.approx(sp.norm.ppf(p), abs=1e-9)
    assert stats.normal_cdf(stats.normal_ppf(p)) == pytest.approx(p, rel=1e-9)


@pytest.mark.parametrize(("x_a", "n_a", "x_b", "n_b"), PROPORTIONS)
def test_two_proportion_test_matches_scipy(x_a: int, n_a: int, x_b: int, n_b: int) -> None:
    result = stats.two_proportion_test(x_a, n_a, x_b, n_b)
    # The pooled z-test is the chi-square test of the 2x2 table without Yates' correction.
    table = np.array([[x_a, n_a - x_a], [x_b, n_b - x_b]])
    if (table.sum(axis=0) == 0).any():
        assert result.p_value == 1.0
        return
    chi2, p_value, _, _ = sp.chi2_contingency(table, correction=False)
    assert result.p_value == pytest.approx(p_value, rel=1e-6, abs=1e-12)
    assert result.z**2 == pytest.approx(chi2, rel=1e-9, abs=1e-12)
    assert result.diff == pytest.approx(x_b / n_b - x_a / n_a)
    assert result.diff_interval.low <= result.diff <= result.diff_interval.high


@pytest.mark.parametrize(("x", "n"), [(0, 10), (3, 10), (50, 100), (999, 1000), (10, 10)])
def test_wilson_interval_matches_scipy(x: int, n: int) -> None:
    ci = sp.binomtest(x, n).proportion_ci(confidence_level=0.95, method="wilson")
    got = stats.wilson_interval(x, n)
    assert (got.low, got.high) == pytest.approx((ci.low, ci.high), abs=1e-9)


@pytest.mark.parametrize(("p_base", "effect"), [(0.91, 0.02), (0.5, 0.05), (0.1, 0.01)])
def test_sample_size_matches_the_formula(p_base: float, effect: float) -> None:
    """The two-sided formula with pooled and unpooled terms, on scipy's normal quantiles."""
    p_alt = p_base + effect
    z_a, z_b = sp.norm.ppf(0.975), sp.norm.ppf(0.8)
    p_bar = (p_base + p_alt) / 2
    want = math.ceil(
        (
            z_a * math.sqrt(2 * p_bar * (1 - p_bar))
            + z_b * math.sqrt(p_base * (1 - p_base) + p_alt * (1 - p_alt))
        )
        ** 2
        / effect**2
    )
    assert stats.sample_size_two_proportions(p_base, effect) == want
    # And the size is about right: at that n, a simulated test has about 80 % power.
    rng = np.random.default_rng(7)
    n = want
    hits = 0
    trials = 400
    for _ in range(trials):
        xa, xb = rng.binomial(n, p_base), rng.binomial(n, p_alt)
        hits += stats.two_proportion_test(int(xa), n, int(xb), n).p_value < 0.05
    assert 0.72 <= hits / trials <= 0.88


LATENCY_CASES = [
    ([5, 20, 40, 20, 5, 0], [2, 10, 30, 35, 18, 5]),
    ([100, 0, 0], [99, 1, 0]),
    ([10, 10, 10, 10], [10, 10, 10, 10]),
    ([0, 0, 300, 2], [1, 250, 40, 1]),
]


@pytest.mark.parametrize(("a", "b"), LATENCY_CASES)
def test_binned_rank_test_matches_scipy(a: list[int], b: list[int]) -> None:
    sample_a = np.repeat(np.arange(len(a)), a)
    sample_b = np.repeat(np.arange(len(b)), b)
    ref = sp.mannwhitneyu(
        sample_b, sample_a, alternative="two-sided", method="asymptotic", use_continuity=False
    )
    got = stats.mann_whitney_binned(a, b)
    assert got.u == pytest.approx(ref.statistic)
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-12)


def test_mean_interval_matches_scipy() -> None:
    errors = np.random.default_rng(3).exponential(0.4, size=500)
    got = stats.mean_interval(float(errors.sum()), float((errors**2).sum()), len(errors))
    low, high = sp.norm.interval(0.95, loc=errors.mean(), scale=sp.sem(errors))
    assert got.mean == pytest.approx(errors.mean())
    assert (got.interval.low, got.interval.high) == pytest.approx((low, high), rel=1e-9)


def test_histogram_quantile_interpolates_within_the_bucket() -> None:
    bounds = [0.001, 0.005, 0.01, 0.05, math.inf]
    counts = [10, 30, 40, 20, 0]
    # rank 50 falls 10 into the (0.005, 0.01] bucket of 40: a quarter of the way.
    assert stats.histogram_quantile(0.5, bounds, counts) == pytest.approx(0.00625)
    assert stats.histogram_quantile(0.99, bounds, counts) == pytest.approx(0.048)
    assert stats.histogram_quantile(0.5, bounds, [0] * 5) is None
    assert stats.histogram_quantile(0.99, bounds, [0, 0, 0, 0, 5]) == 0.05
