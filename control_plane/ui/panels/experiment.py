"""The model page's Experiment panel (verdicts and numbers per live version) and canary
card (where the progressive canary stands, its controls and its timeline)."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from control_plane.ui.components.layout import guarded_button
from control_plane.ui.components.versions import version_label
from control_plane.ui.pages.model_state import ModelState
from control_plane.ui.views.experiment import ExperimentRow, TimelineRow, VerdictRow

_NUMBERS = ("Version", "Role", "Traffic", "Accuracy [95 % CI]", "Labelled", "Errors [95 % CI]")
_MORE = ("Requests", "p50", "p99")


def _number_row(r: ObjectVar[ExperimentRow]) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(version_label(r.version, r.color)),
        rx.table.cell(r.role),
        rx.table.cell(r.weight),
        rx.table.cell(r.accuracy, white_space="nowrap"),
        rx.table.cell(r.labelled),
        rx.table.cell(r.error_rate, white_space="nowrap"),
        rx.table.cell(r.requests),
        rx.table.cell(r.p50, white_space="nowrap"),
        rx.table.cell(r.p99, white_space="nowrap"),
        id=f"experiment-{r.version}",
    )


def _verdict(v: ObjectVar[VerdictRow]) -> rx.Component:
    return rx.callout.root(
        rx.callout.icon(
            rx.cond(v.decided, rx.icon("flag", size=16), rx.icon("hourglass", size=16))
        ),
        rx.vstack(
            rx.hstack(
                version_label(v.challenger, v.challenger_color),
                rx.text("vs", size="2", color_scheme="gray"),
                version_label(v.baseline, v.baseline_color),
                align="center",
                spacing="2",
            ),
            rx.text(v.verdict, size="3", weight="medium", class_name="verdict"),
            rx.text(
                "accuracy ",
                v.accuracy_diff,
                " · error rate ",
                v.error_diff,
                " · p99 ",
                v.p99_ratio,
                " · ",
                v.sample,
                size="1",
                color_scheme="gray",
            ),
            spacing="1",
        ),
        color_scheme=rx.cond(v.decided, "green", "gray"),
        width="100%",
        id=f"verdict-{v.challenger}",
    )


def experiment_panel() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Experiment", size="4"),
                rx.text(
                    "each challenger against the baseline, over the chart's time range",
                    size="2",
                    color_scheme="gray",
                ),
                align="baseline",
                spacing="3",
            ),
            rx.cond(
                ModelState.verdicts.length() > 0,  # type: ignore[attr-defined]
                rx.vstack(
                    rx.foreach(ModelState.verdicts, _verdict),
                    rx.box(
                        rx.table.root(
                            rx.table.header(
                                rx.table.row(
                                    *(rx.table.column_header_cell(c) for c in _NUMBERS + _MORE)
                                )
                            ),
                            rx.table.body(rx.foreach(ModelState.experiment_rows, _number_row)),
                            size="1",
                            width="100%",
                        ),
                        overflow_x="auto",
                        width="100%",
                    ),
                    rx.text("Latency: ", ModelState.latency_method, size="1", color_scheme="gray"),
                    width="100%",
                    spacing="3",
                ),
                rx.text(
                    "Split traffic between two or more versions to compare them here.", size="2"
                ),
            ),
            width="100%",
        ),
        width="100%",
        id="experiment",
    )


def canary_inputs() -> rx.Component:
    """The progressive canary's plan, in the confirmation dialog."""
    return rx.hstack(
        rx.text("Steps (%)", size="2"),
        rx.input(
            value=ModelState.canary_steps,
            on_change=ModelState.set_canary_steps,
            width="140px",
            id="canary-steps",
        ),
        rx.text("every", size="2"),
        rx.input(
            value=ModelState.canary_interval,
            type="number",
            min=1,
            on_change=ModelState.set_canary_interval,
            width="80px",
            id="canary-interval",
        ),
        rx.text("s", size="2"),
        align="center",
        spacing="2",
    )


def _timeline_row(r: ObjectVar[TimelineRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(r.at, white_space="nowrap"),
        rx.table.cell(rx.badge(r.action, variant="soft")),
        rx.table.cell(r.actor),
        rx.table.cell(rx.text(r.text, size="1")),
        class_name="timeline-row",
    )


def _control(label: str, action: str, viewer_reason: str, **props: object) -> rx.Component:
    return guarded_button(
        label,
        allowed=ModelState.can_deploy & ~ModelState.busy,
        reason=viewer_reason,
        size="1",
        variant="soft",
        on_click=ModelState.control_canary(action),  # type: ignore[misc]
        id=f"canary-{action}",
        **props,
    )


def canary_panel(viewer_reason: str) -> rx.Component:
    canary = ModelState.canary
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Canary", size="4"),
                rx.text(
                    "start one with “Canary…” on a version below; failed gates roll it back",
                    size="2",
                    color_scheme="gray",
                ),
                align="baseline",
                spacing="3",
            ),
            rx.cond(
                canary.status != "",
                rx.vstack(
                    rx.hstack(
                        rx.text(canary.text, weight="bold", size="2", id="canary-status"),
                        rx.text(canary.steps, size="2", color_scheme="gray"),
                        rx.spacer(),
                        rx.cond(
                            canary.active,
                            rx.hstack(
                                rx.cond(
                                    canary.paused,
                                    _control("Resume", "resume", viewer_reason),
                                    _control("Pause", "pause", viewer_reason),
                                ),
                                _control("Abort", "abort", viewer_reason, color_scheme="red"),
                                spacing="2",
                            ),
                        ),
                        width="100%",
                        align="center",
                    ),
                    rx.text(canary.reason, size="1", color_scheme="gray", id="canary-reason"),
                    width="100%",
                ),
                rx.text("No canary yet.", size="2"),
            ),
            rx.cond(
                ModelState.timeline.length() > 0,  # type: ignore[attr-defined]
                rx.box(
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                *(rx.table.column_header_cell(c) for c in ("When", "", "By", ""))
                            )
                        ),
                        rx.table.body(rx.foreach(ModelState.timeline, _timeline_row)),
                        size="1",
                        width="100%",
                        id="canary-timeline",
                    ),
                    max_height="260px",
                    overflow_y="auto",
                    width="100%",
                ),
            ),
            width="100%",
        ),
        width="100%",
        id="canary",
    )
