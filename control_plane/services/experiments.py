"""Experiments: how the live and shadow versions of a model compare, in numbers and words,
against the baseline (the canary's, else the largest share) (docs/monitoring.md)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlmodel import Session

from control_plane.domain import stats
from control_plane.domain.analysis import VersionStats, compare_latency, verdict
from control_plane.errors import InvalidRequest
from control_plane.metrics.base import MetricsSource
from control_plane.schemas import VersionSummary
from control_plane.services import canaries, deployments, monitoring

ALPHA = 0.05
POWER = 0.8
LATENCY_METHOD = (
    "Mann-Whitney U on the request-latency histograms of challenger and baseline (each "
    "bucket a group of ties), two-sided, normal approximation with tie correction; "
    "plus the p99 ratio"
)


class Estimate(BaseModel):
    """A proportion with its 95 % Wilson interval; None values where nothing was counted."""

    value: float | None = Field(description="0..1")
    low: float | None
    high: float | None
    n: int = Field(description="What the proportion is of: requests or labelled rows.")


class VersionResult(BaseModel):
    version: str
    weight: int = Field(description="Percent of traffic it takes now.")
    role: str = Field(description="baseline, challenger or shadow")
    shadow: int = Field(default=0, description="Shadow: percent of requests mirrored to it.")
    agreement: Estimate | None = Field(
        default=None,
        description="Shadow: share of classifier rows where it predicted the live answer.",
    )
    requests: int
    errors: int
    error_rate: Estimate
    labelled: int
    accuracy: Estimate
    p50_ms: float | None
    p99_ms: float | None


class Difference(BaseModel):
    """Challenger minus baseline, with Newcombe's 95 % interval and a two-sided p-value."""

    diff: float
    low: float
    high: float
    p_value: float


class LatencyTest(BaseModel):
    """Challenger against baseline on latency: a rank test on their histograms."""

    u: float = Field(description="Mann-Whitney U of the challenger.")
    p_value: float = Field(description="Two-sided.")
    prob_slower: float = Field(
        description="P(a challenger request takes longer than a baseline one), ties half."
    )
    significant: bool
    text: str


class Comparison(BaseModel):
    challenger: str
    baseline: str
    accuracy: Difference | None = Field(description="None until both versions have labels.")
    error_rate: Difference | None = Field(description="None until both versions served.")
    p99_ratio: float | None = Field(description="Challenger p99 / baseline p99.")
    latency: LatencyTest | None = Field(
        default=None, description="None until both versions have latency histograms."
    )
    agreement: float | None = Field(
        default=None, description="Shadow challenger: share of rows agreeing with live answers."
    )
    labelled: int = Field(description="Labelled predictions of both versions together.")
    needed: int | None = Field(
        description="Labelled predictions (both together) needed to detect min_effect with "
        "80 % power at alpha 0.05; None until the baseline has labels."
    )
    reached: bool
    decided: bool
    verdict: str


class ExperimentPublic(BaseModel):
    model: str
    window_s: int
    generated_at: datetime
    min_effect: float
    baseline: str
    canary: str | None = Field(description="The canary in progress, if one runs.")
    latency_method: str
    versions: list[VersionResult]
    comparisons: list[Comparison]


def _estimate(successes: int, n: int) -> Estimate:
    if n <= 0:
        return Estimate(value=None, low=None, high=None, n=0)
    ci = stats.wilson_interval(successes, n)
    return Estimate(value=successes / n, low=ci.low, high=ci.high, n=n)


def _difference(x_a: int, n_a: int, x_b: int, n_b: int) -> Difference | None:
    if n_a <= 0 or n_b <= 0:
        return None
    t = stats.two_proportion_test(x_a, n_a, x_b, n_b)
    return Difference(
        diff=t.diff, low=t.diff_interval.low, high=t.diff_interval.high, p_value=t.p_value
    )


def _needed(base: VersionStats, min_effect: float) -> int | None:
    """The same figure `verdict` quotes: both groups together, the baseline's rate clamped."""
    if base.accuracy is None:
        return None
    p = min(max(base.accuracy, 0.01), 0.99)
    return 2 * stats.sample_size_two_proportions(p, min_effect, ALPHA, POWER)


