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
from control_plane.ui.views.experiment import GATE_INPUTS, GateInput, TimelineRow


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
    return rx.vstack(
        row(
            rx.text("Steps (%)", size="2"),
            steps,
            rx.text("every", size="2"),
            interval,
            rx.text("s", size="2"),
        ),
        rx.text("Gates: a failed gate rolls the canary back", size="2", weight="medium"),
        rx.grid(*(_gate_input(g) for g in GATE_INPUTS), columns="1", spacing="1"),
        muted("Defaults shown; the accuracy gate applies once labels arrive.", size="1"),
        spacing="2",
        width="100%",
    )


def _gate_input(g: GateInput) -> rx.Component:
    return row(
        rx.text(g.label, size="1", width="260px"),
        rx.input(
            value=CanaryState.canary_gates[g.field],
            on_change=lambda v: CanaryState.set_canary_gate(g.field, v),  # type: ignore[operator]
            width="80px",
            size="1",
            id=f"gate-{g.field}",
        ),
        muted(g.unit, f" (default {g.default()})", size="1"),
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


def canary_summary() -> rx.Component:
    """How the last canary ended, its gates and its verdict: kept after it finished."""
    canary = CanaryState.canary
    return rx.cond(
        canary.ended != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("flag", size=16)),
            rx.vstack(
                rx.text(canary.ended, size="2", weight="medium"),
                rx.text("Verdict: ", canary.verdict, size="2", class_name="canary-verdict"),
                muted(canary.gates, size="1", white_space="pre-line"),
                spacing="1",
            ),
            color_scheme="gray",
            width="100%",
            class_name="canary-summary",
        ),
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
            canary_summary(),
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
