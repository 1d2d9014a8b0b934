"""What a cluster should run per deployed model: pure functions of the desired state.

The pod template depends only on what a pod needs (resources, image, settings), never on
weights, revisions or version labels: replicas poll the routing table and load new
versions live, so a weight change, a deploy of a same-sized version or a rollback to a
version still loaded never restarts a pod. Only a change of resources (or of the image)
rolls the pods.
"""

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
    """A pod holds every listed version in memory at once, and serves one request at a time
    per version: memory is the sum over the loaded versions, CPU and GPUs the largest.

    Summing over the *loaded* set (weighted plus kept-warm previous versions) keeps a
    rollback from changing the pod template: the set is the same before and after.
    """
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
    """The routing table plus each version's resources (its pier.yaml) and each model's
    scaling settings -> one DesiredModel per deployed model, sorted by name.

    `resources` maps model -> version label -> Resources; a version missing there gets
    the defaults of `Resources`. `scaling` maps model -> settings; missing: the default.
    """
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
