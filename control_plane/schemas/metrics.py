"""Live figures per model and version: what every metrics source answers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

__all__ = [
    "ModelMetrics",
    "Point",
    "ReplicaUsage",
    "VersionSeries",
    "VersionSummary",
]


class Point(BaseModel):
    t: datetime
    value: float | None = Field(description="None where there was no traffic to measure.")


class VersionSeries(BaseModel):
    """Time series of one version over the window, one point per step."""

    version: str
    rps: list[Point]
    p50_ms: list[Point]
    p95_ms: list[Point]
    p99_ms: list[Point]
    error_rate: list[Point] = Field(description="Errors / requests, 0..1.")
    accuracy: list[Point] = Field(default_factory=list, description="0..1, from feedback.")
    mae: list[Point] = Field(
        default_factory=list, description="Mean absolute error of a regressor, from feedback."
    )


class VersionSummary(BaseModel):
    """One version over the whole window."""

    version: str
    requests: int
    errors: int
    rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_rate: float | None
    errors_by_type: dict[str, int] = Field(default_factory=dict)
    accuracy: float | None = None
    labelled: int = 0
    mae: float | None = None
    rmse: float | None = None
    compared: int = Field(
        default=0, description="Shadow versions: classifier rows compared with the live answer."
    )
    agreement: float | None = Field(
        default=None, description="Shadow versions: share of compared rows with the live class."
    )
    latency_bounds_s: list[float] = Field(
        default_factory=list, description="Upper bounds (seconds) of the latency buckets."
    )
    latency_counts: list[int] = Field(
        default_factory=list,
        description="Requests per latency bucket over the window (not cumulative); one more "
        "than the bounds: the last counts those above the last bound.",
    )


class ReplicaUsage(BaseModel):
    replica: str
    cpu_seconds_per_second: float | None
    resident_memory_bytes: float | None


class ModelMetrics(BaseModel):
    model: str
    window_s: int
    step_s: int
    generated_at: datetime
    summary: list[VersionSummary]
    series: list[VersionSeries]
    replicas: list[ReplicaUsage] = Field(default_factory=list)
