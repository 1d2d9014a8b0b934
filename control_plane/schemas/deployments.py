"""Traffic splits, the routing table replicas poll, and where replicas stand."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from control_plane.schemas.common import Batching, TensorSpec

__all__ = [
    "DeployRequest",
    "DeploymentPublic",
    "DeploymentSet",
    "ModelStatus",
    "ReplicaReport",
    "ReplicaStatus",
    "RollbackRequest",
    "RolloutStatus",
    "RouteModel",
    "RouteVersion",
    "RoutingTable",
    "ShadowSet",
    "StatusPublic",
]


class DeploymentPublic(BaseModel):
    model: str
    weights: dict[str, int] = Field(description="Version label -> percent of traffic.")
    revision: int
    updated_at: datetime
    updated_by: str
    previous: dict[str, int] | None = Field(
        default=None, description="The weights a rollback would restore."
    )
    shadow: dict[str, int] = Field(
        default_factory=dict,
        description="Shadow version label -> percent of requests mirrored to it.",
    )


class DeploymentSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weights: dict[str, int] = Field(description="Version label -> percent; must sum to 100.")
    reason: str = Field(default="", max_length=2000)


class ShadowSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shadow: dict[str, int] = Field(
        description="Version label -> percent 0-100 of requests mirrored to it; {} stops all."
    )
    reason: str = Field(default="", max_length=2000)


class DeployRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str
    reason: str = Field(default="", max_length=2000)


class RollbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=2000)


class RouteVersion(BaseModel):
    version: str
    sha256: str
    size: int
    format: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    batching: Batching = Field(default_factory=Batching)


class RouteModel(BaseModel):
    name: str
    weights: dict[str, int]
    versions: list[RouteVersion]
    shadow: dict[str, int] = Field(default_factory=dict)
    slots: list[tuple[str, int]] = Field(
        default_factory=list,
        description="Sticky routing's slot table, [version, count] runs in slot order.",
    )


class RoutingTable(BaseModel):
    """docs/contract.md: what every inference replica serves."""

    revision: int
    models: list[RouteModel]


class ReplicaReport(BaseModel):
    """What a replica said of itself on its last routing poll."""

    id: str
    url: str
    revision: int
    loaded: list[str]
    error: str
    last_seen: datetime
    device: str = Field(default="", description="Where its models run: cpu, cuda:0, ...")


class ReplicaStatus(ReplicaReport):
    healthy: bool


class ModelStatus(BaseModel):
    model: str
    weights: dict[str, int]
    revision: int
    replicas: list[ReplicaStatus]
    converged: bool = Field(description="Every live replica serves this revision or later.")


class StatusPublic(BaseModel):
    revision: int
    models: list[ModelStatus]
    replicas: list[ReplicaStatus]
    rollouts: list[RolloutStatus] = Field(
        default_factory=list, description="On Kubernetes: each model's workload rollout."
    )


class RolloutStatus(BaseModel):
    """Where a model's workload stands on the cluster, read from its Deployment and events."""

    model: str
    state: Literal["absent", "progressing", "complete", "failed"]
    desired: int = Field(description="Replicas the Deployment wants now.")
    updated: int = Field(description="Replicas running the current pod template.")
    ready: int
    available: int
    message: str = Field(description="One line for the dashboard and the CLI.")
    reasons: list[str] = Field(
        default_factory=list, description="Recent warnings from Kubernetes events (newest first)."
    )
