"""`/`: every model, its versions, and what serves traffic."""

from __future__ import annotations

import reflex as rx

from control_plane.ui.components.model_card import model_card
from control_plane.ui.pages.index_state import IndexState

PUSH_COMMAND = "pier push examples/iris/pier.yaml"


def _empty_hint() -> rx.Component:
    return rx.callout(
        rx.text("No model is registered yet. Push the example with ", rx.code(PUSH_COMMAND), "."),
        icon="info",
        id="empty-hint",
    )


def _body() -> rx.Component:
    return rx.cond(
        IndexState.models,
        rx.vstack(rx.foreach(IndexState.models, model_card), width="100%", id="models"),
        rx.cond(IndexState.loaded, _empty_hint(), rx.text("Loading…", color_scheme="gray")),
    )


def index() -> rx.Component:
    return rx.container(
        rx.vstack(
            rx.heading("Pier", size="7"),
            rx.text(
                "Models, their versions, and the traffic each version serves.", color_scheme="gray"
            ),
            rx.cond(
                IndexState.error,
                rx.callout(IndexState.error, icon="triangle_alert", color_scheme="red", id="error"),
            ),
            _body(),
            rx.text("refreshed ", IndexState.refreshed_at, size="1", color_scheme="gray"),
            spacing="4",
            width="100%",
        ),
        size="4",
    )


def register(app: rx.App) -> None:
    app.add_page(index, route="/", title="Pier", on_load=IndexState.poll)
