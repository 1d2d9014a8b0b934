"""The model page's confirmation dialog: the pending change's before → after, the canary's
plan when it is one, and a reason for the activity log; nothing changes until confirmed."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from control_plane.ui.components.versions import swatch
from control_plane.ui.panels.canary import canary_inputs
from control_plane.ui.panels.canary_state import CanaryState
from control_plane.ui.panels.change_state import ChangeState
from control_plane.ui.views.catalog import ShareRow


def _preview_row(r: ObjectVar[ShareRow]) -> rx.Component:
    return rx.hstack(
        swatch(r.color),
        rx.text(r.version, weight="medium", width="120px"),
        rx.text(r.before, "%", color_scheme="gray"),
        rx.icon("arrow-right", size=14),
        rx.text(r.weight, "%", weight="bold"),
        align="center",
        spacing="2",
    )


def _confirm_button(label: str, on_click: rx.EventHandler) -> rx.Component:
    return rx.button(
        label, on_click=on_click, disabled=ChangeState.pending_problem != "", id="confirm"
    )


def confirm_dialog() -> rx.Component:
    canary = ChangeState.pending_kind == "canary"
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(ChangeState.pending_title),
            rx.dialog.description(
                rx.cond(
                    ChangeState.pending_kind == "rollback",
                    "Traffic goes back to the previous split; its versions are still loaded.",
                    "Replicas load and warm every version before they switch; no request drops.",
                ),
                size="2",
            ),
            rx.vstack(
                rx.cond(canary, canary_inputs()),
                rx.vstack(rx.foreach(ChangeState.pending_rows, _preview_row), id="pending-preview"),
                rx.cond(
                    ChangeState.pending_problem,
                    rx.callout(ChangeState.pending_problem, color_scheme="red", size="1"),
                ),
                rx.text("Why (kept in the activity log, optional)", size="2"),
                rx.text_area(
                    value=ChangeState.reason,
                    on_change=ChangeState.set_reason,
                    placeholder="e.g. v2 is 3 % more accurate offline",
                    width="100%",
                    id="reason",
                ),
                rx.hstack(
                    rx.button(
                        "Cancel", variant="soft", color_scheme="gray", on_click=ChangeState.cancel
                    ),
                    rx.cond(
                        canary,
                        _confirm_button("Start the canary", CanaryState.start_canary),
                        _confirm_button("Confirm", ChangeState.confirm),
                    ),
                    justify="end",
                    width="100%",
                ),
                spacing="3",
                margin_top="1em",
                width="100%",
            ),
            max_width="520px",
        ),
        open=ChangeState.pending_kind != "",
        on_open_change=lambda _open: ChangeState.cancel(),  # type: ignore[operator]
    )
