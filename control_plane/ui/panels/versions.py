"""The model page's Versions card: every version, newest first, a page at a time, each with
its Deploy, Canary… and Promote buttons; and the paging state behind it."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from control_plane.ui.components.basics import muted
from control_plane.ui.components.card import card
from control_plane.ui.components.layout import (
    blocked_button,
    deployer_button,
    first_reason,
    role_reason,
)
from control_plane.ui.components.pager import page_button, pager
from control_plane.ui.components.table import wide_table
from control_plane.ui.components.versions import version_label
from control_plane.ui.pages.model_read import PAGE_SIZE, ModelView
from control_plane.ui.pages.model_state import ModelState
from control_plane.ui.panels.canary_state import CanaryState
from control_plane.ui.panels.change_state import ChangeState
from control_plane.ui.views.catalog import VersionRow

_COLUMNS = (
    "Version",
    "Created",
    "By",
    "SHA-256",
    "Format",
    "Size",
    "Inputs → outputs",
    "Training metrics",
    "Traffic",
    "",
)


class VersionsState(ModelState):
    versions: list[VersionRow] = []
    vpage: int = 0
    vtotal: int = 0

    @rx.var
    def vpages(self) -> int:
        return max(1, -(-self.vtotal // PAGE_SIZE))

    def _take(self, view: ModelView) -> None:
        self.versions = view.rows or []
        self.vtotal = view.total

    @rx.event
    async def next_versions(self) -> Any:
        if self.vpage + 1 < self.vpages:
            self.vpage += 1
        return await self._refresh_now()

    @rx.event
    async def previous_versions(self) -> Any:
        self.vpage = max(0, self.vpage - 1)
        return await self._refresh_now()


BUSY = "A change is being applied: wait until every replica serves it."


def _deploy_blocked(v: Any) -> rx.Var[str]:
    role = role_reason()
    return first_reason(
        (role != "", role),
        (ModelState.busy, BUSY),
        (v.weight == 100, f"{v.version} already takes all of the traffic."),
    )


def _canary_blocked(v: Any) -> rx.Var[str]:
    role = role_reason()
    serving: Any = ModelState.weights
    return first_reason(
        (role != "", role),
        (ModelState.busy, BUSY),
        (serving.length() == 0, "Nothing serves yet: deploy a version, then ramp the next up."),
        (CanaryState.canary.active, "A canary is already running: pause, abort or let it end."),
        (
            v.weight != 0,
            f"A canary ramps a version up from 0 %; {v.version} takes {v.traffic} now. "
            "Set it to 0 % in the split first.",
        ),
    )


def _version_row(v: ObjectVar[VersionRow]) -> rx.Component:
    allowed = ModelState.can_deploy & ~ModelState.busy
    return rx.table.row(
        rx.table.row_header_cell(version_label(v.version, v.color)),
        rx.table.cell(v.created_at, white_space="nowrap"),
        rx.table.cell(v.created_by),
        rx.table.cell(rx.code(v.short_sha, size="1"), title=v.sha256),
        rx.table.cell(v.format),
        rx.table.cell(v.size, white_space="nowrap"),
        rx.table.cell(rx.text(v.inputs, " → ", v.outputs, size="1")),
        rx.table.cell(rx.text(v.metrics, size="1")),
        rx.table.cell(rx.text(v.traffic, weight="bold")),
        rx.table.cell(
            rx.hstack(
                blocked_button(
                    "Deploy",
                    blocked=_deploy_blocked(v),
                    size="1",
                    on_click=ChangeState.ask_deploy(v.version),  # type: ignore[operator]
                    id=f"deploy-{v.version}",
                ),
                blocked_button(
                    "Canary…",
                    blocked=_canary_blocked(v),
                    size="1",
                    variant="soft",
                    on_click=CanaryState.ask_canary(v.version),  # type: ignore[operator]
                    id=f"canary-{v.version}",
                ),
                rx.cond(
                    (v.weight > 0) & (v.weight < 100),  # type: ignore[operator]
                    deployer_button(
                        "Promote",
                        allowed=allowed,
                        variant="soft",
                        color_scheme="green",
                        on_click=ChangeState.ask_promote(v.version),  # type: ignore[operator]
                        id=f"promote-{v.version}",
                    ),
                ),
                spacing="2",
            )
        ),
        align="center",
        id=f"version-{v.version}",
    )


def _pager() -> rx.Component:
    page, pages = VersionsState.vpage, VersionsState.vpages
    return pager(
        muted("Page ", page + 1, " of ", pages, size="1"),
        page_button("Newer", disabled=page == 0, on_click=VersionsState.previous_versions),
        page_button("Older", disabled=page + 1 >= pages, on_click=VersionsState.next_versions),
    )


def versions_panel() -> rx.Component:
    return card(
        "Versions",
        (VersionsState.vtotal, " in all, newest first"),
        wide_table(_COLUMNS, VersionsState.versions, _version_row, id="versions"),
        _pager(),
    )
