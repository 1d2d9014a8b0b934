"""Monitoring: which metrics source answers, and the windows a caller may ask for.

The REST API and the dashboard both call `model_metrics` / `summaries` with the source
from `source_for(settings, replicas)`: one per ReplicaBook, so the API and the dashboard
of one process share it (and its scraper thread), and never know which kind it is.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Protocol

from control_plane.errors import InvalidRequest
from control_plane.metrics.base import MetricsSource
from control_plane.metrics.direct import DirectSource
from control_plane.metrics.prometheus import PrometheusSource
from control_plane.schemas import ModelMetrics, VersionSummary
from control_plane.services.replicas import ReplicaBook
from control_plane.settings import PierSettings

ALLOWED_WINDOWS_S = (300, 900, 3600, 21_600, 86_400)
DEFAULT_POINTS = 60
MAX_POINTS = 600
_MINUTE_TIER_FROM_S = 3600


class RunningSource(MetricsSource, Protocol):
    def start(self) -> None: ...
    def close(self) -> None: ...


def open_source(settings: PierSettings, replicas: ReplicaBook) -> RunningSource:
    """A new source of the kind the settings name (not started; the first query starts it)."""
    if settings.prometheus_url:
        return PrometheusSource(
            settings.prometheus_url, replicas, stale_after_s=settings.replica_stale_s
        )
    return DirectSource(replicas, stale_after_s=settings.replica_stale_s)


_lock = threading.Lock()
_sources: dict[int, tuple[ReplicaBook, RunningSource]] = {}


def source_for(settings: PierSettings, replicas: ReplicaBook) -> RunningSource:
    """The one source of this ReplicaBook, created on first use."""
    with _lock:
        held = _sources.get(id(replicas))
        if held is None or held[0] is not replicas:
            held = (replicas, open_source(settings, replicas))
            _sources[id(replicas)] = held
        return held[1]


def close_source(replicas: ReplicaBook) -> None:
    """Stop the source of this ReplicaBook (its thread), if it has one."""
    with _lock:
        held = _sources.pop(id(replicas), None)
    if held is not None:
        held[1].close()


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
