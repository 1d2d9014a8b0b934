"""The model page's Live traffic card: the time range, the latency, requests, replicas, errors
and accuracy charts, errors by type and each replica's CPU and memory; and their state."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import reflex as rx

from control_plane.schemas import ModelMetrics
from control_plane.ui.components.basics import NOTE, callout_if, if_any, muted
from control_plane.ui.components.card import card
from control_plane.ui.components.table import table
from control_plane.ui.components.versions import version_label
from control_plane.ui.pages.model_read import Tick
from control_plane.ui.pages.model_state import ModelState
from control_plane.ui.views import charts
from control_plane.ui.views import health as health_view
from control_plane.ui.views.charts import RANGES
from control_plane.ui.views.markers import ChangeMarker, mark
from control_plane.ui.views.replicas import ReplicaHistory, replicas_figure


class ChartsState(ModelState):
    range_key: str = "5m"
    metrics: ModelMetrics | None = None
    metrics_note: str = ""
    replica_history: ReplicaHistory | None = None
    markers: list[ChangeMarker] = []

    def _extras(self) -> charts.Extras:
        return charts.Extras(markers=self.markers, note=self.metrics_note)

    @rx.var
    def window_label(self) -> str:
        return "last " + charts.duration(charts.time_range(self.range_key).window_s)

    @rx.var
    def replicas_chart(self) -> go.Figure:
        fig = replicas_figure(self.replica_history)
        if self.replica_history is not None:
            charts.subtitle(fig, self.window_label)
        return mark(fig, self.markers)

    @rx.var
    def latency_chart(self) -> go.Figure:
        return charts.latency_figure(self.metrics, self.colors, self._extras())

    @rx.var
    def rps_chart(self) -> go.Figure:
        return charts.rps_figure(self.metrics, self.colors, self._extras())

    @rx.var
    def error_chart(self) -> go.Figure:
        return charts.error_figure(self.metrics, self.colors, self._extras())

    @rx.var
    def accuracy_chart(self) -> go.Figure:
        return charts.accuracy_figure(self.metrics, self.colors, self._extras())

    @rx.var
    def error_types(self) -> list[health_view.ErrorTypeRow]:
        return health_view.error_type_rows(self.metrics, self.colors)

    @rx.var
    def replica_usage(self) -> list[health_view.ReplicaRow]:
        return health_view.replica_rows(self.metrics)

    def _take(self, tick: Tick) -> None:
        self.metrics = tick.metrics
        self.metrics_note = tick.metrics_note
        self.replica_history = tick.replicas
        self.markers = list(tick.markers)

    @rx.event
    async def set_range(self, key: str | list[str]) -> Any:
        self.range_key = charts.time_range(key if isinstance(key, str) else key[0]).key
        return await self._refresh_now()


def _chart(figure: rx.Var, chart_id: str) -> rx.Component:
    return rx.box(
        rx.plotly(
            data=figure,
            id=chart_id,
            use_resize_handler=True,
            config={"displayModeBar": False, "responsive": True},
            style={"width": "100%", "height": "280px"},
        ),
        min_width="0",
        width="100%",
    )


def _small_table(
    title: str | rx.Var[str],
    headers: tuple[str, ...],
    rows: Any,
    row: Any,
    empty: str,
    table_id: str,
) -> rx.Component:
    return rx.box(
        rx.text(title, weight="medium", size="2"),
        if_any(rows, table(headers, rows, row), muted(empty, size="1")),
        id=table_id,
        min_width="0",
    )


def _error_type_row(r: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(version_label(r.version, r.color)),
        rx.table.cell(rx.code(r.type, size="1")),
        rx.table.cell(r.count),
    )


def _replica_row(r: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(r.replica, size="1")), rx.table.cell(r.cpu), rx.table.cell(r.memory)
    )


def charts_panel() -> rx.Component:
    return card(
        "Live traffic",
        "",
        callout_if(ChartsState.metrics_note, **NOTE),
        rx.grid(
            _chart(ChartsState.latency_chart, "chart-latency"),
            _chart(ChartsState.rps_chart, "chart-rps"),
            _chart(ChartsState.replicas_chart, "chart-replicas"),
            columns="3",
            spacing="3",
            width="100%",
        ),
        rx.grid(
            _chart(ChartsState.error_chart, "chart-errors"),
            _chart(ChartsState.accuracy_chart, "chart-accuracy"),
            _small_table(
                "Errors by type, " + ChartsState.window_label,
                ("Version", "Type", "Count"),
                ChartsState.error_types,
                _error_type_row,
                "No errors in this window.",
                "error-types",
            ),
            _small_table(
                "Replicas: CPU (last 10 s), memory",
                ("Replica", "CPU", "Memory"),
                ChartsState.replica_usage,
                _replica_row,
                "No replica reported yet.",
                "replica-usage",
            ),
            columns="4",
            spacing="3",
            width="100%",
        ),
        aside=rx.segmented_control.root(
            *(rx.segmented_control.item(r.label, value=r.key) for r in RANGES),
            value=ChartsState.range_key,
            on_change=ChartsState.set_range,
            id="range",
        ),
        id="charts",
    )
