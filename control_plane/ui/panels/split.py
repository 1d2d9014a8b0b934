"""The model page's Traffic split card: a slider and a percent per version, the total, and a
before/after preview of the draft, applied through the confirmation dialog."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from control_plane.ui.components.basics import if_any, muted, row
from control_plane.ui.components.card import card
from control_plane.ui.components.layout import (
    blocked_button,
    first_reason,
    role_reason,
    secondary_button,
)
from control_plane.ui.components.versions import version_label
from control_plane.ui.pages.model_state import ModelState
from control_plane.ui.panels.change_state import ChangeState
from control_plane.ui.views.catalog import ShareRow


def _bar(rows: rx.Var[list[ShareRow]], before: bool) -> rx.Component:
    def segment(r: ObjectVar[ShareRow]) -> rx.Component:
        share = r.before if before else r.weight
        return rx.box(
            rx.text(r.version, " ", share, "%", size="1", color="white", padding_x="4px"),
            width=share.to_string() + "%",
            background=r.color,
            height="22px",
            overflow="hidden",
            white_space="nowrap",
            display=rx.cond(share > 0, "block", "none"),  # type: ignore[operator]
        )

    return rx.hstack(
        rx.foreach(rows, segment),
        spacing="0",
        width="100%",
        border_radius="6px",
        overflow="hidden",
        background=rx.color("gray", 4),
    )


def _share_row(r: ObjectVar[ShareRow]) -> rx.Component:
    editable = ModelState.can_deploy & ~ModelState.busy
    return row(
        rx.box(version_label(r.version, r.color), width="140px"),
        rx.slider(
            value=[r.weight],
            min=0,
            max=100,
            step=1,
            on_value_commit=lambda value: ChangeState.edit_share(r.version, value),  # type: ignore[operator]
            disabled=~editable,
            width="260px",
        ),
        rx.input(
            value=r.weight.to_string(),
            type="number",
            min=0,
            max=100,
            on_change=lambda value: ChangeState.edit_share(r.version, value),  # type: ignore[operator]
            disabled=~editable,
            width="80px",
            id=f"share-{r.version}",
        ),
        muted("%  (now ", r.before, "%)"),
        rx.icon_button(
            rx.icon("x", size=14),
            variant="ghost",
            size="1",
            on_click=ChangeState.remove_from_split(r.version),  # type: ignore[operator]
            disabled=~editable,
            title="Remove from the split",
        ),
        spacing="3",
    )


def _shares() -> rx.Component:
    return if_any(
        ChangeState.draft_rows,
        rx.vstack(rx.foreach(ChangeState.draft_rows, _share_row), spacing="2"),
        rx.text("Deploy a version first; then split its traffic here.", size="2"),
    )


def _totals() -> rx.Component:
    add = rx.select(
        ChangeState.addable,
        placeholder="Add a version to the split",
        on_change=ChangeState.add_to_split,
        value="",
        disabled=~ModelState.can_deploy | (ChangeState.draft_rows.length() == 0),
        size="1",
        id="add-version",
    )
    total = rx.text(
        "Total ",
        ChangeState.draft_total,
        "%",
        size="2",
        weight="bold",
        color=rx.cond(ChangeState.draft_total == 100, "inherit", rx.color("red", 11)),
        id="split-total",
    )
    problem = rx.text(ChangeState.draft_problem, size="2", color_scheme="red", id="split-problem")
    return row(add, total, rx.cond(ChangeState.draft_problem, problem), spacing="3")


def _preview() -> rx.Component:
    return rx.cond(
        ChangeState.draft_changed,
        rx.vstack(
            rx.text("Preview", size="2", weight="bold"),
            *(
                row(
                    rx.text(label, size="1", width="40px"),
                    _bar(ChangeState.draft_rows, before=label == "now"),
                    spacing="3",
                    width="100%",
                )
                for label in ("now", "after")
            ),
            width="100%",
            id="split-preview",
        ),
    )


def _apply() -> rx.Component:
    """Reset the draft, or review it in the confirmation dialog."""
    reset = secondary_button(
        "Reset", on_click=ChangeState.reset_split, disabled=~ChangeState.draft_changed
    )
    role = role_reason()
    review = blocked_button(
        "Review and apply…",
        blocked=first_reason(
            (role != "", role),
            (ModelState.busy, "A change is being applied: wait until every replica serves it."),
            (~ChangeState.draft_changed, "Change a share first: this is the split in force."),
            (ChangeState.draft_problem != "", ChangeState.draft_problem),
        ),
        on_click=ChangeState.ask_split,
        id="apply-split",
    )
    return rx.hstack(reset, review, spacing="3")


def split_panel() -> rx.Component:
    return card(
        "Traffic split",
        "Shares are whole percents; changing one moves the difference to the others.",
        _shares(),
        _totals(),
        _preview(),
        _apply(),
    )
