"""The model page's Shadow card: which versions get a mirrored share of the traffic, and a
small form to mirror one (or stop it). The change goes through the same service call and
audit event as `PUT /api/v1/models/{name}/shadow`."""

from __future__ import annotations

from typing import Any

import reflex as rx
from pydantic import BaseModel

from control_plane.services import deployments
from control_plane.ui import calls
from control_plane.ui.components.basics import if_any, row
from control_plane.ui.components.card import card
from control_plane.ui.components.layout import deployer_button, guarded_button
from control_plane.ui.pages.model_state import ModelState
from control_plane.ui.setters import setter


class ShadowChip(BaseModel):
    version: str
    text: str


def parse_percent(text: str) -> int | None:
    """A whole percent 1-100 from the form, None when it is not one."""
    value = text.strip().rstrip("%").strip()
    if not value.isdigit() or not 1 <= int(value) <= 100:
        return None
    return int(value)


class ShadowState(ModelState):
    shadow_version: str = ""
    shadow_percent: str = "10"
    set_shadow_version = setter("shadow_version")
    set_shadow_percent = setter("shadow_percent")

    @rx.var
    def shadow_chips(self) -> list[ShadowChip]:
        return [
            ShadowChip(version=v, text=f"{v} · {p}% mirrored")
            for v, p in sorted(self.shadow.items(), key=lambda vp: (-vp[1], vp[0]))
        ]

    @rx.var
    def shadow_candidates(self) -> list[str]:
        """Versions that may shadow: registered and taking no live traffic."""
        return [v for v in self.labels if self.weights.get(v, 0) == 0]

    async def _apply(self, wanted: dict[str, int], done: str) -> Any:
        """The new shadow, through the same service call as `PUT .../shadow`."""
        async with self:
            caller, name = self._caller(), self.model
        dep = await caller.call(
            lambda session, principal: deployments.set_shadow(
                session, principal, name, wanted, reason=""
            ),
            "changing the shadow",
        )
        if isinstance(dep, calls.Failure):
            return dep.effect
        async with self:
            self.shadow = dict(dep.shadow)
        return rx.toast.success(f"{done} (revision {dep.revision})")

    @rx.event(background=True)
    async def mirror(self) -> Any:
        async with self:
            version, text, current = self.shadow_version, self.shadow_percent, dict(self.shadow)
        percent = parse_percent(text)
        if not version:
            yield rx.toast.error("Pick the version that should shadow the live traffic.")
            return
        if percent is None:
            yield rx.toast.error(f"The share mirrored is a whole percent 1-100, not {text!r}.")
            return
        yield await self._apply(
            {**current, version: percent}, f"{version} now gets {percent} % of the requests"
        )

    @rx.event(background=True)
    async def stop(self, version: str) -> Any:
        async with self:
            current = dict(self.shadow)
        current.pop(version, None)
        yield await self._apply(current, f"{version} no longer shadows the traffic")


def _chip(c: rx.Var[ShadowChip]) -> rx.Component:
    chip: Any = c
    stop = guarded_button(
        "Stop",
        allowed=ShadowState.can_deploy,
        reason="Only a deployer can change the shadow",
        size="1",
        variant="ghost",
        on_click=ShadowState.stop(chip.version),  # type: ignore[misc]
        id=f"shadow-stop-{chip.version}",
    )
    badge = rx.badge(chip.text, variant="soft", color_scheme="violet")
    return row(badge, stop, spacing="1", class_name="shadow-chip")


def _form() -> rx.Component:
    """A version that takes no live traffic, the share it mirrors, and Mirror."""
    version = rx.select(
        ShadowState.shadow_candidates,
        value=ShadowState.shadow_version,
        on_change=ShadowState.set_shadow_version,
        placeholder="version",
        size="1",
        id="shadow-version",
    )
    percent = rx.input(
        value=ShadowState.shadow_percent,
        on_change=ShadowState.set_shadow_percent,
        width="70px",
        size="1",
        id="shadow-percent",
    )
    mirror = deployer_button(
        "Mirror", allowed=ShadowState.can_deploy, on_click=ShadowState.mirror, id="shadow-mirror"
    )
    return row(version, percent, rx.text("% of requests", size="2"), mirror)


def shadow_panel() -> rx.Component:
    return card(
        "Shadow",
        "copies of live requests; answers recorded and compared, never returned",
        if_any(
            ShadowState.shadow_chips,
            rx.hstack(rx.foreach(ShadowState.shadow_chips, _chip), wrap="wrap", spacing="3"),
            rx.text("No shadow version.", size="2", id="shadow-none"),
        ),
        _form(),
        id="shadow",
    )
