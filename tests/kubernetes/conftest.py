from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from control_plane.backends.kubernetes.desired import DesiredModel, desired_models
from control_plane.backends.kubernetes.orchestrator import KubernetesOrchestrator
from control_plane.backends.kubernetes.reconciler import Reconciler
from control_plane.backends.kubernetes.settings import KubernetesSettings
from control_plane.schemas import (
    Resources,
    RouteModel,
    RouteVersion,
    RoutingTable,
    ScalingSettings,
    TensorSpec,
)
from tests.kubernetes.cluster import Cluster, assert_valid, emulated_cluster

NAMESPACE = "models"
SPEC = [TensorSpec(name="features", dtype="float32", shape=[-1, 4])]


def route_version(label: str) -> RouteVersion:
    return RouteVersion(
        version=label,
        sha256=(label.encode().hex() * 64)[:64],
        size=123,
        format="torchscript",
        inputs=SPEC,
        outputs=SPEC,
    )


@dataclass
class DesiredState:
    """What the control plane's database would say: a routing table, the resources of each
    version (from its pier.yaml) and each model's scaling settings."""

    table: RoutingTable = field(default_factory=lambda: RoutingTable(revision=0, models=[]))
    resources: dict[str, dict[str, Resources]] = field(default_factory=dict)
    scaling: dict[str, ScalingSettings] = field(default_factory=dict)
    unavailable: bool = False

    def deploy(self, model: str, weights: dict[str, int], loaded: list[str]) -> None:
        others = [m for m in self.table.models if m.name != model]
        route = RouteModel(name=model, weights=weights, versions=[route_version(v) for v in loaded])
        self.table = RoutingTable(revision=self.table.revision + 1, models=[*others, route])

    def undeploy(self, model: str) -> None:
        self.table = RoutingTable(
            revision=self.table.revision + 1,
            models=[m for m in self.table.models if m.name != model],
        )

    def __call__(self) -> list[DesiredModel]:
        if self.unavailable:
            raise ConnectionError("database is down")
        return desired_models(self.table, self.resources, self.scaling, ScalingSettings())


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with emulated_cluster() as c:
        yield c
        # Whatever a test did, every object Pier sent must be valid Kubernetes.
        distinct = {json.dumps(obj, sort_keys=True): obj for obj in c.sent_objects()}
        for obj in distinct.values():
            assert_valid(obj)


@pytest.fixture
def settings(cluster: Cluster) -> KubernetesSettings:
    return KubernetesSettings(
        api_url=cluster.url,
        namespace=NAMESPACE,
        inference_image="ghcr.io/pier-dev/pier-inference:test",
        control_plane_url="http://pier.pier.svc:3000",
    )


@pytest.fixture
def orchestrator(settings: KubernetesSettings) -> Iterator[KubernetesOrchestrator]:
    orch = KubernetesOrchestrator.connect(settings)
    yield orch
    orch.close()


@pytest.fixture
def state() -> DesiredState:
    return DesiredState()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def reconciler(
    orchestrator: KubernetesOrchestrator, state: DesiredState, clock: Clock
) -> Reconciler:
    return Reconciler(orchestrator, state, interval_s=0.05, resync_s=300, clock=clock)
