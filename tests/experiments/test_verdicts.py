"""Experiment verdicts as effect sizes: latency medians with intervals read off histograms
of simulated request latencies, proportions with Newcombe's interval, and the rule that a
difference is declared only when significant and beyond the model's threshold."""

from __future__ import annotations

import numpy as np
import pytest

from control_plane.domain.analysis import VersionStats
from control_plane.domain.effects import Thresholds, latency_effect, median_with_interval
from control_plane.domain.verdicts import judge
from inference.metrics.collectors import REQUEST_BUCKETS

BOUNDS = REQUEST_BUCKETS  # the inference service's request-latency buckets (seconds)


def _served(
    version: str,
    median_s: float,
    n: int,
    seed: int,
    *,
    errors: int = 0,
    labelled: int = 0,
    correct: int = 0,
) -> VersionStats:
    """n requests with log-normal latencies around `median_s`, as monitoring reports them."""
    x = np.random.default_rng(seed).lognormal(np.log(median_s), 0.35, n)
    counts = np.bincount(np.searchsorted(BOUNDS, x), minlength=len(BOUNDS) + 1)
    return VersionStats(
        version,
        requests=n,
        errors=errors,
        p99_ms=None,
        labelled=labelled,
        correct=correct,
        latency_bounds_s=BOUNDS,
        latency_counts=tuple(int(c) for c in counts),
    )


@pytest.mark.parametrize("median_ms", [1.0, 4.0, 12.0])
@pytest.mark.parametrize("seed", range(5))
def test_two_versions_of_equal_latency_over_3000_requests_differ_in_nothing_meaningful(
    median_ms: float, seed: int
) -> None:
    base = _served("v1", median_ms / 1000, 1500, seed)
    same = _served("v2", median_ms / 1000, 1500, seed + 100)
    j = judge(base, same, Thresholds())
    assert j.decided, j.text
    assert j.text.startswith("no meaningful difference between v2 and v1: latency p50 ")
    (latency,) = [e for e in j.effects if e.measure == "latency"]
    assert latency.reading == "negligible"
    assert -latency.threshold <= latency.low <= latency.diff <= latency.high <= latency.threshold
    assert "(threshold ±1 ms)" in j.text or median_ms > 10
    assert j.labels_missing and j.text.endswith(
        "accuracy not compared: no labelled predictions yet"
    )


@pytest.mark.parametrize("seed", range(5))
def test_a_version_20_percent_slower_is_found_slower_with_its_interval(seed: int) -> None:
    base = _served("v1", 0.010, 1500, seed)
    slower = _served("v2", 0.012, 1500, seed + 100)
    j = judge(base, slower, Thresholds())
    (latency,) = [e for e in j.effects if e.measure == "latency"]
    assert latency.reading == "worse"
    assert 1.4 < latency.low < latency.diff < latency.high < 2.8  # the true shift: 2 ms
    assert j.decided and j.text.startswith("v2 is slower than v1: p50 ")
    shown = f"{latency.diff:+.1f} ms [{latency.low:+.1f}, {latency.high:+.1f}]"
    assert shown in j.text
    relative = float(j.text.split(" %")[0].rsplit(", ", 1)[-1])
    assert 14 <= relative <= 26, j.text  # the true change: +20 %
    # Faster is said with the baseline as the subject, and its sign turned.
    j = judge(slower, base, Thresholds())
    assert j.text.startswith("v2 is slower than v1: p50 ")


def test_a_significant_difference_below_the_threshold_is_not_declared() -> None:
    """The finding: 0.9 vs 0.9 ms at the median, p far below 0.05 over ~3,000 requests."""
    base = _served("v1", 0.00090, 1500, 1)
    challenger = _served("v2", 0.00097, 1500, 2)
    effect = latency_effect(base, challenger, Thresholds())
    assert effect is not None and effect.significant and 0 < effect.diff < 1
    j = judge(base, challenger, Thresholds())
    assert j.text.startswith("no meaningful difference between v2 and v1")
    # A model whose owner cares about a tenth of a millisecond sets its thresholds so.
    strict = judge(base, challenger, Thresholds(latency_pct=1, latency_ms=0.02))
    assert strict.text.startswith("v2 is slower than v1")


def test_too_few_requests_leave_the_verdict_open_and_say_why() -> None:
    j = judge(_served("v1", 0.010, 30, 1), _served("v2", 0.010, 30, 2), Thresholds())
    assert not j.decided
    assert j.text.startswith("not enough data yet to tell v2 and v1 apart: latency p50 ")
    assert "could still be larger" in j.text


@pytest.mark.parametrize(("base_ms", "challenger_ms"), [(4.0, 4.0), (3.0, 3.6), (10.0, 12.0)])
def test_the_intervals_cover_the_true_medians_and_shift_about_95_times_in_100(
    base_ms: float, challenger_ms: float
) -> None:
    """Within a bucket the histogram hides where requests fell: the medians are read off it
    geometrically, close enough that the intervals keep (nearly) their 95 %."""
    medians = shifts = 0
    for seed in range(200):
        base = _served("v1", base_ms / 1000, 1500, seed)
        challenger = _served("v2", challenger_ms / 1000, 1500, seed + 1000)
        m = median_with_interval(base)
        effect = latency_effect(base, challenger, Thresholds())
        assert m is not None and effect is not None
        medians += m.interval.low <= base_ms <= m.interval.high
        shifts += effect.low <= challenger_ms - base_ms <= effect.high
    assert medians >= 170 and shifts >= 175, (medians, shifts)


def test_accuracy_differences_need_significance_and_a_point() -> None:
    base = dict(errors=0, labelled=6_200)
    v1 = _served("v1", 0.002, 6_200, 1, correct=5_642, **base)  # 91.0 %
    v2 = _served("v2", 0.002, 6_200, 2, correct=5_772, **base)  # 93.1 %
    j = judge(v1, v2, Thresholds())
    assert j.decided and not j.labels_missing
    assert j.text.startswith("v2 is more accurate than v1: 93.1 % vs 91.0 %, +2.1 points [")
    # Worse is said with the better baseline as the subject.
    assert judge(v2, v1, Thresholds()).text.startswith("v2 is more accurate than v1: 93.1 %")
    # The same +2.1 points with a 3-point threshold is not meaningful.
    assert judge(v1, v2, Thresholds(accuracy_points=3)).text.startswith("no meaningful difference")
    # 600 labels each cannot tell a 1-point difference: how many would.
    few = judge(
        _served("v1", 0.002, 600, 1, labelled=600, correct=546),
        _served("v2", 0.002, 600, 2, labelled=600, correct=552),
        Thresholds(),
    )
    assert not few.decided
    assert "accuracy 92.0 % vs 91.0 %, +1.0 points [" in few.text
    assert "labelled predictions needed, 1,200 so far" in few.text


def test_error_rates_decide_without_labels() -> None:
    j = judge(
        _served("v1", 0.002, 5_000, 1, errors=5),
        _served("v2", 0.002, 5_000, 2, errors=160),
        Thresholds(),
    )
    assert j.decided and j.text.startswith("v2 fails more often than v1: 3.20 % vs 0.10 %")
