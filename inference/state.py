"""What one app instance holds, built by create_app and reached from requests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from starlette.requests import Request

from inference.artifacts import ArtifactStore
from inference.dataplane import DataPlane
from inference.ground_truth import GroundTruth
from inference.metrics import Metrics
from inference.poller import RoutingPoller
from inference.registry import ModelRegistry
from inference.settings import InferenceSettings


@dataclass
class ServiceState:
    settings: InferenceSettings
    store: ArtifactStore
    metrics: Metrics
    registry: ModelRegistry
    poller: RoutingPoller
    plane: DataPlane
    truth: GroundTruth


def state_of(request: Request) -> ServiceState:
    return cast(ServiceState, request.app.state.pier)
