"""`/`: every model with its deployed versions, health and live traffic."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from control_plane.ui.components.basics import ERROR, NOTE, callout_if, if_any, muted, row
from control_plane.ui.components.layout import empty_state, loading, page
from control_plane.ui.components.pager import page_button, pager
from control_plane.ui.components.table import table
from control_plane.ui.components.versions import chip, sparkline
from control_plane.ui.pages.index_state import SPARK_STEP_S, SUMMARY_WINDOW_S, IndexState
from control_plane.ui.views.catalog import RATE_S, OverviewRow
from control_plane.ui.views.charts import duration

PUSH_COMMAND = "pier push examples/iris/pier.yaml"
_RATE = f"last {duration(RATE_S)}"
_WINDOW = f"last {duration(SUMMARY_WINDOW_S)}"
_HEADERS = (
    "Model",
    "Status",
    "Deployed",
    f"Requests/s, {_RATE}",
    f"p50, {_WINDOW}",
    f"p99, {_WINDOW}",
    f"Errors, {_WINDOW}",
)
_SPARK = f"The line: {_WINDOW} in {SPARK_STEP_S} s steps"


def _figure(value: rx.Var[str], path: rx.Var[str], color: str, **props: Any) -> rx.Component:
    return rx.vstack(
        rx.text(value, size="2", weight="medium", **props),
        sparkline(path, color),
        spacing="0",
        title=_SPARK,
    )


def _row(r: ObjectVar[OverviewRow]) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                rx.link(rx.text(r.name, weight="bold", size="3"), href=r.href),
                muted(r.versions, size="1"),
                spacing="0",
            )
        ),
        rx.table.cell(
            rx.badge(
                r.health,
                color_scheme=r.health_color,
                variant="soft",
                size="2",
                title=r.health_reason,
            )
        ),
        rx.table.cell(
            if_any(
                r.deployed,
                rx.flex(rx.foreach(r.deployed, chip), wrap="wrap", gap="1"),
                muted("not deployed", size="1"),
            )
        ),
        rx.table.cell(_figure(r.rps, r.rps_path, "#0090ff", id=f"rate-{r.name}")),
        rx.table.cell(_figure(r.p50, rx.Var.create(""), "transparent")),
        rx.table.cell(_figure(r.p99, r.p99_path, "#8e4ec6")),
        rx.table.cell(_figure(r.errors, r.errors_path, "#e5484d")),
        id=f"model-{r.name}",
        align="center",
    )


def _empty() -> rx.Component:
    return empty_state(
        "package-open",
        "No model yet",
        rx.text("Push your first model version, then deploy it from its page:"),
        row(
            rx.link(rx.button(rx.icon("upload", size=14), "Upload a version"), href="/upload"),
            muted("or, from a shell:"),
            rx.code(PUSH_COMMAND),
            spacing="3",
        ),
        id="empty-hint",
    )


def _table() -> rx.Component:
    # Radix's own size (None), roomier than the other tables: the overview is the main one.
    models = table(_HEADERS, IndexState.rows, _row, size=None, variant="ghost")
    return rx.card(models, width="100%", id="models")


def _pager() -> rx.Component:
    back = page_button(
        rx.icon("chevron-left", size=14),
        "Previous",
        disabled=IndexState.page == 0,
        on_click=IndexState.previous_page,
    )
    forward = page_button(
        "Next",
        rx.icon("chevron-right", size=14),
        disabled=IndexState.page + 1 >= IndexState.pages,
        on_click=IndexState.next_page,
        id="next-page",
    )
    return pager(muted(IndexState.page_label, id="page-label"), back, forward, align="center")


def _body() -> rx.Component:
    return rx.cond(
        IndexState.loaded,
        rx.cond(
            (IndexState.total > 0) | (IndexState.query != ""),
            rx.vstack(_table(), _pager(), width="100%"),
            _empty(),
        ),
        loading("Loading the models…"),
    )


def _toolbar() -> rx.Component:
    """The name filter, and when the catalog was read and how long it took."""
    search = rx.debounce_input(
        rx.input(
            placeholder="Filter by name",
            value=IndexState.query,
            on_change=IndexState.search,
            width="260px",
            id="model-filter",
        ),
        debounce_timeout=300,
    )
    read = muted(
        "refreshed ",
        IndexState.refreshed_at,
        " · catalog read in ",
        rx.el.span(IndexState.data_ms, id="data-ms"),
        size="1",
    )
    return row(search, rx.spacer(), read, spacing="3", width="100%")


def index() -> rx.Component:
    return page(
        "Models",
        _toolbar(),
        callout_if(IndexState.error, **ERROR, id="error"),
        callout_if(IndexState.metrics_note, **NOTE),
        _body(),
        subtitle="Every model, what serves its traffic, and how it is doing right now.",
    )


def register(app: rx.App) -> None:
    app.add_page(index, route="/", title="Pier", on_load=IndexState.poll)
