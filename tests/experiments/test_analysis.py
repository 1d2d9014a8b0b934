"""Canary gates: table-driven, on numbers like those monitoring reports."""

from __future__ import annotations

import pytest

from control_plane.domain.analysis import Gates, VersionStats, analyse

BASE = VersionStats("v1", requests=5_000, errors=5, p99_ms=20.0)


@pytest.mark.parametrize(
    ("canary", "outcome", "failing_gate"),
    [
        (VersionStats("v2", 500, 1, 21.0), "pass", None),
        (VersionStats("v2", 50, 0, 19.0), "wait", None),  # too little traffic to promote
        (VersionStats("v2", 0, 0, None), "wait", None),
        # No gate fails a step before its minimum sample (100 requests by default).
        (VersionStats("v2", 40, 12, 20.0), "wait", None),
        (VersionStats("v2", 10, 5, 20.0), "wait", None),
        (VersionStats("v2", 500, 30, 20.0), "fail", "error rate"),  # 6 % vs 0.1 %
        (VersionStats("v2", 500, 5, 20.0), "pass", None),  # +0.9 points: within the margin
        (VersionStats("v2", 500, 1, 45.0), "fail", "latency"),  # x2.25 and +25 ms
        (VersionStats("v2", 500, 1, 29.0), "pass", None),  # x1.45
    ],
)
def test_canary_gates(canary: VersionStats, outcome: str, failing_gate: str | None) -> None:
    result = analyse(BASE, canary, Gates())
    assert result.outcome == outcome, result.summary
    failed = [g.name for g in result.gates if g.outcome == "fail"]
    if failing_gate:
        assert failing_gate in failed
    assert "error rate" in result.summary and "latency" in result.summary


def test_a_lower_min_requests_to_fail_rolls_a_broken_canary_back_sooner() -> None:
    broken = VersionStats("v2", 40, 12, 20.0)
    result = analyse(BASE, broken, Gates(min_requests_to_fail=20))
    assert result.outcome == "fail" and "error rate: fail" in result.summary


FAST = VersionStats("v1", 2_000, 0, 1.3, p50_ms=0.9)


@pytest.mark.parametrize(
    ("canary", "outcome"),
    [
        # A p99 of 137 requests is noise: the medians are compared, and they agree.
        (VersionStats("v2", 137, 0, 4.3, p50_ms=0.9), "pass"),
        # x1.9 at 1.4 ms is +1.2 ms: under the absolute margin, no regression.
        (VersionStats("v2", 400, 0, 2.6, p50_ms=1.0), "pass"),
        # 30 ms slower: beyond x1.5 and +5 ms on the median already.
        (VersionStats("v2", 150, 0, 45.0, p50_ms=31.0), "fail"),
        # With enough requests the p99 itself: +9.7 ms and x8.5.
        (VersionStats("v2", 400, 0, 11.0, p50_ms=1.0), "fail"),
    ],
)
def test_latency_fails_only_beyond_the_ratio_and_the_margin(
    canary: VersionStats, outcome: str
) -> None:
    result = analyse(FAST, canary, Gates())
    assert result.outcome == outcome, result.summary
    latency = next(g for g in result.gates if g.name == "latency")
    assert "fails beyond x1.50 and +5 ms" in latency.detail


BOUNDS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)


def _histogram(version: str, counts: tuple[int, ...], p50: float, p99: float) -> VersionStats:
    return VersionStats(
        version,
        requests=sum(counts),
        errors=0,
        p99_ms=p99,
        latency_bounds_s=BOUNDS,
        latency_counts=counts,
        p50_ms=p50,
    )


def test_a_p99_beyond_the_margins_by_a_few_outliers_is_not_a_regression() -> None:
    """The same distribution but for a handful of slow requests: the rank test finds no
    difference, so the gate does not fail on the tail alone."""
    base = _histogram("v1", (200, 150, 40, 8, 2, 0, 0), 1.0, 8.0)
    canary = _histogram("v2", (198, 150, 40, 6, 2, 4, 0), 1.0, 40.0)
    result = analyse(base, canary, Gates(min_requests=100))
    latency = next(g for g in result.gates if g.name == "latency")
    assert latency.outcome == "pass", latency.detail
    assert "rank test p = " in latency.detail


def test_a_canary_slower_throughout_fails_the_rank_test_too() -> None:
    base = _histogram("v1", (200, 150, 40, 8, 2, 0, 0), 1.0, 8.0)
    canary = _histogram("v2", (0, 0, 10, 40, 150, 190, 10), 30.0, 60.0)
    result = analyse(base, canary, Gates(min_requests=100))
    assert result.outcome == "fail", result.summary


def test_gates_can_be_overridden() -> None:
    canary = VersionStats("v2", 500, 1, 45.0)
    assert analyse(BASE, canary, Gates(max_p99_ratio=3.0)).outcome == "pass"
    few = VersionStats("v2", 60, 0, 1.3, p50_ms=0.9)
    assert analyse(FAST, few, Gates(min_requests=50)).outcome == "pass"
    slow = VersionStats("v2", 400, 0, 3.0, p50_ms=1.0)
    assert analyse(FAST, slow, Gates(max_p99_increase_ms=1.0)).outcome == "fail"


@pytest.mark.parametrize(
    ("base_acc", "canary_acc", "n", "outcome"),
    [
        ((910, 1000), (860, 1000), 1000, "fail"),  # 5 points worse, p < 0.001
        ((910, 1000), (905, 1000), 1000, "pass"),  # not significantly worse
        ((910, 1000), (950, 1000), 1000, "pass"),  # better
        ((91, 100), (50, 100), 100, "pass"),  # too few labels to judge: not a blocker
    ],
)
def test_accuracy_gate(
    base_acc: tuple[int, int], canary_acc: tuple[int, int], n: int, outcome: str
) -> None:
    base = VersionStats("v1", 5_000, 5, 20.0, labelled=base_acc[1], correct=base_acc[0])
    canary = VersionStats("v2", 1_000, 1, 20.0, labelled=canary_acc[1], correct=canary_acc[0])
    assert analyse(base, canary, Gates()).outcome == outcome
