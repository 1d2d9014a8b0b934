"""The model page's Experiment card: each challenger's verdict against the baseline, and
each live version's numbers, over the charts' time range."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from control_plane.ui.components.card import card
from control_plane.ui.components.table import table
from control_plane.ui.components.versions import version_label
from control_plane.ui.panels.canary_state import CanaryState
from control_plane.ui.views.experiment import ExperimentRow, VerdictRow

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
    return card(
        "Experiment",
        "each challenger against the baseline, over the chart's time range",
        rx.cond(
            CanaryState.verdicts.length() > 0,  # type: ignore[attr-defined]
            rx.vstack(
                rx.foreach(CanaryState.verdicts, _verdict),
                rx.box(
                    table(_NUMBERS + _MORE, CanaryState.experiment_rows, _number_row),
                    overflow_x="auto",
                    width="100%",
                ),
                rx.text("Latency: ", CanaryState.latency_method, size="1", color_scheme="gray"),
                width="100%",
                spacing="3",
            ),
            rx.text("Split traffic between two or more versions to compare them here.", size="2"),
        ),
        id="experiment",
    )
