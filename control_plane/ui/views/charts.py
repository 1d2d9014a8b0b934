"""Plotly figures and sparklines from the metrics types: pure, so they test without a browser."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import plotly.graph_objects as go

from control_plane.schemas import ModelMetrics, Point, VersionSeries
from control_plane.ui.views.colors import UNKNOWN
from control_plane.ui.views.markers import ChangeMarker, mark


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


FEEDBACK_HINT = (
    "No labelled predictions in this window:<br>accuracy needs ground truth.<br>"
    "Send it with POST /feedback<br>{prediction_id, label}."
)
NO_REQUESTS = "No requests in this window"


def duration(seconds: int) -> str:
    """`2 s`, `5 min`, `24 h`: the words of the range picker."""
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def span(metrics: ModelMetrics) -> str:
    """What each point and the whole chart cover, e.g. `2 s steps · last 5 min`."""
    return f"{duration(metrics.step_s)} steps · last {duration(metrics.window_s)}"


def _waiting(note: str) -> str:
    """Why a chart has no metrics at all: the source's own reason, or not read yet."""
    if not note:
        return "Waiting for metrics…"
    short = note if len(note) <= 160 else note[:159] + "…"
    return "<br>".join(textwrap.wrap(f"Metrics unavailable: {short}", 56))


@dataclass(frozen=True)
class Extras:
    """What a chart shows besides the figures: the changes in its range and, when the
    source failed, why."""

    markers: Sequence[ChangeMarker] = ()
    note: str = ""


def subtitle(fig: go.Figure, text: str) -> go.Figure:
    """A second, smaller line under the chart's title (what the points cover)."""
    fig.update_layout(
        title={"text": f"{fig.layout.title.text}<br><sup>{text}</sup>"}, margin={"t": 60}
    )
    return fig


def _layout(
    fig: go.Figure,
    metrics: ModelMetrics | None,
    title: str,
    y_title: str,
    empty_text: str,
    extras: Extras,
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
            text=empty_text if metrics else _waiting(extras.note),
            showarrow=False,
            xref="paper",
            yref="paper",
            x=0.5,
            y=0.5,
            font={"color": "#8b8d98", "size": 12},
            name="empty",
        )
    if metrics is not None:
        subtitle(fig, span(metrics))
        mark(fig, extras.markers)
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


def latency_figure(
    metrics: ModelMetrics | None, colors: dict[str, str], extras: Extras = Extras()
) -> go.Figure:
    fig = go.Figure()
    for s in metrics.series if metrics else []:
        for q, dash, pick in _QUANTILES:
            fig.add_trace(_trace(pick(s), f"{s.version} {q}", colors.get(s.version, UNKNOWN), dash))
    title = "Latency (p50 dotted, p95 dashed, p99 solid)"
    return _layout(fig, metrics, title, "ms", NO_REQUESTS, extras)


def rps_figure(
    metrics: ModelMetrics | None, colors: dict[str, str], extras: Extras = Extras()
) -> go.Figure:
    fig = go.Figure()
    for s in metrics.series if metrics else []:
        fig.add_trace(_trace(s.rps, s.version, colors.get(s.version, UNKNOWN)))
    return _layout(fig, metrics, "Requests per second", "req/s", NO_REQUESTS, extras)


def error_figure(
    metrics: ModelMetrics | None, colors: dict[str, str], extras: Extras = Extras()
) -> go.Figure:
    fig = go.Figure()
    for s in metrics.series if metrics else []:
        fig.add_trace(_trace(s.error_rate, s.version, colors.get(s.version, UNKNOWN)))
    return _layout(fig, metrics, "Error rate", "", NO_REQUESTS, extras, ".1%")


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


def _regressor(metrics: ModelMetrics | None) -> bool:
    """Labels came back as numbers: mean absolute errors and no accuracy."""
    series = metrics.series if metrics else []
    known = [p.value for s in series for p in s.accuracy if p.value is not None]
    return not known and any(p.value is not None for s in series for p in s.mae)


def accuracy_figure(
    metrics: ModelMetrics | None, colors: dict[str, str], extras: Extras = Extras()
) -> go.Figure:
    """Accuracy (a regressor's mean absolute error) from ground-truth feedback, placed at
    the time of the predictions."""
    fig = go.Figure()
    regressor = _regressor(metrics)
    for s in metrics.series if metrics else []:
        pts = s.mae if regressor else s.accuracy
        fig.add_trace(_trace(pts, s.version, colors.get(s.version, UNKNOWN)))
    if regressor:
        title = "Mean absolute error (ground-truth feedback)"
        return _layout(fig, metrics, title, "", FEEDBACK_HINT, extras)
    title = "Accuracy (ground-truth feedback)"
    return _layout(fig, metrics, title, "", FEEDBACK_HINT, extras, ".1%")
