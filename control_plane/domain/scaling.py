"""The scaling policy: observed load -> desired replicas and why, as a pure function that
follows the HorizontalPodAutoscaler's algorithm step by step, so the same settings mean
the same on one machine and on a cluster (docs/architecture.md)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from control_plane.schemas import ScalingRules, ScalingSettings

TOLERANCE = 0.1
Metric = Literal["cpu", "inflight", "rps"]


@dataclass(frozen=True)
class ReplicaLoad:
    """One replica's latest sample. None: no sample (just started, scrape failed)."""

    inflight: float | None = None
    rps: float | None = None
    cpu: float | None = None  # percent of the CPU the replica requested
    ready: bool = True

    def value(self, metric: Metric) -> float | None:
        return {"cpu": self.cpu, "inflight": self.inflight, "rps": self.rps}[metric]


@dataclass(frozen=True)
class Recommendation:
    at: datetime
    replicas: int


@dataclass(frozen=True)
class ScaleEvent:
    """A change of replicas that was carried out: + added, - removed."""

    at: datetime
    change: int


@dataclass(frozen=True)
class ScalingHistory:
    recommendations: tuple[Recommendation, ...] = ()
    events: tuple[ScaleEvent, ...] = ()


@dataclass(frozen=True)
class ScalingDecision:
    desired: int
    reason: str
    history: ScalingHistory = field(default_factory=ScalingHistory)


@dataclass(frozen=True)
class _Proposal:
    replicas: int | None  # None: the metric could not be computed
    why: str


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def metric_proposal(
    metric: Metric, target: float, current: int, loads: Sequence[ReplicaLoad]
) -> _Proposal:
    """Step 1: one metric's proposal, with the HPA's handling of missing and unready pods."""
    samples = [v for r in loads if r.ready and (v := r.value(metric)) is not None]
    if not samples:
        return _Proposal(None, f"no {metric} sample from any ready replica")
    missing = sum(1 for r in loads if r.ready and r.value(metric) is None)
    unready = sum(1 for r in loads if not r.ready)
    ratio = sum(samples) / len(samples) / target
    seen = f"{metric} {_fmt(sum(samples) / len(samples))} per replica vs target {_fmt(target)}"
    if missing == 0 and unready == 0:
        if abs(ratio - 1.0) <= TOLERANCE:
            return _Proposal(current, f"{seen}: within tolerance")
        return _Proposal(math.ceil(ratio * len(samples)), seen)
    # Conservative fill: assume the replicas without a sample resist the move.
    scale_up = ratio > 1.0
    filled = list(samples) + [0.0 if scale_up else target] * missing
    if scale_up:
        filled += [0.0] * unready
    new_ratio = sum(filled) / len(filled) / target
    note = f"{seen} ({missing} without a sample, {unready} not ready)"
    if abs(new_ratio - 1.0) <= TOLERANCE or (ratio > 1.0) != (new_ratio > 1.0):
        return _Proposal(current, f"{note}: within tolerance once they are counted")
    replicas = math.ceil(new_ratio * len(filled))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return _Proposal(current, f"{note}: no change once they are counted")
    return _Proposal(replicas, note)


def _combine(proposals: Sequence[_Proposal], current: int) -> _Proposal:
    """Step 2: the largest proposal; a missing metric blocks a scale down."""
    valid = [p for p in proposals if p.replicas is not None]
    invalid = [p for p in proposals if p.replicas is None]
    if not valid:
        return _Proposal(current, "; ".join(p.why for p in invalid) + ": keeping the replicas")
    best = max(valid, key=lambda p: p.replicas or 0)
    assert best.replicas is not None
    if invalid and best.replicas < current:
        return _Proposal(current, f"{invalid[0].why}: not scaling down without it")
    return best


def _stabilize(
    proposed: int, current: int, now: datetime, settings: ScalingSettings, history: ScalingHistory
) -> tuple[int, str]:
    """Step 3: scale up to the window's minimum, down to the window's maximum."""
    up_cut = now - timedelta(seconds=settings.scale_up.stabilization_window_s)
    down_cut = now - timedelta(seconds=settings.scale_down.stabilization_window_s)
    up, down = proposed, proposed
    for rec in history.recommendations:
        if rec.at > up_cut:
            up = min(up, rec.replicas)
        if rec.at > down_cut:
            down = max(down, rec.replicas)
    out = min(max(current, up), down)
    if out == proposed:
        return out, ""
    if proposed < current:
        window = settings.scale_down.stabilization_window_s
        return out, f"holding {out}: the last {window}s recommended up to {down}"
    window = settings.scale_up.stabilization_window_s
    return out, f"holding {out}: the last {window}s recommended as few as {up}"


