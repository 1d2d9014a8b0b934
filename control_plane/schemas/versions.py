"""Model versions and artifacts as the registry takes and shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from control_plane.schemas.common import SHA256_RE, Batching, Resources, TensorSpec, check_label
from control_plane.schemas.scaling import ScalingPublic, ScalingSettings

__all__ = [
    "ArtifactPublic",
    "ModelPublic",
    "PushResult",
    "VersionCreate",
    "VersionPublic",
]


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
    scaling: ScalingSettings | None = Field(
        default=None,
        description="pier.yaml's `scaling:`: becomes the model's scaling settings when the "
        "model is deployed.",
    )

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
    def _unique_names(self) -> Self:
        for group, specs in (("inputs", self.inputs), ("outputs", self.outputs)):
            names = [s.name for s in specs]
            if len(set(names)) != len(names):
                raise ValueError(f"{group} names must be unique, got {names}")
        misplaced = [s.name for s in self.inputs if s.postprocess] + [
            s.name for s in self.outputs if s.preprocess
        ]
        if misplaced:
            raise ValueError(
                f"{misplaced}: preprocess belongs to inputs and postprocess to outputs"
            )
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
    scaling: ScalingPublic | None = Field(
        default=None, description="The model's scaling settings, when the push set them."
    )


class ModelPublic(BaseModel):
    name: str
    description: str
    created_at: datetime
    created_by: str
    versions: int
    latest: str | None
    deployment: dict[str, int] | None
