"""What every metrics source answers: per model and version, time series and a summary.

Two sources satisfy it: `direct` (embedded: scrape the replicas' /metrics, keep a rolling
window) and `prometheus` (PromQL through prometheus-api-client). The dashboard and the REST
API use only this interface and never know which one is behind it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, Field


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


class MetricsSource(Protocol):
    def model_metrics(
        self, model: str, window_s: int, step_s: int, now: datetime
    ) -> ModelMetrics: ...

    def summaries(self, window_s: int, now: datetime) -> dict[str, list[VersionSummary]]:
        """Every model's per-version summary (the overview page, one call)."""
        ...
