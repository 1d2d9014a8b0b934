"""A model's autoscaling settings: the HPA's vocabulary, for both backends."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ScalingChange",
    "ScalingPublic",
    "ScalingRate",
    "ScalingRules",
    "ScalingSettings",
]


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
