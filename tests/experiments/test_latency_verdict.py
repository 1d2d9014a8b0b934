"""The latency part of a verdict: per-bucket counts from cumulative histograms, and the
rank test on them, table-driven and checked against scipy on the same data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sp

from control_plane.domain.analysis import VersionStats, compare_latency
from control_plane.metrics.base import bucket_counts

BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05)


@pytest.mark.parametrize(
    ("bounds", "cumulative", "finite", "counts"),
    [
        ((0.1, 0.5, math.inf), (3, 5, 6), [0.1, 0.5], [3, 2, 1]),
        ((0.1, 0.5), (3, 5), [0.1, 0.5], [3, 2, 0]),  # no +Inf bucket
        ((0.1, math.inf), (0, 0), [0.1], [0, 0]),
        ((0.1, 0.5, math.inf), (2.4, 4.6, 5.0), [0.1, 0.5], [2, 2, 0]),  # increase() floats
    ],
)
def test_bucket_counts_from_cumulative(
    bounds: tuple[float, ...], cumulative: tuple[float, ...], finite: list[float], counts: list[int]
) -> None:
    assert bucket_counts(bounds, cumulative) == (finite, counts)


def _stats(version: str, counts: list[int], p99_ms: float) -> VersionStats:
    return VersionStats(
        version,
        requests=sum(counts),
        errors=0,
        p99_ms=p99_ms,
        p50_ms=p99_ms / 4,
        latency_bounds_s=BOUNDS,
        latency_counts=tuple(counts),
    )


CASES = [
    # (baseline counts, challenger counts, significant, slower)
    ([10, 300, 150, 30, 5, 0, 0], [0, 20, 90, 220, 140, 25, 5], True, "v2"),
    ([0, 20, 90, 220, 140, 25, 5], [10, 300, 150, 30, 5, 0, 0], True, "v1"),
    ([40, 120, 60, 10, 0, 0, 0], [41, 118, 61, 10, 0, 0, 0], False, None),
    ([5, 5, 0, 0, 0, 0, 0], [4, 6, 0, 0, 0, 0, 0], False, None),
]


@pytest.mark.parametrize(("base", "challenger", "significant", "slower"), CASES)
def test_the_rank_test_on_histograms_matches_scipy_and_says_who_is_slower(
    base: list[int], challenger: list[int], significant: bool, slower: str | None
) -> None:
    got = compare_latency(_stats("v1", base, 20.0), _stats("v2", challenger, 48.0))
    assert got is not None
    ref = sp.mannwhitneyu(
        np.repeat(np.arange(len(challenger)), challenger),
        np.repeat(np.arange(len(base)), base),
        alternative="two-sided",
        method="asymptotic",
        use_continuity=False,
    )
    assert got.test.u == pytest.approx(ref.statistic)
    assert got.test.p_value == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-12)
    assert got.significant is significant
    n = sum(base) + sum(challenger)
    if slower == "v2":
        assert got.text == (
            f"v2 is slower than v1: p50 12.0 vs 5.0 ms, p99 48.0 vs 20.0 ms "
            f"(p = {ref.pvalue:.3g}, n = {n:,})"
        )
    elif slower == "v1":
        assert got.text.startswith("v1 is slower than v2: p50 5.0 vs 12.0 ms, p99 20.0 vs 48.0")
    else:
        assert got.text.startswith("no significant latency difference between v2 and v1")


def test_no_histogram_or_different_buckets_give_no_test() -> None:
    fast = _stats("v1", [10, 20, 0, 0, 0, 0, 0], 2.0)
    assert compare_latency(fast, VersionStats("v2", 0, 0, None)) is None
    other = VersionStats("v2", 30, 0, 3.0, latency_bounds_s=(0.5, 1.0), latency_counts=(10, 20, 0))
    assert compare_latency(fast, other) is None
