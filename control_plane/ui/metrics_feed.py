"""The dashboard's one door to live metrics: the monitoring service, with the source it
keeps for this process's replica book (the one the REST API uses too)."""

from __future__ import annotations

from datetime import datetime

from control_plane.composition import Platform
from control_plane.errors import MetricsUnavailable
from control_plane.schemas import ModelMetrics, VersionSummary
from control_plane.services import monitoring

__all__ = ["MetricsUnavailable", "model_metrics", "summaries"]


def model_metrics(
    ctx: Platform, model: str, window_s: int, step_s: int, now: datetime
) -> ModelMetrics:
    return monitoring.model_metrics(ctx.metrics(), model, window_s, step_s, now)


def summaries(ctx: Platform, window_s: int, now: datetime) -> dict[str, list[VersionSummary]]:
    return monitoring.summaries(ctx.metrics(), window_s, now)
