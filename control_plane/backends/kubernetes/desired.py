"""What a cluster should run per deployed model, as pure functions of the desired state.
The pod template holds no weight, revision or label: only resources or the image roll pods."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from control_plane.backends.kubernetes.quantities import cpu_millis, memory_bytes
from control_plane.schemas import Resources, RoutingTable, ScalingSettings


@dataclass(frozen=True)
class PodResources:
    """What one inference pod requests. Exact integers, so equal inputs compare equal."""

    cpu_millis: int
    memory_bytes: int
    gpu: int = 0


@dataclass(frozen=True)
class DesiredModel:
    """One deployed model as the cluster should run it."""

    name: str
    resources: PodResources
    scaling: ScalingSettings


def pod_resources(loaded: list[Resources]) -> PodResources:
    """Memory is the sum over the versions a pod holds loaded, CPU and GPUs the largest.
    The loaded set includes the kept-warm previous versions, so a rollback leaves it unchanged."""
    if not loaded:
        loaded = [Resources()]
    return PodResources(
        cpu_millis=max(cpu_millis(r.cpu) for r in loaded),
        memory_bytes=sum(memory_bytes(r.memory) for r in loaded),
        gpu=max(r.gpu for r in loaded),
    )


def desired_models(
    table: RoutingTable,
    resources: Mapping[str, Mapping[str, Resources]],
    scaling: Mapping[str, ScalingSettings],
    default_scaling: ScalingSettings,
) -> list[DesiredModel]:
    """One DesiredModel per deployed model, sorted by name, from the routing table, each
    version's resources (defaults when missing) and each model's scaling settings."""
    out = []
    for route in sorted(table.models, key=lambda m: m.name):
        per_version = resources.get(route.name, {})
        loaded = [per_version.get(v.version, Resources()) for v in route.versions]
        out.append(
            DesiredModel(
                name=route.name,
                resources=pod_resources(loaded),
                scaling=scaling.get(route.name, default_scaling),
            )
        )
    return out
