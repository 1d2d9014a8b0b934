"""Canary analysis: pure functions of measured numbers.

`analyse` decides one canary step (pass, fail or wait) on gates a user can override;
`compare_latency` is the rank test both the latency gate and experiments use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from control_plane.domain import stats


@dataclass(frozen=True)
class VersionStats:
    """What monitoring measured for one version over the analysis window."""

    version: str
    requests: int
    errors: int
    p99_ms: float | None
    labelled: int = 0
    correct: int = 0
    latency_bounds_s: tuple[float, ...] = ()
    latency_counts: tuple[int, ...] = ()
    p50_ms: float | None = None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labelled if self.labelled else None


@dataclass(frozen=True)
class Gates:
    """Defaults that a user overrides per canary."""

    min_requests: int = 100
    min_requests_to_fail: int | None = None  # None: min_requests, the step's minimum sample
    max_error_rate_increase: float = 0.01  # absolute, e.g. 1 percentage point
    max_p99_ratio: float = 1.5
    max_p99_increase_ms: float = 5.0  # and absolute: 1 ms more at 1 ms is no regression
    min_p99_requests: int = 300  # a p99 of fewer is noise: the median is compared until then
    latency_alpha: float = 0.01
    accuracy_alpha: float = 0.05
    min_labelled: int = 200


@dataclass(frozen=True)
class GateResult:
    name: str
    outcome: Literal["pass", "fail", "wait"]
    detail: str


@dataclass(frozen=True)
class Analysis:
    outcome: Literal["pass", "fail", "wait"]
    gates: list[GateResult] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return "; ".join(f"{g.name}: {g.outcome} ({g.detail})" for g in self.gates)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f} %"


def _gate_traffic(base: VersionStats, canary: VersionStats, g: Gates) -> GateResult:
    if canary.requests < g.min_requests:
        return GateResult(
            "traffic", "wait", f"{canary.requests} of {g.min_requests} requests needed"
        )
    return GateResult("traffic", "pass", f"{canary.requests} requests")


def _gate_errors(base: VersionStats, canary: VersionStats, g: Gates) -> GateResult:
    c_rate = canary.error_rate
    b_rate = base.error_rate or 0.0
    if c_rate is None:
        return GateResult("error rate", "wait", "no canary requests yet")
    detail = f"{_pct(c_rate)} vs {_pct(b_rate)} baseline, limit +{_pct(g.max_error_rate_increase)}"
    return GateResult(
        "error rate", "fail" if c_rate > b_rate + g.max_error_rate_increase else "pass", detail
    )


def _gate_latency(base: VersionStats, canary: VersionStats, g: Gates) -> GateResult:
    """Slower only when beyond the ratio and the absolute margin both, and (with histograms)
    significantly so by a rank test; the p99 once each side has enough requests for it."""
    enough = min(base.requests, canary.requests) >= g.min_p99_requests
    q, b_ms, c_ms = ("p99", base.p99_ms, canary.p99_ms)
    if not enough:
        q, b_ms, c_ms = ("p50", base.p50_ms, canary.p50_ms)
    if c_ms is None or b_ms is None or b_ms <= 0:
        return GateResult("latency", "wait", "not measured yet")
    ratio, extra = c_ms / b_ms, c_ms - b_ms
    detail = (
        f"{q} {c_ms:.1f} ms vs {b_ms:.1f} ms baseline (x{ratio:.2f}, {extra:+.1f} ms; "
        f"fails beyond x{g.max_p99_ratio:.2f} and +{g.max_p99_increase_ms:g} ms)"
    )
    if not enough:
        detail += f"; the p99 is judged from {g.min_p99_requests} requests each"
    beyond = ratio > g.max_p99_ratio and extra > g.max_p99_increase_ms
    rank = compare_latency(base, canary, alpha=g.latency_alpha)
    if beyond and rank is not None:
        beyond = rank.significant and rank.prob_slower > 0.5
        detail += f", rank test p = {rank.test.p_value:.2g}"
    return GateResult("latency", "fail" if beyond else "pass", detail)


def _gate_accuracy(base: VersionStats, canary: VersionStats, g: Gates) -> GateResult | None:
    if base.labelled == 0 and canary.labelled == 0:
        return None  # no feedback flows: the gate does not apply
    if min(base.labelled, canary.labelled) < g.min_labelled:
        return GateResult(
            "accuracy",
            "pass",
            f"{canary.labelled} labelled (fewer than {g.min_labelled}: not judged)",
        )
    t = stats.two_proportion_test(base.correct, base.labelled, canary.correct, canary.labelled)
    worse = t.diff < 0 and t.p_value < g.accuracy_alpha
    detail = f"{_pct(t.p_b)} vs {_pct(t.p_a)} baseline (p = {t.p_value:.3g})"
    return GateResult("accuracy", "fail" if worse else "pass", detail)


def analyse(base: VersionStats, canary: VersionStats, gates: Gates) -> Analysis:
    """One canary step. A failed gate fails it once the canary has served
    `min_requests_to_fail` requests in the step (by default its minimum sample); it passes
    only when every gate passes on at least `min_requests`; otherwise it waits."""
    results = [
        _gate_errors(base, canary, gates),
        _gate_latency(base, canary, gates),
        _gate_traffic(base, canary, gates),
    ]
    accuracy = _gate_accuracy(base, canary, gates)
    if accuracy is not None:
        results.append(accuracy)
    outcomes = {r.outcome for r in results}
    fail_from = gates.min_requests_to_fail or gates.min_requests
    if "fail" in outcomes and canary.requests >= fail_from:
        return Analysis("fail", results)
    if outcomes == {"pass"}:
        return Analysis("pass", results)
    return Analysis("wait", results)


@dataclass(frozen=True)
class LatencyComparison:
    """Challenger against baseline by a rank test on their latency histograms."""

    test: stats.RankTest
    significant: bool
    text: str

    @property
    def prob_slower(self) -> float:
        """P(a challenger request takes longer than a baseline one), ties counted half."""
        return self.test.prob_b_greater


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f}"


def _quantiles(a: VersionStats, b: VersionStats) -> str:
    p99 = f"p99 {_ms(a.p99_ms)} vs {_ms(b.p99_ms)} ms"
    if a.p50_ms is None or b.p50_ms is None:
        return p99
    return f"p50 {_ms(a.p50_ms)} vs {_ms(b.p50_ms)} ms, {p99}"


def compare_latency(
    base: VersionStats, challenger: VersionStats, *, alpha: float = 0.05
) -> LatencyComparison | None:
    """Mann-Whitney U on the two latency histograms (each bucket one tie group); None
    without comparable histograms (no requests, or different bucket layouts)."""
    if (
        not base.latency_counts
        or base.latency_bounds_s != challenger.latency_bounds_s
        or len(base.latency_counts) != len(challenger.latency_counts)
        or sum(base.latency_counts) == 0
        or sum(challenger.latency_counts) == 0
    ):
        return None
    t = stats.mann_whitney_binned(base.latency_counts, challenger.latency_counts)
    n = sum(base.latency_counts) + sum(challenger.latency_counts)
    significant = t.p_value < alpha
    if not significant:
        text = (
            f"no significant latency difference between {challenger.version} and "
            f"{base.version}: {_quantiles(challenger, base)} (p = {t.p_value:.3g}, n = {n:,})"
        )
    else:
        # The rank test compares typical requests: the median says it, the p99 follows.
        slower = t.prob_b_greater > 0.5
        slow, fast = (challenger, base) if slower else (base, challenger)
        text = (
            f"{slow.version} is slower than {fast.version}: {_quantiles(slow, fast)} "
            f"(p = {t.p_value:.3g}, n = {n:,})"
        )
    return LatencyComparison(t, significant, text)
