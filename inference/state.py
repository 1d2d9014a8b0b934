"""What one app instance holds, built by create_app and reached from requests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from starlette.requests import Request

from inference.dataplane import DataPlane
from inference.feedback.ground_truth import GroundTruth
from inference.metrics.collectors import Metrics
from inference.models.cache import ArtifactStore
from inference.models.loaded import ModelRegistry
from inference.routing.poller import RoutingPoller
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
