"""`/activity`: who changed what, when, from what to what, and why."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from control_plane.ui.components.basics import ERROR, callout_if, if_any, muted, row
from control_plane.ui.components.layout import empty_state, loading, page
from control_plane.ui.components.table import table
from control_plane.ui.pages.activity_state import ActivityState
from control_plane.ui.views.catalog import AuditRow

_COLUMNS = ("When", "Who", "Action", "Target", "Before", "After", "Why")


def _row(e: ObjectVar[AuditRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(e.at, size="1"), white_space="nowrap"),
        rx.table.cell(e.actor),
        rx.table.cell(rx.badge(e.action, variant="soft")),
        rx.table.cell(e.target),
        rx.table.cell(rx.text(e.before, size="1", color_scheme="gray")),
        rx.table.cell(rx.text(e.after, size="1")),
        rx.table.cell(rx.text(e.reason, size="1")),
        class_name="audit-row",
    )


def _filter(label: str, items: Any, value: Any, on_change: Any) -> rx.Component:
    return row(
        muted(label),
        rx.select(items, value=value, on_change=on_change, size="2", id=f"filter-{label.lower()}"),
    )


def _filters() -> rx.Component:
    return row(
        _filter(
            "Model", ActivityState.models, ActivityState.model_filter, ActivityState.filter_model
        ),
        _filter(
            "User", ActivityState.actors, ActivityState.actor_filter, ActivityState.filter_actor
        ),
        _filter(
            "Action",
            ActivityState.actions,
            ActivityState.action_filter,
            ActivityState.filter_action,
        ),
        rx.spacer(),
        rx.button(
            rx.icon("refresh-cw", size=14), "Newest", variant="soft", on_click=ActivityState.newest
        ),
        width="100%",
        spacing="5",
    )


def _log() -> rx.Component:
    return if_any(
        ActivityState.rows,
        rx.card(table(_COLUMNS, ActivityState.rows, _row, id="audit"), width="100%"),
        empty_state("history", "Nothing recorded yet", rx.text("No event matches these filters.")),
    )


def activity_page() -> rx.Component:
    older = rx.button(
        "Older", variant="soft", disabled=~ActivityState.has_older, on_click=ActivityState.older
    )
    return page(
        "Activity",
        _filters(),
        callout_if(ActivityState.error, **ERROR),
        rx.cond(ActivityState.loaded, _log(), loading("Loading the activity log…")),
        rx.hstack(rx.spacer(), older, width="100%"),
        subtitle="Every change of desired state, from the browser or the CLI, newest first.",
    )


def register(app: rx.App) -> None:
    app.add_page(
        activity_page, route="/activity", title="Activity · Pier", on_load=ActivityState.load
    )
