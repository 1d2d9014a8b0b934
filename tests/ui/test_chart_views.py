"""The model page's charts as figures: what an empty chart says, what window each names, and
the changes of traffic marked on them. Pure, no browser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import plotly.graph_objects as go

from control_plane.schemas import AuditEventPublic, ModelMetrics, Point, VersionSeries
from control_plane.ui.views import charts
from control_plane.ui.views.markers import change_markers

NOW = datetime(2026, 1, 2, 3, 0, tzinfo=UTC)
FIGURES = (charts.latency_figure, charts.rps_figure, charts.error_figure, charts.accuracy_figure)


def event(
    i: int, ago_s: int, action: str, after: dict[str, Any] | None, **kw: Any
) -> AuditEventPublic:
    return AuditEventPublic(
        id=i,
        at=NOW - timedelta(seconds=ago_s),
        actor=kw.get("actor", "alice"),
        action=action,
        model="iris",
        target="iris",
        before=kw.get("before"),
        after=after,
        reason=kw.get("reason", ""),
    )


def traffic(requests: bool, labelled: bool = False, window_s: int = 300) -> ModelMetrics:
    """iris v1 over the window: requests each step (or none), and labels (or none)."""
    times = [NOW - timedelta(seconds=2 * k) for k in range(5)][::-1]

    def pts(value: float | None) -> list[Point]:
        return [Point(t=t, value=value) for t in times]

    series = VersionSeries(
        version="v1",
        rps=pts(20.0 if requests else None),
        p50_ms=pts(3.0 if requests else None),
        p95_ms=pts(4.0 if requests else None),
        p99_ms=pts(5.0 if requests else None),
        error_rate=pts(0.0 if requests else None),
        accuracy=pts(0.9 if labelled else None),
    )
    return ModelMetrics(
        model="iris",
        window_s=window_s,
        step_s=2,
        generated_at=NOW,
        summary=[],
        series=[series] if requests else [],
    )


def texts(fig: go.Figure) -> list[str]:
    return [a.text for a in fig.layout.annotations]


def hovers(fig: go.Figure) -> list[str]:
    return [a.hovertext for a in fig.layout.annotations if a.hovertext]


def test_an_empty_chart_says_what_is_missing() -> None:
    flowing = traffic(requests=True)
    [hint] = texts(charts.accuracy_figure(flowing, {}))
    assert "No labelled predictions in this window" in hint
    assert "ground truth" in hint and "POST /feedback" in hint
    for figure in FIGURES[:3]:
        assert texts(figure(flowing, {})) == []
        assert texts(figure(traffic(requests=False), {})) == ["No requests in this window"]
    down = charts.Extras(note="Prometheus did not answer: connection refused")
    [why] = texts(charts.rps_figure(None, {}, down))
    assert why.startswith("Metrics unavailable: Prometheus did not answer:")
    assert texts(charts.rps_figure(None, {})) == ["Waiting for metrics…"]


def test_every_chart_names_its_steps_and_window() -> None:
    for figure in FIGURES:
        assert "2 s steps · last 5 min" in figure(traffic(True), {}).layout.title.text
        assert "last 1 h" in figure(traffic(True, window_s=3600), {}).layout.title.text


def test_a_regressor_charts_its_mean_absolute_error() -> None:
    metrics = traffic(requests=True)
    metrics.series[0].mae = [Point(t=p.t, value=0.5) for p in metrics.series[0].rps]
    fig = charts.accuracy_figure(metrics, {})
    assert fig.layout.title.text.startswith("Mean absolute error")
    assert list(fig.data[0].y) == [0.5] * 5


def test_changes_of_traffic_become_markers_saying_what_who_and_why() -> None:
    events = [
        event(1, 900, "deploy", {"weights": {"v0": 100}}),  # before the window
        event(2, 250, "deploy", {"weights": {"v1": 100}}, actor="admin"),
        event(3, 200, "scaling.set", {"replicas": 2}),  # not a change of traffic
        event(
            4,
            120,
            "deployment.set",
            {"weights": {"v1": 80, "v2": 20}},
            before={"weights": {"v1": 100}},
            reason="v2 on a fifth <of> the traffic",
        ),
        event(5, 60, "canary.abort", {"weights": {"v1": 100}}, actor="canary"),
    ]
    markers = change_markers(events, NOW - timedelta(seconds=300), NOW)
    assert [m.action for m in markers] == ["deploy", "deployment.set", "canary.abort"]
    deploy, split, abort = (m.hover for m in markers)
    assert "Deploy" in deploy and "v1 → 100 %" in deploy and "by admin, no reason given" in deploy
    assert "Split change" in split and "v1 → 80 %, v2 → 20 %, was v1 → 100 %" in split
    assert "by alice: v2 on a fifth &lt;of&gt; the traffic" in split
    assert "Canary aborted" in abort and "by canary" in abort
    assert markers[2].color != markers[1].color  # a rollback stands out

    extras = charts.Extras(markers=markers)
    for figure in FIGURES:
        fig = figure(traffic(requests=True), {}, extras)
        assert [s.x0 for s in fig.layout.shapes] == [m.at for m in markers]
        assert {(s.type, s.yref) for s in fig.layout.shapes} == {("line", "paper")}
        assert hovers(fig) == [m.hover for m in markers]