def _changed_within(events: Sequence[ScaleEvent], since: datetime, sign: int) -> int:
    return sum(abs(e.change) for e in events if e.at > since and e.change * sign > 0)


def _rate_limit(
    current: int, now: datetime, rules: ScalingRules, events: Sequence[ScaleEvent], sign: int
) -> int:
    """The furthest the policies let the count move from `current`, up (+1) or down (-1)."""
    if rules.select == "Disabled":
        return current
    limits = []
    for p in rules.policies:
        since = now - timedelta(seconds=p.period_s)
        start = current - sign * _changed_within(events, since, sign)
        if p.type == "Pods":
            limits.append(start + sign * p.value)
        elif sign > 0:
            limits.append(math.ceil(start * (1 + p.value / 100)))
        else:
            limits.append(int(start * (1 - p.value / 100)))
    # "Max" selects the policy that allows the largest change in this direction.
    furthest = max(limits, key=lambda n: sign * n)
    nearest = min(limits, key=lambda n: sign * n)
    chosen = furthest if rules.select == "Max" else nearest
    return max(current, chosen) if sign > 0 else min(current, chosen)


def _rate_and_bounds(
    wanted: int, current: int, now: datetime, settings: ScalingSettings, history: ScalingHistory
) -> tuple[int, str]:
    """Step 4: the policies' rate limits, then min/max."""
    if wanted > current:
        limit = _rate_limit(current, now, settings.scale_up, history.events, +1)
        if wanted > limit:
            if settings.scale_up.select == "Disabled":
                return current, "scaling up is disabled"
            return min(limit, settings.max_replicas), f"scale up limited to {limit} by policy"
        if wanted > settings.max_replicas:
            return settings.max_replicas, f"capped at max_replicas {settings.max_replicas}"
    elif wanted < current:
        limit = _rate_limit(current, now, settings.scale_down, history.events, -1)
        if wanted < limit:
            if settings.scale_down.select == "Disabled":
                return current, "scaling down is disabled"
            return max(limit, settings.min_replicas), f"scale down limited to {limit} by policy"
        if wanted < settings.min_replicas:
            return settings.min_replicas, f"kept at min_replicas {settings.min_replicas}"
    return wanted, ""


def _prune(history: ScalingHistory, now: datetime, settings: ScalingSettings) -> ScalingHistory:
    """Keep only what a later call can still look at."""
    keep_rec = max(
        settings.scale_up.stabilization_window_s, settings.scale_down.stabilization_window_s
    )
    periods = [p.period_s for r in (settings.scale_up, settings.scale_down) for p in r.policies]
    keep_ev = max(periods)
    return ScalingHistory(
        recommendations=tuple(
            r for r in history.recommendations if r.at > now - timedelta(seconds=keep_rec)
        ),
        events=tuple(e for e in history.events if e.at > now - timedelta(seconds=keep_ev)),
    )


def decide(
    *,
    now: datetime,
    current: int,
    loads: Sequence[ReplicaLoad],
    settings: ScalingSettings,
    history: ScalingHistory | None = None,
) -> ScalingDecision:
    """How many replicas to run now, and why in plain words.

    `current`: replicas running (ready or not); `loads`: one sample per replica.
    """
    history = _prune(history or ScalingHistory(), now, settings)
    if current < settings.min_replicas or current > settings.max_replicas:
        desired = min(max(current, settings.min_replicas), settings.max_replicas)
        bound = "min_replicas" if desired > current else "max_replicas"
        bounds = f"[{settings.min_replicas}, {settings.max_replicas}]"
        reason = f"scale {current} -> {desired}: outside {bounds}, moved to {bound}"
        return _record(desired, current, now, reason, history, recommendation=None)

    metric: Metric = settings.target_metric
    proposal = _combine([metric_proposal(metric, settings.target, current, loads)], current)
    assert proposal.replicas is not None
    stabilized, held = _stabilize(proposal.replicas, current, now, settings, history)
    desired, limited = _rate_and_bounds(stabilized, current, now, settings, history)
    parts = [proposal.why + f" -> {proposal.replicas}"]
    parts += [p for p in (held, limited) if p]
    verb = "scale up" if desired > current else "scale down" if desired < current else "keep"
    reason = f"{verb} {current} -> {desired}: " + "; ".join(parts)
    return _record(desired, current, now, reason, history, recommendation=proposal.replicas)


def _record(
    desired: int,
    current: int,
    now: datetime,
    reason: str,
    history: ScalingHistory,
    recommendation: int | None,
) -> ScalingDecision:
    recs = history.recommendations
    if recommendation is not None:
        recs = (*recs, Recommendation(now, recommendation))
    events = history.events
    if desired != current:
        events = (*events, ScaleEvent(now, desired - current))
    return ScalingDecision(desired, reason, ScalingHistory(recs, events))
