"""What one refresh of a model's page reads: the deployment, a page of versions, the metrics,
the experiment with the latest canary, and the replica history; as the signed-in user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from control_plane.composition import Platform
from control_plane.errors import NotFound
from control_plane.schemas import AuditEventPublic, DeploymentPublic, ModelMetrics
from control_plane.services import audit, canaries, deployments, experiments, registry
from control_plane.services.canaries import CanaryPublic
from control_plane.services.experiments import ExperimentPublic
from control_plane.ui import calls, metrics_feed
from control_plane.ui.views import charts
from control_plane.ui.views.catalog import VersionRow, version_row
from control_plane.ui.views.markers import ChangeMarker, change_markers
from control_plane.ui.views.replicas import ReplicaHistory, read_history

PAGE_SIZE = 10
LABELS_IN_PICKER = 100
TIMELINE_EVENTS = 200
"""Recent audit events of the model: the canary timeline (canary.* kept) and the changes
marked on the charts (the changes of traffic within the chart's range)."""


@dataclass(frozen=True)
class ModelView:
    deployment: DeploymentPublic | None
    rows: list[VersionRow] | None
    total: int
    labels: list[str]
    seqs: dict[str, int]


def _read_view(
    session: Session, name: str, vpage: int | None, extra_labels: list[str]
) -> ModelView:
    try:
        dep: DeploymentPublic | None = deployments.get_deployment(session, name)
    except NotFound:
        registry.get_model(session, name)  # a missing model is a 404 for the page
        dep = None
    weights = dep.weights if dep else {}
    rows = None
    total = 0
    labels: list[str] = []
    seqs: dict[str, int] = {}
    if vpage is not None:
        versions = registry.list_versions(session, name, limit=PAGE_SIZE, offset=vpage * PAGE_SIZE)
        rows = [version_row(v, weights) for v in versions]
        total = registry.count_versions(session, name)
        recent = registry.list_versions(session, name, limit=LABELS_IN_PICKER)
        labels = [v.version for v in recent]
        seqs = {v.version: v.seq for v in [*recent, *versions]}
    wanted = set(weights) | set(dep.previous or {} if dep else {}) | set(extra_labels)
    wanted -= set(seqs)
    if wanted:
        seqs.update(registry.version_seqs(session, name, sorted(wanted)))
    return ModelView(deployment=dep, rows=rows, total=total, labels=labels, seqs=seqs)


@dataclass(frozen=True)
class ExperimentView:
    experiment: ExperimentPublic | None
    canary: CanaryPublic | None
    timeline: list[AuditEventPublic]


def _read_experiment(
    ctx: Platform,
    session: Session,
    name: str,
    window_s: int,
    now: datetime,
    events: list[AuditEventPublic],
) -> ExperimentView:
    """The experiment of the live versions (None while fewer than two serve), the latest
    canary and the canary entries of the audit log."""
    experiment = None
    try:
        dep = deployments.get_deployment(session, name)
        if sum(1 for w in dep.weights.values() if w > 0) > 1 or dep.shadow:
            experiment = experiments.experiment(session, ctx.metrics(), name, window_s, now)
    except NotFound:
        pass  # not deployed: nothing to compare
    latest = canaries.list_canaries(session, name, limit=1)
    return ExperimentView(
        experiment=experiment,
        canary=latest[0] if latest else None,
        timeline=[e for e in events if e.action.startswith("canary.")],
    )


@dataclass(frozen=True)
class Tick:
    view: ModelView
    metrics: ModelMetrics | None
    metrics_note: str
    experiment: ExperimentView | None = None
    replicas: ReplicaHistory | None = None
    markers: tuple[ChangeMarker, ...] = ()


def _read_rest(
    ctx: Platform, session: Session, name: str, window_s: int, now: datetime
) -> tuple[ExperimentView, ReplicaHistory, tuple[ChangeMarker, ...]]:
    """The experiment, the replica history and the changes within the window: one read
    of the audit log serves the canary timeline and the charts' markers."""
    events = audit.list_events(session, model=name, limit=TIMELINE_EVENTS)
    markers = change_markers(events, now - timedelta(seconds=window_s), now)
    return (
        _read_experiment(ctx, session, name, window_s, now, events),
        read_history(session, name, ctx.replicas.all(), now, window_s, ctx.stale_after),
        tuple(markers),
    )


def read_tick(
    ctx: Platform, token: str, name: str, vpage: int | None, range_key: str, now: datetime
) -> Tick:
    """Everything one refresh shows; the versions table only when `vpage` is given."""
    r = charts.time_range(range_key)
    try:
        metrics: ModelMetrics | None = metrics_feed.model_metrics(
            ctx, name, r.window_s, r.step_s, now
        )
        note = ""
    except metrics_feed.MetricsUnavailable as e:
        metrics, note = None, str(e)
    series_labels = [s.version for s in metrics.series] if metrics else []
    view, (experiment, replicas, markers) = calls.run_as(
        ctx,
        token,
        lambda s, _p: (
            _read_view(s, name, vpage, series_labels),
            _read_rest(ctx, s, name, r.window_s, now),
        ),
    )
    return Tick(
        view=view,
        metrics=metrics,
        metrics_note=note,
        experiment=experiment,
        replicas=replicas,
        markers=markers,
    )
