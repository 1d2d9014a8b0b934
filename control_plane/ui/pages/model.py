"""`/models/<name>`: the model page's frame (its header, the progress of a change, the panels
in order) and its registration; the panels are in ui/panels/."""

from __future__ import annotations

import reflex as rx

from control_plane.ui.components.basics import ERROR, callout_if, if_any, muted, rich_callout, row
from control_plane.ui.components.layout import (
    empty_state,
    first_reason,
    guarded_button,
    loading,
    page,
    role_reason,
    secondary_button,
)
from control_plane.ui.components.versions import chip
from control_plane.ui.pages.model_state import ModelState
from control_plane.ui.panels.canary import canary_panel
from control_plane.ui.panels.change_state import ChangeState
from control_plane.ui.panels.charts import charts_panel
from control_plane.ui.panels.confirm import confirm_dialog
from control_plane.ui.panels.experiment import experiment_panel
from control_plane.ui.panels.scaling import scaling_panel
from control_plane.ui.panels.shadow import shadow_panel
from control_plane.ui.panels.split import split_panel
from control_plane.ui.panels.try_it import try_panel
from control_plane.ui.panels.versions import BUSY, versions_panel


def _serving() -> rx.Component:
    """The versions serving now, as chips, and why the model has its health."""
    return row(
        muted("Serving:"),
        if_any(
            ModelState.deployed,
            rx.flex(rx.foreach(ModelState.deployed, chip), gap="1", id="deployed"),
            rx.text("nothing yet: deploy a version below", size="2", id="deployed"),
        ),
        muted(ModelState.health_reason, size="1"),
    )


def _title() -> rx.Component:
    health = rx.badge(
        ModelState.health,
        color_scheme=ModelState.health_color,
        variant="soft",
        size="2",
        id="health",
        title=ModelState.health_reason,
    )
    back = rx.link(rx.icon("arrow-left", size=18), href="/", color=rx.color("gray", 10))
    return rx.vstack(
        row(back, rx.heading(ModelState.model, size="7", id="page-title"), health, spacing="3"),
        _serving(),
        rx.cond(
            ModelState.cluster_rollout,
            muted(ModelState.cluster_rollout, size="1", id="cluster"),
        ),
        spacing="1",
    )


def _rollback() -> rx.Component:
    role = role_reason()
    blocked = first_reason(
        (role != "", role),
        (ModelState.busy, BUSY),
        (ModelState.rollback_to == "", "Nothing left to roll back: each change is undone once."),
    )
    return guarded_button(
        rx.icon("undo-2", size=14),
        "Roll back",
        allowed=blocked == "",
        reason=blocked,
        on_click=ChangeState.ask_rollback,
        color_scheme="orange",
        variant="soft",
        id="rollback",
        title="Back to " + ModelState.rollback_to,
    )


def _header() -> rx.Component:
    activity = secondary_button(rx.icon("history", size=14), "Activity")
    return rx.hstack(
        _title(),
        rx.spacer(),
        rx.link(activity, href="/activity?model=" + ModelState.model),
        _rollback(),
        width="100%",
        align="start",
    )


def _progress() -> rx.Component:
    return rx.cond(
        ModelState.busy,
        rich_callout(
            rx.spinner(size="2"),
            rx.text(ModelState.progress_text, size="2", id="progress-text"),
            rx.progress(value=ModelState.progress_value, max=100, width="320px"),
            spacing="2",
            color_scheme="blue",
            id="progress",
        ),
    )


def _content() -> rx.Component:
    return rx.vstack(
        _header(),
        callout_if(ModelState.error, **ERROR, id="error"),
        _progress(),
        charts_panel(),
        rx.grid(split_panel(), columns="1", width="100%"),
        versions_panel(),
        try_panel(),
        experiment_panel(),
        shadow_panel(),
        canary_panel(),
        scaling_panel(),
        confirm_dialog(),
        spacing="4",
        width="100%",
    )


def model_page() -> rx.Component:
    return page(
        rx.fragment(),
        rx.cond(
            ModelState.missing,
            empty_state(
                "search-x",
                "No such model",
                rx.text(ModelState.missing),
                rx.link("Back to the overview", href="/"),
                id="missing",
            ),
            rx.cond(ModelState.loaded, _content(), loading("Loading the model…")),
        ),
    )


def register(app: rx.App) -> None:
    app.add_page(
        model_page, route="/models/[model_name]", title="Model · Pier", on_load=ModelState.watch
    )
