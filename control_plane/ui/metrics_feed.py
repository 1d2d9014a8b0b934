"""The dashboard's one door to live metrics: the monitoring service, with the source it
keeps for this process's replica book (the one the REST API uses too)."""

from __future__ import annotations

from datetime import datetime

from control_plane.errors import MetricsUnavailable
from control_plane.schemas import ModelMetrics, VersionSummary
from control_plane.services import monitoring
from control_plane.ui.context import UiContext

__all__ = ["MetricsUnavailable", "model_metrics", "summaries"]


def model_metrics(
    ctx: UiContext, model: str, window_s: int, step_s: int, now: datetime
) -> ModelMetrics:
    source = monitoring.source_for(ctx.settings, ctx.replicas)
    return monitoring.model_metrics(source, model, window_s, step_s, now)


def summaries(ctx: UiContext, window_s: int, now: datetime) -> dict[str, list[VersionSummary]]:
    source = monitoring.source_for(ctx.settings, ctx.replicas)
    return monitoring.summaries(source, window_s, now)
