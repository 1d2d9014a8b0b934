"""The model page's Canary card (where the progressive canary stands, its controls and its
timeline) and the canary's plan in the confirmation dialog."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from control_plane.ui.components.basics import if_any, muted, row
from control_plane.ui.components.card import card
from control_plane.ui.components.layout import deployer_button
from control_plane.ui.components.table import table
from control_plane.ui.pages.model_state import ModelState
from control_plane.ui.panels.canary_state import CanaryState
from control_plane.ui.views.experiment import TimelineRow


def canary_inputs() -> rx.Component:
    """The progressive canary's plan, in the confirmation dialog."""
    steps = rx.input(
        value=CanaryState.canary_steps,
        on_change=CanaryState.set_canary_steps,
        width="140px",
        id="canary-steps",
    )
    interval = rx.input(
        value=CanaryState.canary_interval,
        type="number",
        min=1,
        on_change=CanaryState.set_canary_interval,
        width="80px",
        id="canary-interval",
    )
    return row(
        rx.text("Steps (%)", size="2"),
        steps,
        rx.text("every", size="2"),
        interval,
        rx.text("s", size="2"),
    )


def _timeline_row(r: ObjectVar[TimelineRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(r.at, white_space="nowrap"),
        rx.table.cell(rx.badge(r.action, variant="soft")),
        rx.table.cell(r.actor),
        rx.table.cell(rx.text(r.text, size="1")),
        class_name="timeline-row",
    )


def _control(label: str, action: str, **props: object) -> rx.Component:
    return deployer_button(
        label,
        allowed=ModelState.can_deploy & ~ModelState.busy,
        variant="soft",
        on_click=CanaryState.control_canary(action),  # type: ignore[misc]
        id=f"canary-{action}",
        **props,
    )


def _controls() -> rx.Component:
    """Pause or resume, and abort, while the canary runs."""
    return rx.hstack(
        rx.cond(
            CanaryState.canary.paused, _control("Resume", "resume"), _control("Pause", "pause")
        ),
        _control("Abort", "abort", color_scheme="red"),
        spacing="2",
    )


def _status() -> rx.Component:
    canary = CanaryState.canary
    return rx.cond(
        canary.status != "",
        rx.vstack(
            row(
                rx.text(canary.text, weight="bold", size="2", id="canary-status"),
                muted(canary.steps),
                rx.spacer(),
                rx.cond(canary.active, _controls()),
                spacing="3",
                width="100%",
            ),
            muted(canary.reason, size="1", id="canary-reason"),
            width="100%",
        ),
        rx.text("No canary yet.", size="2"),
    )


def canary_panel() -> rx.Component:
    return card(
        "Canary",
        "start one with “Canary…” on a version below; failed gates roll it back",
        _status(),
        if_any(
            CanaryState.timeline,
            rx.box(
                table(
                    ("When", "", "By", ""),
                    CanaryState.timeline,
                    _timeline_row,
                    id="canary-timeline",
                ),
                max_height="260px",
                overflow_y="auto",
                width="100%",
            ),
        ),
        id="canary",
    )
