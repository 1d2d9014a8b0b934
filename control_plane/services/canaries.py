"""Progressive canaries: start, watch, pause, resume, abort, and the tick that drives them;
each weight change goes through the deployment service as a normal, audited change."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from control_plane.db.tables import Canary, Deployment, Model
from control_plane.domain.analysis import Analysis, Gates, VersionStats, analyse
from control_plane.domain.canary import (
    CanaryPlan,
    CanaryState,
    Decision,
    abort,
    advance,
    pause,
    resume,
)
from control_plane.domain.effects import Thresholds
from control_plane.domain.verdicts import judge
from control_plane.errors import Conflict, InvalidRequest, NotFound
from control_plane.metrics.base import MetricsSource
from control_plane.schemas import Principal, Role, ThresholdSettings, VersionSummary
from control_plane.services import audit, deployments
from control_plane.services.auth import require
from control_plane.services.registry import get_model, get_version_row

ACTOR = "canary"
ENDINGS = {"promoted": "promoted", "rolled_back": "rolled back", "aborted": "aborted"}
"""A canary's final statuses, as its summary says them."""
MAX_WINDOW_S = 3600


class GateSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_requests: int = Field(default=100, ge=1, description="Requests a step needs to pass.")
    min_requests_to_fail: int | None = Field(
        default=None,
        ge=1,
        description="Requests after which a failed gate rolls back; default min_requests, "
        "so no gate fails a step on less than its minimum sample.",
    )
    max_error_rate_increase: float = Field(
        default=0.01, ge=0, le=1, description="Allowed error-rate rise over the baseline (0..1)."
    )
    max_p99_ratio: float = Field(default=1.5, gt=1, description="Allowed p99 canary/baseline.")
    max_p99_increase_ms: float = Field(
        default=5.0,
        ge=0,
        description="And allowed p99 rise in ms: latency fails only beyond both.",
    )
    min_p99_requests: int = Field(
        default=300,
        ge=1,
        description="Requests each side needs before p99s are compared; medians until then.",
    )
    latency_alpha: float = Field(
        default=0.01, gt=0, lt=1, description="Significance a slower canary must reach."
    )
    accuracy_alpha: float = Field(default=0.05, gt=0, lt=1, description="Significance level.")
    min_labelled: int = Field(default=200, ge=1, description="Labels each side needs.")

    def gates(self) -> Gates:
        return Gates(**self.model_dump())


class CanaryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(description="The new version to ramp up.")
    baseline: str | None = Field(
        default=None, description="Default: the version that now takes all traffic."
    )
    steps: list[int] = Field(default=[5, 25, 50, 100], min_length=1, max_length=20)
    interval_s: float = Field(default=60.0, ge=1, le=86_400)
    gates: GateSettings = Field(default_factory=GateSettings)
    reason: str = Field(default="", max_length=2000)


class GateOutcome(BaseModel):
    gate: str
    outcome: str
    detail: str


class CanarySummary(BaseModel):
    """A finished canary's last word: what ended it, its gates then, and the verdict on the
    canary against its baseline over its last step."""

    outcome: str = Field(description="promoted, rolled back or aborted")
    analysis: str = Field(description="What the gates said then: pass, fail or wait.")
    at: datetime
    by: str
    weight: int = Field(description="The canary's share when it ended.")
    reason: str
    gates: list[GateOutcome]
    verdict: str


class CanaryPublic(BaseModel):
    id: int
    model: str
    baseline: str
    canary: str
    steps: list[int]
    interval_s: float
    gates: GateSettings
    status: str
    step: int
    weight: int
    step_started_at: datetime
    last_reason: str
    summary: CanarySummary | None = Field(
        default=None, description="How it ended: its last gates and verdict; None while it runs."
    )
    created_at: datetime
    created_by: str


