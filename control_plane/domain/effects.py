"""Experiment verdicts as effect sizes: each difference with its 95 % interval, declared
only when it is both significant and larger than a practical threshold."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from control_plane.domain import stats
from control_plane.domain.analysis import VersionStats


@dataclass(frozen=True)
class Thresholds:
    """The smallest differences worth acting on, per model."""

    latency_pct: float = 10.0  # a latency difference counts beyond this share of the baseline
    latency_ms: float = 1.0  # and beyond this many milliseconds
    accuracy_points: float = 1.0
    error_points: float = 1.0


Reading = Literal["better", "worse", "negligible", "unclear"]


@dataclass(frozen=True)
class Effect:
    """Challenger minus baseline on one measure, in its unit (ms or percentage points)."""

    measure: Literal["latency", "accuracy", "error rate"]
    unit: str
    base: float
    challenger: float
    diff: float
    low: float
    high: float
    p_value: float
    threshold: float
    n: int
    alpha: float = 0.05

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha

    @property
    def reading(self) -> Reading:
        """Better or worse for the challenger when significant and beyond the threshold;
        negligible when it is neither or the whole interval lies within it."""
        if self.significant and abs(self.diff) > self.threshold:
            higher_is_better = self.measure == "accuracy"
            return "better" if (self.diff > 0) == higher_is_better else "worse"
        if self.significant or -self.threshold <= self.low <= self.high <= self.threshold:
            return "negligible"
        return "unclear"


def _value_at_rank(rank: float, bounds: tuple[float, ...], counts: tuple[int, ...]) -> float:
    """The latency (s) at a rank of the histogram, interpolated geometrically within a
    bucket: closer than Prometheus's linear reading for latencies, which skew right."""
    below, lower = 0, 0.0
    for upper, c in zip(bounds, counts, strict=False):
        if c > 0 and below + c >= rank:
            share = max(0.0, rank - below) / c
            if lower <= 0:
                return upper * share
            return lower * (upper / lower) ** share  # latencies spread on a log scale
        below, lower = below + c, upper
    return lower  # beyond the last finite bound: that bound is all that is known


def median_with_interval(s: VersionStats, confidence: float = 0.95) -> stats.MeanEstimate | None:
    """The median latency (ms) from a histogram, with the order-statistic interval: the
    ranks n/2 -+ z sqrt(n)/2 read off the same histogram."""
    n = sum(s.latency_counts)
    if n == 0 or not s.latency_bounds_s:
        return None
    z = stats.normal_ppf(0.5 + confidence / 2)
    half = z * math.sqrt(n * 0.25)
    at = lambda r: 1000 * _value_at_rank(r, s.latency_bounds_s, s.latency_counts)  # noqa: E731
    mid = at(n / 2)
    return stats.MeanEstimate(
        mid, stats.Interval(at(max(0.0, n / 2 - half)), at(min(n, n / 2 + half))), n
    )


def latency_effect(
    base: VersionStats, challenger: VersionStats, t: Thresholds, alpha: float = 0.05
) -> Effect | None:
    """The median's difference (MOVER interval from both medians' intervals), tested by
    a rank test on the histograms; None without comparable histograms."""
    if base.latency_bounds_s != challenger.latency_bounds_s:
        return None
    b, c = median_with_interval(base), median_with_interval(challenger)
    if b is None or c is None:
        return None
    rank = stats.mann_whitney_binned(base.latency_counts, challenger.latency_counts)
    diff = c.mean - b.mean
    return Effect(
        "latency",
        "ms",
        b.mean,
        c.mean,
        diff,
        diff - math.hypot(c.mean - c.interval.low, b.interval.high - b.mean),
        diff + math.hypot(c.interval.high - c.mean, b.mean - b.interval.low),
        rank.p_value,
        max(t.latency_ms, t.latency_pct / 100 * b.mean),
        b.n + c.n,
        alpha,
    )


def _proportion_effect(
    measure: Literal["accuracy", "error rate"],
    base: tuple[int, int],
    challenger: tuple[int, int],
    threshold_points: float,
    alpha: float,
) -> Effect | None:
    if base[1] <= 0 or challenger[1] <= 0:
        return None
    r = stats.two_proportion_test(base[0], base[1], challenger[0], challenger[1])
    return Effect(
        measure,
        "points",
        100 * r.p_a,
        100 * r.p_b,
        100 * r.diff,
        100 * r.diff_interval.low,
        100 * r.diff_interval.high,
        r.p_value,
        threshold_points,
        base[1] + challenger[1],
        alpha,
    )


def effects(
    base: VersionStats, challenger: VersionStats, t: Thresholds, alpha: float = 0.05
) -> list[Effect]:
    """Accuracy (once both have labels), latency and error rate, in that order."""
    found = [
        _proportion_effect(
            "accuracy",
            (base.correct, base.labelled),
            (challenger.correct, challenger.labelled),
            t.accuracy_points,
            alpha,
        ),
        latency_effect(base, challenger, t, alpha),
        _proportion_effect(
            "error rate",
            (base.errors, base.requests),
            (challenger.errors, challenger.requests),
            t.error_points,
            alpha,
        ),
    ]
    return [e for e in found if e is not None]
