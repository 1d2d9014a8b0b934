"""The model page's Experiment card: each challenger's verdict against the baseline, and
each live version's numbers, over the charts' time range."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from control_plane.ui.components.basics import if_any, muted, row
from control_plane.ui.components.card import card
from control_plane.ui.components.table import wide_table
from control_plane.ui.components.versions import version_label
from control_plane.ui.panels.canary import canary_summary
from control_plane.ui.panels.canary_state import CanaryState
from control_plane.ui.panels.thresholds import thresholds_form
from control_plane.ui.views.experiment import EffectRow, ExperimentRow, VerdictRow

_NUMBERS = ("Version", "Role", "Traffic", "Accuracy [95 % CI]", "Labelled", "Errors [95 % CI]")
_MORE = ("Requests", "p50", "p99")
_EFFECTS = (
    "Challenger",
    "Measure",
    "Challenger vs baseline",
    "Difference [95 % CI]",
    "Threshold",
    "Reading",
)


def _effect_row(r: ObjectVar[EffectRow]) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(version_label(r.challenger, r.color)),
        rx.table.cell(r.measure),
        rx.table.cell(r.figures, white_space="nowrap"),
        rx.table.cell(r.difference, white_space="nowrap"),
        rx.table.cell(r.threshold, white_space="nowrap"),
        rx.table.cell(r.reading),
        class_name="effect",
    )


def _no_labels() -> rx.Component:
    return rx.callout.root(
        rx.callout.icon(rx.icon("tag", size=16)),
        rx.vstack(
            rx.text(
                "No ground truth yet: accuracy is compared once labels arrive. Send the true "
                "label of a prediction, by the prediction_id that /predict answered with:",
                size="2",
            ),
            rx.code_block(
                CanaryState.feedback_example, can_copy=True, width="100%", language="bash"
            ),
            muted("POST /feedback/batch takes up to 10,000 at once.", size="1"),
            spacing="2",
            width="100%",
        ),
        color_scheme="amber",
        width="100%",
        id="no-labels",
    )


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
            row(
                version_label(v.challenger, v.challenger_color),
                muted("vs"),
                version_label(v.baseline, v.baseline_color),
            ),
            rx.text(v.verdict, size="3", weight="medium", class_name="verdict"),
            muted("p99 ratio ", v.p99_ratio, " · ", v.sample, size="1"),
            spacing="1",
        ),
        color_scheme=rx.cond(v.decided, "green", "gray"),
        width="100%",
        id=f"verdict-{v.challenger}",
    )


def experiment_panel() -> rx.Component:
    return card(
        "Experiment",
        "each challenger against the baseline, since the current split took effect",
        if_any(
            CanaryState.verdicts,
            rx.vstack(
                muted(CanaryState.experiment_notes.window, id="experiment-window"),
                rx.foreach(CanaryState.verdicts, _verdict),
                wide_table(_EFFECTS, CanaryState.effects, _effect_row),
                muted(CanaryState.experiment_notes.thresholds, size="1", id="thresholds"),
                rx.cond(CanaryState.experiment_notes.labels_missing, _no_labels()),
                wide_table(_NUMBERS + _MORE, CanaryState.experiment_rows, _number_row),
                muted("Latency: ", CanaryState.latency_method, size="1"),
                width="100%",
                spacing="3",
            ),
            rx.vstack(
                rx.text(
                    "Split traffic between two or more versions to compare them here.", size="2"
                ),
                canary_summary(),
                width="100%",
            ),
        ),
        thresholds_form(),
        id="experiment",
    )
