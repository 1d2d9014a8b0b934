"""REST routes for live metrics and experiment verdicts: thin, the services decide."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from control_plane.api.deps import Deployer, PlatformDep, SessionDep, Viewer
from control_plane.schemas import (
    ExperimentPublic,
    ModelMetrics,
    ThresholdsPublic,
    ThresholdsSet,
    VersionSummary,
)
from control_plane.services import experiments, monitoring, registry

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
        float | None,
        Query(
            description="Accuracy difference to size the sample for, 0..1 (0.02 = 2 points); "
            "default: the model's accuracy threshold."
        ),
    ] = None,
) -> ExperimentPublic:
    """Each live version's accuracy, error rate and latency since the current split took
    effect (within the window), and each challenger against the baseline: effects with
    intervals, judged against the model's thresholds, and a verdict."""
    source = platform.metrics()
    return experiments.experiment(session, source, name, window, datetime.now(UTC), min_effect)


@router.get("/models/{name}/thresholds", tags=["experiments"])
def get_thresholds(name: str, session: SessionDep, _: Viewer) -> ThresholdsPublic:
    """The smallest differences the model's experiments declare (defaults until set)."""
    return experiments.get_thresholds(session, name)


@router.put("/models/{name}/thresholds", tags=["experiments"])
def set_thresholds(
    name: str, body: ThresholdsSet, session: SessionDep, principal: Deployer
) -> ThresholdsPublic:
    """Replace the model's experiment thresholds; fields left out take their defaults."""
    return experiments.set_thresholds(session, principal, name, body.thresholds, body.reason)
