"""Experiments: how the live and shadow versions of a model compare since the current split
took effect, against the baseline (the canary's, else the largest share) (docs/monitoring.md)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlmodel import Session

from control_plane.domain import stats
from control_plane.domain.analysis import VersionStats, compare_latency
from control_plane.domain.effects import Effect, Thresholds
from control_plane.domain.verdicts import judge
from control_plane.errors import InvalidRequest
from control_plane.metrics.base import MetricsSource
from control_plane.schemas import (
    Comparison,
    Difference,
    EffectPublic,
    Estimate,
    ExperimentPublic,
    LatencyTest,
    Principal,
    Role,
    ThresholdSettings,
    ThresholdsPublic,
    VersionResult,
    VersionSummary,
)
from control_plane.services import audit, canaries, deployments, monitoring
from control_plane.services.auth import require
from control_plane.services.registry import get_model

ALPHA = 0.05
POWER = 0.8
LATENCY_METHOD = (
    "the difference of the medians read off both request-latency histograms, its 95 % "
    "interval from each median's order-statistic interval; tested by Mann-Whitney U on the "
    "histograms (each bucket a group of ties), two-sided, with tie correction"
)


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


def _effect(e: Effect) -> EffectPublic:
    return EffectPublic(
        measure=e.measure,
        unit=e.unit,
        baseline=e.base,
        challenger=e.challenger,
        diff=e.diff,
        low=e.low,
        high=e.high,
        p_value=e.p_value,
        threshold=e.threshold,
        n=e.n,
        reading=e.reading,
    )


def thresholds_of(settings: ThresholdSettings) -> Thresholds:
    return Thresholds(**settings.model_dump())


def compare(
    base: VersionStats,
    challenger: VersionStats,
    thresholds: ThresholdSettings,
    min_effect: float,
    *,
    shadow: bool = False,
) -> Comparison:
    """One challenger against the baseline: pure, from measured counts. A shadow's latency
    is its model call alone, not a whole request: its rank test is given, not judged."""
    ratio = None
    if base.p99_ms and challenger.p99_ms is not None:
        ratio = challenger.p99_ms / base.p99_ms
    needed = _needed(base, min_effect)
    labelled = base.labelled + challenger.labelled
    judged = replace(challenger, latency_counts=()) if shadow else challenger
    said = judge(base, judged, thresholds_of(thresholds), alpha=ALPHA)
    latency = compare_latency(base, challenger, alpha=ALPHA)
    return Comparison(
        challenger=challenger.version,
        baseline=base.version,
        effects=[_effect(e) for e in said.effects],
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
        labels_missing=said.labels_missing,
        needed=needed,
        reached=needed is not None and challenger.labelled > 0 and labelled >= needed,
        decided=said.decided,
        verdict=said.text,
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
    min_effect: float | None = None,
) -> ExperimentPublic:
    """The live versions of `model` compared over the traffic served since the current
    split took effect, within the window ending at `now`."""
    if min_effect is not None and not 0 < min_effect < 1:
        raise InvalidRequest(f"min_effect: expected a proportion between 0 and 1, got {min_effect}")
    window_s, _ = monitoring.check_window(window_s, window_s)
    dep = deployments.get_deployment(session, model)  # NotFound: no model, or not deployed
    thresholds = get_thresholds(session, model).thresholds
    if min_effect is None:
        min_effect = min(thresholds.accuracy_points / 100, 0.99)
    revision, split_at = deployments.split_since(session, model)
    # Whole seconds after the split's own, which also holds traffic from before it.
    held_s = max(0, int(now.timestamp()) - int(split_at.timestamp()))
    compared_s = min(window_s, held_s)
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
    found = source.summaries(compared_s, now).get(model, []) if compared_s > 0 else []
    by_version = {s.version: s for s in found}
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
        c = compare(measured[baseline], measured[v], thresholds, min_effect, shadow=v in shadows)
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
        window_s=compared_s,
        since=now - timedelta(seconds=compared_s),
        since_split=compared_s == held_s,
        split_revision=revision,
        split_since=split_at,
        generated_at=now,
        min_effect=min_effect,
        thresholds=thresholds,
        baseline=baseline,
        canary=current.canary if current else None,
        latency_method=LATENCY_METHOD,
        versions=[
            _result(measured[v], weights.get(v, 0), role(v), by_version.get(v), shadows.get(v, 0))
            for v in order
        ],
        comparisons=[comparison(v) for v in order[1:]],
    )


def get_thresholds(session: Session, name: str) -> ThresholdsPublic:
    model = get_model(session, name)
    if model.thresholds is None:
        return ThresholdsPublic(model=name, thresholds=ThresholdSettings(), custom=False)
    settings = ThresholdSettings.model_validate(model.thresholds)
    return ThresholdsPublic(model=name, thresholds=settings, custom=True)


def set_thresholds(
    session: Session,
    principal: Principal,
    name: str,
    thresholds: ThresholdSettings,
    reason: str = "",
) -> ThresholdsPublic:
    """Replace the model's experiment thresholds (deployer, audited); unchanged is a no-op."""
    require(principal, Role.deployer)
    before = get_thresholds(session, name)
    if before.custom and before.thresholds == thresholds:
        return before
    model = get_model(session, name)
    model.thresholds = thresholds.model_dump(mode="json")
    session.add(model)
    previous = before.thresholds.model_dump(mode="json") if before.custom else None
    audit.model_change(
        session, principal.username, "thresholds.set", name, previous, model.thresholds, reason
    )
    session.flush()
    return get_thresholds(session, name)
