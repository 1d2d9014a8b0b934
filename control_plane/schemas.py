"""What the API, the CLI and the UI exchange. Table models never leave the services."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
DTYPES = ("float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool")


class Role(StrEnum):
    viewer = "viewer"
    deployer = "deployer"
    admin = "admin"

    @property
    def rank(self) -> int:
        return {"viewer": 0, "deployer": 1, "admin": 2}[self.value]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


def check_model_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise ValueError(
            f"model name {name!r} must be 1-63 lowercase letters, digits or '-', "
            "starting and ending with a letter or digit"
        )
    return name


def check_label(label: str) -> str:
    if not LABEL_RE.match(label):
        raise ValueError(
            f"version {label!r} must be 1-63 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return label


class TensorSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    dtype: Literal[
        "float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"
    ]
    shape: list[int] = Field(min_length=1, max_length=8)

    @field_validator("shape")
    @classmethod
    def _dims(cls, shape: list[int]) -> list[int]:
        if any(d == 0 or d < -1 for d in shape):
            raise ValueError("each dimension is a positive size or -1 (free)")
        return shape


class Resources(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cpu: str = "1000m"
    memory: str = "2Gi"
    gpu: int = 0


class Batching(BaseModel):
    """How replicas gather this version's requests into model calls; a field left out
    keeps the replica's setting (PIER_INFERENCE_MAX_BATCH_ROWS, _MAX_BATCH_WAIT_MS)."""

    model_config = ConfigDict(extra="forbid")

    max_rows: int | None = Field(
        default=None, ge=1, le=4096, description="Most rows one call gathers; 1: no batching."
    )
    max_wait_ms: float | None = Field(
        default=None,
        ge=0,
        le=1000,
        description="Longest a queued request waits for others once the model is free.",
    )


class ArtifactPublic(BaseModel):
    sha256: str
    size: int
    created: bool = Field(description="False when these bytes were already stored.")


class VersionCreate(BaseModel):
    """A new version: the pier.yaml `model:` section, with the artifact already uploaded."""

    model_config = ConfigDict(extra="forbid")

    version: str | None = Field(default=None, description="Label; the next integer when absent.")
    framework: Literal["pytorch"] = "pytorch"
    sha256: str
    inputs: list[TensorSpec] = Field(min_length=1)
    outputs: list[TensorSpec] = Field(min_length=1)
    resources: Resources = Field(default_factory=Resources)
    batching: Batching = Field(default_factory=Batching)
    metrics: dict[str, float] = Field(default_factory=dict)
    description: str = Field(default="", max_length=2000)

    @field_validator("version")
    @classmethod
    def _label(cls, v: str | None) -> str | None:
        return None if v is None else check_label(v)

    @field_validator("sha256")
    @classmethod
    def _sha(cls, v: str) -> str:
        if not SHA256_RE.match(v):
            raise ValueError("sha256 must be 64 lowercase hex digits")
        return v

    @model_validator(mode="after")
    def _unique_names(self) -> VersionCreate:
        for group, specs in (("inputs", self.inputs), ("outputs", self.outputs)):
            names = [s.name for s in specs]
            if len(set(names)) != len(names):
                raise ValueError(f"{group} names must be unique, got {names}")
        return self


class VersionPublic(BaseModel):
    model: str
    version: str
    seq: int
    sha256: str
    size: int
    format: str
    framework: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    resources: Resources
    batching: Batching = Field(default_factory=Batching)
    metrics: dict[str, float]
    description: str
    created_at: datetime
    created_by: str


class PushResult(BaseModel):
    created: bool = Field(description="False when identical bytes were already this version.")
    version: VersionPublic


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


class ModelPublic(BaseModel):
    name: str
    description: str
    created_at: datetime
    created_by: str
    versions: int
    latest: str | None
    deployment: dict[str, int] | None


class AuditEventPublic(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    model: str | None
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str


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


class ReplicaStatus(BaseModel):
    id: str
    url: str
    revision: int
    loaded: list[str]
    error: str
    last_seen: datetime
    healthy: bool
    device: str = Field(default="", description="Where its models run: cpu, cuda:0, ...")


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


class VersionSummary(BaseModel):
    version: str
    created_at: datetime
    created_by: str
    sha256: str
    format: str
    size: int


class ModelOverview(BaseModel):
    name: str
    versions: list[VersionSummary]
    weights: dict[str, int]


class Principal(BaseModel):
    """Who is calling: a user acting through a token."""

    username: str
    role: Role
    token_name: str


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=r"^[a-zA-Z0-9_.-]{1,64}$")
    password: str = Field(min_length=12, max_length=256)
    role: Role = Role.viewer


