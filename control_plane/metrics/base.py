"""What every metrics source answers: per model and version, time series and a summary.
The dashboard and the API see only this protocol, never which source is behind it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from control_plane.schemas.metrics import ModelMetrics, VersionSummary


def bucket_counts(
    bounds: Sequence[float], cumulative: Sequence[float]
) -> tuple[list[float], list[int]]:
    """Finite upper bounds and per-bucket counts from Prometheus-style cumulative buckets
    (the last bound +Inf), for a rank test of latency (experiments.stats)."""
    finite = [b for b in bounds if not math.isinf(b)]
    counts, below = [], 0.0
    for c in cumulative:
        counts.append(max(0, round(c - below)))
        below = max(below, c)
    if len(counts) == len(finite):  # no +Inf bucket in the exposition
        counts.append(0)
    return finite, counts


class MetricsSource(Protocol):
    def model_metrics(
        self, model: str, window_s: int, step_s: int, now: datetime
    ) -> ModelMetrics: ...

    def summaries(self, window_s: int, now: datetime) -> dict[str, list[VersionSummary]]:
        """Every model's per-version summary (the overview page, one call)."""
        ...


class RunningSource(MetricsSource, Protocol):
    """A source with a life of its own (a scraper thread, a client): started, then closed."""

    def start(self) -> None: ...
    def close(self) -> None: ...
