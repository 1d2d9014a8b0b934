"""`/`: every model with its deployed versions, health and live traffic."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from control_plane.ui.components.layout import empty_state, loading, page
from control_plane.ui.components.versions import chip, sparkline
from control_plane.ui.pages.index_state import IndexState
from control_plane.ui.views.catalog import OverviewRow

PUSH_COMMAND = "pier push examples/iris/pier.yaml"
_HEADERS = ("Model", "Status", "Deployed", "Requests/s", "p50", "p99", "Errors")


def _figure(value: rx.Var[str], path: rx.Var[str], color: str) -> rx.Component:
    return rx.vstack(
        rx.text(value, size="2", weight="medium"),
        sparkline(path, color),
        spacing="0",
    )


def _row(r: ObjectVar[OverviewRow]) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                rx.link(rx.text(r.name, weight="bold", size="3"), href=r.href),
                rx.text(r.versions, size="1", color_scheme="gray"),
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
            rx.cond(
                r.deployed.length() > 0,
                rx.flex(rx.foreach(r.deployed, chip), wrap="wrap", gap="1"),
                rx.text("not deployed", size="1", color_scheme="gray"),
            )
        ),
        rx.table.cell(_figure(r.rps, r.rps_path, "#0090ff")),
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
        rx.hstack(
            rx.link(rx.button(rx.icon("upload", size=14), "Upload a version"), href="/upload"),
            rx.text("or, from a shell:", color_scheme="gray", size="2"),
            rx.code(PUSH_COMMAND),
            align="center",
            spacing="3",
        ),
        id="empty-hint",
    )


def _table() -> rx.Component:
    return rx.card(
        rx.table.root(
            rx.table.header(rx.table.row(*(rx.table.column_header_cell(h) for h in _HEADERS))),
            rx.table.body(rx.foreach(IndexState.rows, _row)),
            width="100%",
            variant="ghost",
        ),
        width="100%",
        id="models",
    )


def _pager() -> rx.Component:
    return rx.hstack(
        rx.text(IndexState.page_label, size="2", color_scheme="gray", id="page-label"),
        rx.spacer(),
        rx.button(
            rx.icon("chevron-left", size=14),
            "Previous",
            variant="soft",
            size="1",
            disabled=IndexState.page == 0,
            on_click=IndexState.previous_page,
        ),
        rx.button(
            "Next",
            rx.icon("chevron-right", size=14),
            variant="soft",
            size="1",
            disabled=IndexState.page + 1 >= IndexState.pages,
            on_click=IndexState.next_page,
            id="next-page",
        ),
        width="100%",
        align="center",
    )


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


def index() -> rx.Component:
    return page(
        "Models",
        rx.hstack(
            rx.debounce_input(
                rx.input(
                    placeholder="Filter by name",
                    value=IndexState.query,
                    on_change=IndexState.search,
                    width="260px",
                    id="model-filter",
                ),
                debounce_timeout=300,
            ),
            rx.spacer(),
            rx.text(
                "refreshed ",
                IndexState.refreshed_at,
                " · catalog read in ",
                rx.el.span(IndexState.data_ms, id="data-ms"),
                size="1",
                color_scheme="gray",
            ),
            width="100%",
            align="center",
        ),
        rx.cond(
            IndexState.error,
            rx.callout(IndexState.error, icon="triangle_alert", color_scheme="red", id="error"),
        ),
        rx.cond(
            IndexState.metrics_note,
            rx.callout(IndexState.metrics_note, icon="info", color_scheme="gray", size="1"),
        ),
        _body(),
        subtitle="Every model, what serves its traffic, and how it is doing right now.",
    )


def register(app: rx.App) -> None:
    app.add_page(index, route="/", title="Pier", on_load=IndexState.poll)