class UserPublic(BaseModel):
    username: str
    role: Role
    created_at: datetime
    disabled: bool


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    role: Role = Role.viewer
    username: str | None = Field(default=None, description="Owner; default: the caller.")
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenPublic(BaseModel):
    id: int
    name: str
    username: str
    prefix: str
    role: Role
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenIssued(TokenPublic):
    secret: str = Field(description="Shown once; only its hash is stored.")


class ScalingRate(BaseModel):
    """At most `value` pods (or `value` % of the replicas) added or removed per `period_s`;
    the HPA's HPAScalingPolicy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["Pods", "Percent"]
    value: int = Field(ge=1, le=1000, description="Pods, or percent of the current replicas.")
    period_s: int = Field(ge=1, le=1800, description="The window the limit applies to.")


class ScalingRules(BaseModel):
    """One direction (up or down) of scaling: the HPA's HPAScalingRules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stabilization_window_s: int = Field(
        ge=0,
        le=3600,
        description="Recommendations remembered: scale-up takes their minimum, scale-down "
        "their maximum, so a short spike or dip does not move the replicas.",
    )
    policies: tuple[ScalingRate, ...] = Field(min_length=1, max_length=8)
    select: Literal["Max", "Min", "Disabled"] = Field(
        default="Max",
        description="Max: the policy allowing the largest change; Min: the smallest; "
        "Disabled: never scale in this direction.",
    )


def _default_scale_up() -> ScalingRules:
    # The HPA's defaults: double, or add 4 pods, every 15 s, whichever is more; no window.
    return ScalingRules(
        stabilization_window_s=0,
        policies=(
            ScalingRate(type="Percent", value=100, period_s=15),
            ScalingRate(type="Pods", value=4, period_s=15),
        ),
    )


def _default_scale_down() -> ScalingRules:
    # The HPA's defaults: anything down to the minimum, after 5 minutes of lower load.
    return ScalingRules(
        stabilization_window_s=300,
        policies=(ScalingRate(type="Percent", value=100, period_s=15),),
    )


class ScalingSettings(BaseModel):
    """How a deployed model scales: bounds, target and behaviour. The same settings drive the
    local orchestrator's policy (orchestrators/scaling.py) and the cluster's
    HorizontalPodAutoscaler (orchestrators/manifests.py), so they mean the same in both."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_replicas: int = Field(default=1, ge=1, le=1000, description="Fewest replicas.")
    max_replicas: int = Field(default=3, ge=1, le=1000, description="Most replicas.")
    target_metric: Literal["cpu", "inflight", "rps"] = Field(
        default="cpu",
        description="What to hold at the target: CPU use, requests in flight per replica, "
        "or requests per second per replica.",
    )
    target_cpu_utilization: int = Field(
        default=70, ge=1, le=100, description="Average CPU use, in % of the request, to aim at."
    )
    target_value: float | None = Field(
        default=None,
        gt=0,
        le=1_000_000,
        description="Per-replica average of `inflight` or `rps` to aim at; unset for `cpu`.",
    )
    scale_up: ScalingRules = Field(default_factory=_default_scale_up)
    scale_down: ScalingRules = Field(default_factory=_default_scale_down)

    @model_validator(mode="after")
    def _bounds(self) -> ScalingSettings:
        if self.max_replicas < self.min_replicas:
            raise ValueError(
                f"max_replicas ({self.max_replicas}) must be at least "
                f"min_replicas ({self.min_replicas})"
            )
        if self.target_metric == "cpu" and self.target_value is not None:
            raise ValueError(
                "target_value is for target_metric 'inflight' or 'rps'; "
                "for 'cpu' set target_cpu_utilization (a percent)"
            )
        if self.target_metric != "cpu" and self.target_value is None:
            raise ValueError(
                f"target_metric {self.target_metric!r} needs target_value: the per-replica "
                "average to aim at, e.g. 8"
            )
        return self

    @property
    def target(self) -> float:
        """The target in the unit of `target_metric` (CPU: percent)."""
        if self.target_value is not None:
            return self.target_value
        return float(self.target_cpu_utilization)


class ScalingPublic(BaseModel):
    model: str
    scaling: ScalingSettings = Field(description="The settings in force for this model.")
    custom: bool = Field(description="False: the platform's defaults, never set for this model.")


class ScalingChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scaling: ScalingSettings
    reason: str = Field(default="", max_length=2000)


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
