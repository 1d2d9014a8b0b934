"""Live metrics: the windows a caller may ask for, answered by whichever source is set up."""

from __future__ import annotations

from datetime import datetime

from control_plane.errors import InvalidRequest
from control_plane.metrics.base import MetricsSource
from control_plane.schemas import ModelMetrics, VersionSummary

ALLOWED_WINDOWS_S = (300, 900, 3600, 21_600, 86_400)
DEFAULT_POINTS = 60
MAX_POINTS = 600
_MINUTE_TIER_FROM_S = 3600


def check_window(window_s: int, step_s: int | None) -> tuple[int, int]:
    """The window and step to use, or InvalidRequest saying what is allowed."""
    allowed = ", ".join(str(w) for w in ALLOWED_WINDOWS_S)
    if window_s not in ALLOWED_WINDOWS_S:
        raise InvalidRequest(f"window: expected one of {allowed} seconds, got {window_s}")
    if step_s is None:
        step_s = window_s // DEFAULT_POINTS
    smallest = max(-(-window_s // MAX_POINTS), 60 if window_s > _MINUTE_TIER_FROM_S else 1)
    if not smallest <= step_s <= window_s:
        raise InvalidRequest(
            f"step: expected whole seconds from {smallest} to {window_s} for a window of "
            f"{window_s} s (at most {MAX_POINTS} points), got {step_s}"
        )
    return window_s, step_s


def model_metrics(
    source: MetricsSource, model: str, window_s: int, step_s: int | None, now: datetime
) -> ModelMetrics:
    """One model's per-version series and summary over the window ending at `now`."""
    window_s, step_s = check_window(window_s, step_s)
    return source.model_metrics(model, window_s, step_s, now)


def summaries(
    source: MetricsSource, window_s: int, now: datetime
) -> dict[str, list[VersionSummary]]:
    """Every model's per-version summary over the window ending at `now`."""
    window_s, _ = check_window(window_s, window_s)
    return source.summaries(window_s, now)