def compare(
    base: VersionStats, challenger: VersionStats, min_effect: float, *, shadow: bool = False
) -> Comparison:
    """One challenger against the baseline: pure, from measured counts. A shadow's latency
    is its model call alone, not a whole request: its rank test is given, not worded."""
    ratio = None
    if base.p99_ms and challenger.p99_ms is not None:
        ratio = challenger.p99_ms / base.p99_ms
    needed = _needed(base, min_effect)
    labelled = base.labelled + challenger.labelled
    said = verdict(base, challenger, min_effect=min_effect, alpha=ALPHA, power=POWER)
    latency = compare_latency(base, challenger, alpha=ALPHA)
    text = said.text
    if latency is not None and latency.significant and not shadow:
        text = f"{text}; {latency.text}"
    return Comparison(
        challenger=challenger.version,
        baseline=base.version,
        accuracy=_difference(base.correct, base.labelled, challenger.correct, challenger.labelled),
        error_rate=_difference(base.errors, base.requests, challenger.errors, challenger.requests),
        p99_ratio=ratio,
        latency=None
        if latency is None
        else LatencyTest(
            u=latency.test.u,
            p_value=latency.test.p_value,
            prob_slower=latency.prob_slower,
            significant=latency.significant,
            text=latency.text,
        ),
        labelled=labelled,
        needed=needed,
        reached=needed is not None and challenger.labelled > 0 and labelled >= needed,
        decided=said.decided,
        verdict=text,
    )


def _agreement(summary: VersionSummary | None) -> Estimate | None:
    if summary is None or not summary.compared or summary.agreement is None:
        return None
    return _estimate(round(summary.agreement * summary.compared), summary.compared)


def _shadow_note(base: str, summary: VersionSummary | None) -> str:
    agreed = _agreement(summary)
    if agreed is None or agreed.value is None:
        return f"shadow of {base}: its answers are recorded, never returned"
    return (
        f"shadow of {base}: agrees with the live answer on {100 * agreed.value:.1f} % "
        f"of {agreed.n:,} rows; its latency is the model call alone"
    )


def _result(
    s: VersionStats, weight: int, role: str, summary: VersionSummary | None, shadow: int = 0
) -> VersionResult:
    return VersionResult(
        version=s.version,
        weight=weight,
        role=role,
        shadow=shadow,
        agreement=_agreement(summary) if role == "shadow" else None,
        requests=s.requests,
        errors=s.errors,
        error_rate=_estimate(s.errors, s.requests),
        labelled=s.labelled,
        accuracy=_estimate(s.correct, s.labelled),
        p50_ms=summary.p50_ms if summary else None,
        p99_ms=s.p99_ms,
    )


def _baseline(weights: dict[str, int], canary_baseline: str | None) -> str:
    if canary_baseline is not None and canary_baseline in weights:
        return canary_baseline
    return min(weights, key=lambda v: (-weights[v], v))


def experiment(
    session: Session,
    source: MetricsSource,
    model: str,
    window_s: int,
    now: datetime,
    min_effect: float = 0.02,
) -> ExperimentPublic:
    """The live versions of `model` compared over the window ending at `now`."""
    if not 0 < min_effect < 1:
        raise InvalidRequest(f"min_effect: expected a proportion between 0 and 1, got {min_effect}")
    window_s, _ = monitoring.check_window(window_s, window_s)
    dep = deployments.get_deployment(session, model)  # NotFound: no model, or not deployed
    weights = {v: w for v, w in dep.weights.items() if w > 0}
    current = next(
        (
            c
            for c in canaries.list_canaries(session, model, limit=1)
            if c.status in ("running", "paused")
        ),
        None,
    )
    baseline = _baseline(weights, current.baseline if current else None)
    by_version = {s.version: s for s in monitoring.summaries(source, window_s, now).get(model, [])}
    shadows = {v: pct for v, pct in dep.shadow.items() if pct > 0 and v not in weights}
    measured = {v: canaries.version_stats(by_version.get(v), v) for v in [*weights, *shadows]}
    order = [
        baseline,
        *sorted((v for v in weights if v != baseline), key=lambda v: (-weights[v], v)),
        *sorted(shadows, key=lambda v: (-shadows[v], v)),
    ]

    def role(v: str) -> str:
        return "baseline" if v == baseline else "shadow" if v in shadows else "challenger"

    def comparison(v: str) -> Comparison:
        c = compare(measured[baseline], measured[v], min_effect, shadow=v in shadows)
        if v not in shadows:
            return c
        note = _shadow_note(baseline, by_version.get(v))
        agreed = _agreement(by_version.get(v))
        return c.model_copy(
            update={
                "verdict": f"{c.verdict} ({note})",
                "agreement": agreed.value if agreed else None,
            }
        )

    return ExperimentPublic(
        model=model,
        window_s=window_s,
        generated_at=now,
        min_effect=min_effect,
        baseline=baseline,
        canary=current.canary if current else None,
        latency_method=LATENCY_METHOD,
        versions=[
            _result(measured[v], weights.get(v, 0), role(v), by_version.get(v), shadows.get(v, 0))
            for v in order
        ],
        comparisons=[comparison(v) for v in order[1:]],
    )
