"""The shared shape of a window: point times, and figures from tallies (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from control_plane.metrics.accuracy import Tally
from control_plane.schemas import (
    ModelMetrics,
    Point,
    VersionSeries,
    VersionSummary,
)

Figures = tuple[list[VersionSummary], list[VersionSeries]]


@dataclass(frozen=True)
class Steps:
    """`points` points `step_s` apart, the last at `last` (unix seconds, whole).

    Point k stands for the seconds (t_k - step_s, t_k], as a PromQL range query with a
    range of one step evaluated at t_k does.
    """

    last: int
    step_s: int
    points: int

    @staticmethod
    def of(now: datetime, window_s: int, step_s: int) -> Steps:
        return Steps(int(now.timestamp()), step_s, max(window_s // step_s, 1))

    @property
    def end(self) -> int:
        """Exclusive end of the last point's seconds."""
        return self.last + 1

    @property
    def start(self) -> int:
        """First second covered by the first point."""
        return self.end - self.points * self.step_s

    def times(self) -> list[datetime]:
        return [
            datetime.fromtimestamp(self.last - (self.points - 1 - k) * self.step_s, UTC)
            for k in range(self.points)
        ]


def model_metrics(
    model: str, window_s: int, steps: Steps, now: datetime, figures: Figures
) -> ModelMetrics:
    """The answer of either source for one model, before its replicas' usage is added."""
    summary, series = figures
    return ModelMetrics(
        model=model,
        window_s=window_s,
        step_s=steps.step_s,
        generated_at=now,
        summary=summary,
        series=series,
    )


def points(times: list[datetime], values: list[float | None]) -> list[Point]:
    return [Point(t=t, value=v) for t, v in zip(times, values, strict=True)]


def accuracy_points(times: list[datetime], tallies: list[Tally | None] | None) -> list[Point]:
    row = tallies or [None] * len(times)
    return points(times, [t.accuracy if t else None for t in row])


def mae_points(times: list[datetime], tallies: list[Tally | None] | None) -> list[Point]:
    row = tallies or [None] * len(times)
    return points(times, [t.mae if t else None for t in row])
