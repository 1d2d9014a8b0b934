"""The model page's confirmation dialog: the pending change's before → after, the canary's
plan when it is one, what it makes worse by the declared metrics, and a reason for the
activity log; nothing changes until confirmed."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from control_plane.ui.components.basics import callout_if, if_any, rich_callout, row
from control_plane.ui.components.layout import secondary_button
from control_plane.ui.components.versions import swatch
from control_plane.ui.panels.canary import canary_inputs
from control_plane.ui.panels.canary_state import CanaryState
from control_plane.ui.panels.change_state import ChangeState
from control_plane.ui.views.catalog import ShareRow


def _preview_row(r: ObjectVar[ShareRow]) -> rx.Component:
    return row(
        swatch(r.color),
        rx.text(r.version, weight="medium", width="120px"),
        rx.text(r.before, "%", color_scheme="gray"),
        rx.icon("arrow-right", size=14),
        rx.text(r.weight, "%", weight="bold"),
    )


def _confirm_button(label: str, on_click: rx.EventHandler) -> rx.Component:
    return rx.button(label, on_click=on_click, disabled=ChangeState.confirm_blocked, id="confirm")


def _regressions() -> rx.Component:
    """A worse declared metric, said plainly; Confirm waits for an explicit tick."""
    return if_any(
        ChangeState.pending_regressions,
        rich_callout(
            rx.icon("triangle-alert", size=16),
            rx.text(
                "This change gives traffic to a version whose declared metrics are worse "
                "than those of the version serving now:",
                size="2",
                weight="medium",
            ),
            rx.foreach(ChangeState.pending_regressions, lambda line: rx.text(line, size="2")),
            rx.checkbox(
                "Deploy anyway: I have checked these metrics",
                checked=ChangeState.regression_ack,
                on_change=ChangeState.set_regression_ack,
                id="confirm-regression",
            ),
            spacing="2",
            color_scheme="amber",
            id="regressions",
        ),
    )


def _reason() -> rx.Component:
    """Why, for the activity log."""
    return rx.text_area(
        value=ChangeState.reason,
        on_change=ChangeState.set_reason,
        placeholder="e.g. v2 is 3 % more accurate offline",
        width="100%",
        id="reason",
    )


def _buttons(canary: rx.Var[bool] | bool) -> rx.Component:
    cancel = secondary_button("Cancel", on_click=ChangeState.cancel)
    confirm = rx.cond(
        canary,
        _confirm_button("Start the canary", CanaryState.start_canary),
        rx.cond(
            ChangeState.pending_kind.startswith("canary-"),
            _confirm_button("Confirm", CanaryState.confirm_control),
            _confirm_button("Confirm", ChangeState.confirm),
        ),
    )
    return rx.hstack(cancel, confirm, justify="end", width="100%")


def confirm_dialog() -> rx.Component:
    canary = ChangeState.pending_kind == "canary"
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(ChangeState.pending_title),
            rx.dialog.description(
                rx.match(
                    ChangeState.pending_kind,
                    (
                        "rollback",
                        "Traffic goes back to the previous split; its versions are loaded.",
                    ),
                    (
                        "canary-abort",
                        "All traffic goes back to the baseline; the canary's results stay on this "
                        "page and in the activity log.",
                    ),
                    ("canary-pause", "The canary holds its weight until it is resumed."),
                    "Replicas load and warm every version before they switch; no request drops.",
                ),
                size="2",
            ),
            rx.vstack(
                rx.cond(canary, canary_inputs()),
                rx.vstack(rx.foreach(ChangeState.pending_rows, _preview_row), id="pending-preview"),
                _regressions(),
                callout_if(ChangeState.pending_problem, color_scheme="red", size="1"),
                rx.text("Why (kept in the activity log, optional)", size="2"),
                _reason(),
                _buttons(canary),
                spacing="3",
                margin_top="1em",
                width="100%",
            ),
            max_width="520px",
        ),
        open=ChangeState.pending_kind != "",
        on_open_change=lambda _open: ChangeState.cancel(),  # type: ignore[operator]
    )
