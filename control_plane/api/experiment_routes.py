"""REST route for experiment verdicts: thin, the experiments service decides."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from control_plane.api.deps import ReplicasDep, SessionDep, SettingsDep, Viewer
from control_plane.services import experiments, monitoring
from control_plane.services.experiments import ExperimentPublic

router = APIRouter(prefix="/api/v1", tags=["experiments"])


@router.get("/models/{name}/experiment")
def model_experiment(
    name: str,
    session: SessionDep,
    settings: SettingsDep,
    replicas: ReplicasDep,
    _: Viewer,
    window: Annotated[
        int,
        Query(
            description="Seconds back from now: one of "
            + ", ".join(str(w) for w in monitoring.ALLOWED_WINDOWS_S)
        ),
    ] = 3600,
    min_effect: Annotated[
        float,
        Query(description="Smallest accuracy difference worth detecting, 0..1 (0.02 = 2 points)."),
    ] = 0.02,
) -> ExperimentPublic:
    """Each live version's accuracy, error rate and latency, and each challenger against
    the baseline: differences with intervals, p-values, the sample size needed, a verdict."""
    source = monitoring.source_for(settings, replicas)
    return experiments.experiment(session, source, name, window, datetime.now(UTC), min_effect)
