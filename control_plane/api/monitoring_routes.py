"""REST routes for live metrics and experiment verdicts: thin, the services decide."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from control_plane.api.deps import PlatformDep, SessionDep, Viewer
from control_plane.schemas import ModelMetrics, VersionSummary
from control_plane.services import experiments, monitoring, registry
from control_plane.services.experiments import ExperimentPublic

router = APIRouter(prefix="/api/v1", tags=["monitoring"])

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
    platform: PlatformDep,
    _: Viewer,
    window: WindowQuery = 300,
    step: Annotated[
        int | None, Query(description="Seconds per point; default window / 60.")
    ] = None,
) -> ModelMetrics:
    """Per-version rps, latency quantiles, error rate and accuracy over the window, one
    point per step, with a summary and each serving replica's CPU and memory."""
    registry.get_model(session, name)
    return monitoring.model_metrics(platform.metrics(), name, window, step, datetime.now(UTC))


@router.get("/metrics/summary")
def metrics_summary(
    platform: PlatformDep, _: Viewer, window: WindowQuery = 300
) -> dict[str, list[VersionSummary]]:
    """Every model's per-version summary over the window (the overview page)."""
    return monitoring.summaries(platform.metrics(), window, datetime.now(UTC))


@router.get("/models/{name}/experiment", tags=["experiments"])
def model_experiment(
    name: str,
    session: SessionDep,
    platform: PlatformDep,
    _: Viewer,
    window: WindowQuery = 3600,
    min_effect: Annotated[
        float,
        Query(description="Smallest accuracy difference worth detecting, 0..1 (0.02 = 2 points)."),
    ] = 0.02,
) -> ExperimentPublic:
    """Each live version's accuracy, error rate and latency, and each challenger against
    the baseline: differences with intervals, p-values, the sample size needed, a verdict."""
    source = platform.metrics()
    return experiments.experiment(session, source, name, window, datetime.now(UTC), min_effect)