def _public(model: str, row: Canary) -> CanaryPublic:
    assert row.id is not None
    return CanaryPublic(
        id=row.id,
        model=model,
        baseline=row.baseline,
        canary=row.canary,
        steps=list(row.steps),
        interval_s=row.interval_s,
        gates=GateSettings.model_validate(row.gates),
        status=row.status,
        step=row.step,
        weight=row.steps[row.step],
        step_started_at=row.step_started_at,
        last_reason=row.last_reason,
        summary=CanarySummary.model_validate(row.summary) if row.summary else None,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _state(row: Canary, model: str) -> CanaryState:
    plan = CanaryPlan(
        model, row.baseline, row.canary, tuple(row.steps), timedelta(seconds=row.interval_s)
    )
    return CanaryState(plan, row.status, row.step, row.step_started_at)  # type: ignore[arg-type]


def _store(row: Canary, state: CanaryState, reason: str, now: datetime) -> None:
    row.status = state.status
    row.step = state.step
    row.step_started_at = state.step_started_at
    row.last_reason = reason[:4000]
    row.updated_at = now


def _active(session: Session, model: Model) -> Canary | None:
    return session.exec(
        select(Canary).where(
            Canary.model_id == model.id, col(Canary.status).in_(("running", "paused"))
        )
    ).first()


def start_canary(
    session: Session, principal: Principal, name: str, body: CanaryCreate, now: datetime
) -> CanaryPublic:
    require(principal, Role.deployer)
    model = get_model(session, name)
    if _active(session, model) is not None:
        raise Conflict(f"{name!r} already has a canary in progress: pause, resume or abort it")
    get_version_row(session, model, body.version)
    baseline = body.baseline
    if baseline is None:
        dep = session.get(Deployment, model.id)
        serving = [v for v, w in (dep.weights if dep else {}).items() if w == 100]
        if not serving:
            raise InvalidRequest(
                f"{name!r} has no single version taking all traffic: name the baseline"
            )
        baseline = serving[0]
    get_version_row(session, model, baseline)
    try:
        plan = CanaryPlan(
            name, baseline, body.version, tuple(body.steps), timedelta(seconds=body.interval_s)
        )
    except ValueError as e:
        raise InvalidRequest(str(e)) from e
    assert model.id is not None
    state = CanaryState(plan, "running", 0, now)
    deployments.set_weights(
        session, principal, name, state.weights(), reason=body.reason, action="canary.start"
    )
    row = Canary(
        model_id=model.id,
        baseline=baseline,
        canary=body.version,
        steps=list(body.steps),
        interval_s=body.interval_s,
        gates=body.gates.model_dump(),
        status="running",
        step=0,
        step_started_at=now,
        last_reason=f"started at {state.weight} %",
        created_at=now,
        created_by=principal.username,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return _public(name, row)


def list_canaries(session: Session, name: str, limit: int = 20) -> list[CanaryPublic]:
    model = get_model(session, name)
    rows = session.exec(
        select(Canary)
        .where(Canary.model_id == model.id)
        .order_by(col(Canary.id).desc())
        .limit(limit)
    ).all()
    return [_public(name, r) for r in rows]


def _require_active(session: Session, name: str) -> tuple[Model, Canary]:
    model = get_model(session, name)
    row = _active(session, model)
    if row is None:
        raise NotFound(f"{name!r} has no canary in progress")
    return model, row


def control(
    session: Session,
    principal: Principal,
    name: str,
    action: str,
    now: datetime,
    reason: str = "",
    source: MetricsSource | None = None,
) -> CanaryPublic:
    """A person pauses, resumes or aborts the rollout of `name`; an abort keeps the
    canary's gates and verdict at that moment when `source` is given."""
    require(principal, Role.deployer)
    model, row = _require_active(session, name)
    state = _state(row, name)
    try:
        if action == "pause":
            new, why = pause(state), f"paused at {state.weight} %"
        elif action == "resume":
            new, why = resume(state, now), f"resumed at {state.weight} %"
        elif action == "abort":
            if source is not None:
                why = reason or "no reason given"
                summary = _summary(row, model, source, now, "aborted", principal.username, why)
                _record_summary(session, row, name, summary)
            decision = abort(state)
            deployments.set_weights(
                session,
                principal,
                name,
                decision.weights or {},
                reason=reason,
                action="canary.abort",
            )
            new, why = decision.state, f"aborted at {state.weight} %"
        else:
            raise InvalidRequest(f"action must be pause, resume or abort, got {action!r}")
    except ValueError as e:
        raise Conflict(str(e)) from e
    _store(row, new, why + (f": {reason}" if reason else ""), now)
    if action != "abort":
        audit.record(
            session,
            actor=principal.username,
            action=f"canary.{action}",
            model=name,
            target=f"{name}@{row.canary}",
            reason=reason,
        )
    session.add(row)
    return _public(name, row)


def version_stats(summary: VersionSummary | None, version: str) -> VersionStats:
    """A version's figures for the gates and verdicts, its latency histogram included."""
    if summary is None:
        return VersionStats(version, 0, 0, None)
    labelled = summary.labelled
    correct = round((summary.accuracy or 0.0) * labelled)
    return VersionStats(
        version,
        requests=summary.requests,
        errors=summary.errors,
        p99_ms=summary.p99_ms,
        labelled=labelled,
        correct=correct,
        latency_bounds_s=tuple(summary.latency_bounds_s),
        latency_counts=tuple(summary.latency_counts),
        p50_ms=summary.p50_ms,
    )


def _step_figures(
    row: Canary, model: str, source: MetricsSource, now: datetime
) -> tuple[VersionStats, VersionStats, Analysis]:
    """Baseline and canary over the current step, and the gates on them."""
    window = int(min(MAX_WINDOW_S, max(1.0, (now - row.step_started_at).total_seconds())))
    by_version = {s.version: s for s in source.summaries(window, now).get(model, [])}
    base = version_stats(by_version.get(row.baseline), row.baseline)
    canary = version_stats(by_version.get(row.canary), row.canary)
    return base, canary, analyse(base, canary, GateSettings.model_validate(row.gates).gates())


def _summary(
    row: Canary,
    model: Model,
    source: MetricsSource,
    now: datetime,
    outcome: str,
    by: str,
    reason: str,
) -> CanarySummary:
    """The gates and the verdict over the canary's last step, kept once it has ended."""
    base, canary, analysis = _step_figures(row, model.name, source, now)
    thresholds = ThresholdSettings.model_validate(model.thresholds or {})
    said = judge(base, canary, Thresholds(**thresholds.model_dump()))
    return CanarySummary(
        outcome=outcome,
        analysis=analysis.outcome,
        at=now,
        by=by,
        weight=row.steps[row.step],
        reason=reason,
        gates=[
            GateOutcome(gate=g.name, outcome=g.outcome, detail=g.detail) for g in analysis.gates
        ],
        verdict=said.text,
    )


def _record_summary(session: Session, row: Canary, model: str, summary: CanarySummary) -> None:
    row.summary = summary.model_dump(mode="json")
    audit.record(
        session,
        actor=summary.by,
        action="canary.analysis",
        model=model,
        target=f"{model}@{row.canary}",
        after={
            "outcome": summary.analysis,
            "ended": summary.outcome,
            "gates": [g.model_dump() for g in summary.gates],
            "verdict": summary.verdict,
        },
        reason=summary.reason,
    )


def tick(session: Session, source: MetricsSource, now: datetime) -> list[Decision]:
    """Advance every running canary once; returns the decisions that changed something."""
    acted = []
    rows = session.exec(
        select(Canary, Model)
        .join(Model, col(Model.id) == col(Canary.model_id))
        .where(Canary.status == "running")
    ).all()
    system = Principal(username=ACTOR, role=Role.deployer, token_name="canary-driver")
    for row, model in rows:
        state = _state(row, model.name)
        _, _, analysis = _step_figures(row, model.name, source, now)
        decision = advance(state, analysis, now)
        if decision.kind == "wait":
            if row.last_reason != decision.reason:
                row.last_reason = decision.reason[:4000]
                session.add(row)
            continue
        assert decision.weights is not None
        deployments.set_weights(
            session,
            system,
            model.name,
            decision.weights,
            reason=decision.reason,
            action=f"canary.{decision.kind}",
        )
        ended = ENDINGS.get(decision.state.status)
        if ended is not None:
            summary = _summary(row, model, source, now, ended, ACTOR, decision.reason)
            _record_summary(session, row, model.name, summary)
        else:
            audit.record(
                session,
                actor=ACTOR,
                action="canary.analysis",
                model=model.name,
                target=f"{model.name}@{row.canary}",
                after={
                    "outcome": analysis.outcome,
                    "gates": [
                        {"gate": g.name, "outcome": g.outcome, "detail": g.detail}
                        for g in analysis.gates
                    ],
                },
                reason=decision.reason,
            )
        _store(row, decision.state, decision.reason, now)
        session.add(row)
        acted.append(decision)
    return acted
