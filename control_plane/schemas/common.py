"""Names, roles and tensor specs: the vocabulary every other schema uses."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "DTYPES",
    "LABEL_RE",
    "NAME_RE",
    "SHA256_RE",
    "Batching",
    "Classify",
    "ImageSteps",
    "Postprocess",
    "Preprocess",
    "Principal",
    "Resources",
    "Role",
    "TensorSpec",
    "check_label",
    "check_model_name",
]


NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
DType = Literal[
    "float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool"
]
DTYPES: tuple[str, ...] = get_args(DType)


class Role(StrEnum):
    viewer = "viewer"
    deployer = "deployer"
    admin = "admin"

    @property
    def rank(self) -> int:
        return {"viewer": 0, "deployer": 1, "admin": 2}[self.value]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


def _matching(pattern: re.Pattern[str], value: str, what: str, rule: str) -> str:
    if not pattern.match(value):
        raise ValueError(f"{what} {value!r} must be {rule}")
    return value


def check_model_name(name: str) -> str:
    rule = "1-63 lowercase letters, digits or '-', starting and ending with a letter or digit"
    return _matching(NAME_RE, name, "model name", rule)


def check_label(label: str) -> str:
    rule = "1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"
    return _matching(LABEL_RE, label, "version", rule)


class ImageSteps(BaseModel):
    """Decode an image, resize its shorter side, centre-crop, scale to [0, 1], normalise."""

    model_config = ConfigDict(extra="forbid")

    resize: int | None = Field(default=None, ge=1, le=4096)
    crop: int | None = Field(default=None, ge=1, le=4096)
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)


class Preprocess(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image: ImageSteps


class Classify(BaseModel):
    """Answer the top_k labels of each row instead of its scores."""

    model_config = ConfigDict(extra="forbid")

    labels: list[str] = Field(min_length=1, max_length=100_000)
    top_k: int = Field(default=5, ge=1, le=1000)
    softmax: bool = False

    @field_validator("labels")
    @classmethod
    def _short(cls, labels: list[str]) -> list[str]:
        long = [i + 1 for i, label in enumerate(labels) if len(label) > 256]
        if long:
            raise ValueError(f"labels {long[:5]} are over 256 characters")
        return labels


class Postprocess(BaseModel):
    model_config = ConfigDict(extra="forbid")

    classify: Classify


class TensorSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    dtype: DType
    shape: list[int] = Field(min_length=1, max_length=8)

    preprocess: Preprocess | None = None
    postprocess: Postprocess | None = None

    @field_validator("shape")
    @classmethod
    def _dims(cls, shape: list[int]) -> list[int]:
        if any(d == 0 or d < -1 for d in shape):
            raise ValueError("each dimension is a positive size or -1 (free)")
        return shape

    def stored(self) -> dict[str, Any]:
        """As the registry keeps it: no keys for the steps a spec does not declare."""
        return self.model_dump(exclude_none=True)


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


class Principal(BaseModel):
    """Who is calling: a user acting through a token."""

    username: str
    role: Role
    token_name: str
