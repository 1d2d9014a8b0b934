"""Plotly figures and sparklines from the metrics types: pure, so they test without a browser."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import plotly.graph_objects as go

from control_plane.schemas import ModelMetrics, Point, VersionSeries
from control_plane.ui.views.colors import UNKNOWN


@dataclass(frozen=True)
class TimeRange:
    key: str
    label: str
    window_s: int
    step_s: int


RANGES = (
    TimeRange("5m", "5 min", 300, 2),
    TimeRange("1h", "1 h", 3600, 30),
    TimeRange("24h", "24 h", 86400, 600),
)


def time_range(key: str) -> TimeRange:
    return next((r for r in RANGES if r.key == key), RANGES[0])


_QUANTILES: tuple[tuple[str, str, Callable[[VersionSeries], list[Point]]], ...] = (
    ("p50", "dot", lambda s: s.p50_ms),
    ("p95", "dash", lambda s: s.p95_ms),
    ("p99", "solid", lambda s: s.p99_ms),
)


def _layout(
    fig: go.Figure,
    metrics: ModelMetrics | None,
    title: str,
    y_title: str,
    y_format: str = "",
) -> go.Figure:
    empty = not any(v is not None for trace in fig.data for v in trace.y)
    xaxis: dict[str, object] = {"type": "date"}
    if metrics is not None:
        # The whole chosen window, even before traffic fills it.
        end = metrics.generated_at
        xaxis["range"] = [end - timedelta(seconds=metrics.window_s), end]
    fig.update_layout(
        title={"text": title, "font": {"size": 14}},
        autosize=True,
        margin={"l": 50, "r": 10, "t": 36, "b": 30},
        legend={"orientation": "h", "y": -0.2},
        # Keep a user's zoom and hidden traces across the once-a-second updates.
        uirevision="keep",
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        yaxis={
            "title": {"text": y_title},
            "rangemode": "tozero",
            "tickformat": y_format,
            **({"range": [0, 1]} if empty else {}),
        },
        xaxis=xaxis,
    )
    if empty:
        fig.add_annotation(
            text="No traffic in this window yet" if metrics else "Waiting for metrics…",
            showarrow=False,
            xref="paper",
            yref="paper",
            x=0.5,
            y=0.5,
            font={"color": "#8b8d98", "size": 13},
        )
    return fig


def _trace(points: list[Point], name: str, color: str, dash: str = "solid") -> go.Scatter:
    return go.Scatter(
        x=[p.t for p in points],
        y=[p.value for p in points],
        name=name,
        # Markers too: a lone point between gaps would not show as a line.
        mode="lines+markers",
        marker={"color": color, "size": 3},
        line={"color": color, "dash": dash, "width": 2},
        connectgaps=False,
    )


def latency_figure(metrics: ModelMetrics | None, colors: dict[str, str]) -> go.Figure:
    fig = go.Figure()
    for s in metrics.series if metrics else []:
        for q, dash, pick in _QUANTILES:
            fig.add_trace(_trace(pick(s), f"{s.version} {q}", colors.get(s.version, UNKNOWN), dash))
    return _layout(fig, metrics, "Latency (p50 dotted, p95 dashed, p99 solid)", "ms")


def rps_figure(metrics: ModelMetrics | None, colors: dict[str, str]) -> go.Figure:
    fig = go.Figure()
    for s in metrics.series if metrics else []:
        fig.add_trace(_trace(s.rps, s.version, colors.get(s.version, UNKNOWN)))
    return _layout(fig, metrics, "Requests per second", "req/s")


def error_figure(metrics: ModelMetrics | None, colors: dict[str, str]) -> go.Figure:
    fig = go.Figure()
    for s in metrics.series if metrics else []:
        fig.add_trace(_trace(s.error_rate, s.version, colors.get(s.version, UNKNOWN)))
    return _layout(fig, metrics, "Error rate", "", ".1%")


def sparkline_path(values: Sequence[float | None], width: float = 100, height: float = 24) -> str:
    """An SVG path through the values, scaled to the box; gaps where a value is None."""
    known = [v for v in values if v is not None]
    if len(values) < 2 or not known:
        return ""
    top = max(known) or 1.0
    step = width / (len(values) - 1)
    parts: list[str] = []
    pen_down = False
    for i, v in enumerate(values):
        if v is None:
            pen_down = False
            continue
        x = i * step
        y = height - 1 - (v / top) * (height - 2)
        parts.append(f"{'L' if pen_down else 'M'}{x:.1f},{y:.1f}")
        pen_down = True
    return " ".join(parts)


def accuracy_figure(metrics: ModelMetrics | None, colors: dict[str, str]) -> go.Figure:
    """Accuracy from ground-truth feedback, placed at the time of the predictions."""
    fig = go.Figure()
    for s in metrics.series if metrics else []:
        fig.add_trace(_trace(s.accuracy, s.version, colors.get(s.version, UNKNOWN)))
    return _layout(fig, metrics, "Accuracy (ground-truth feedback)", "", ".1%")
