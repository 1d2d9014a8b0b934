"""REST routes for live metrics: thin, the monitoring service decides.

`routes(settings, replicas)` also starts the app's metrics source, so the charts have
history from the moment the control plane is up (create_api's own lifespan does not run
inside Reflex). `monitoring.close_source(replicas)` stops it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from control_plane.api.deps import ReplicasDep, SessionDep, SettingsDep, Viewer
from control_plane.schemas import ModelMetrics, VersionSummary
from control_plane.services import monitoring, registry
from control_plane.services.replicas import ReplicaBook
from control_plane.settings import PierSettings

router = APIRouter(prefix="/api/v1", tags=["monitoring"])


def routes(settings: PierSettings, replicas: ReplicaBook) -> APIRouter:
    """The monitoring routes, with this app's metrics source started."""
    monitoring.source_for(settings, replicas).start()
    return router


WindowQuery = Annotated[
    int,
    Query(
        description="Seconds back from now: one of "
        + ", ".join(str(w) for w in monitoring.ALLOWED_WINDOWS_S)
    ),
]


@router.get("/models/{name}/metrics")
def model_metrics(
    name: str,
    session: SessionDep,
    settings: SettingsDep,
    replicas: ReplicasDep,
    _: Viewer,
    window: WindowQuery = 300,
    step: Annotated[
        int | None, Query(description="Seconds per point; default window / 60.")
    ] = None,
) -> ModelMetrics:
    """Per-version rps, latency quantiles, error rate and accuracy over the window, one
    point per step, with a summary and each serving replica's CPU and memory."""
    registry.get_model(session, name)
    source = monitoring.source_for(settings, replicas)
    return monitoring.model_metrics(source, name, window, step, datetime.now(UTC))


@router.get("/metrics/summary")
def metrics_summary(
    settings: SettingsDep, replicas: ReplicasDep, _: Viewer, window: WindowQuery = 300
) -> dict[str, list[VersionSummary]]:
    """Every model's per-version summary over the window (the overview page)."""
    source = monitoring.source_for(settings, replicas)
    return monitoring.summaries(source, window, datetime.now(UTC))
