"""The Experiment card's thresholds form: the smallest differences the model's verdicts
declare, saved through the same service call and audit event as
`PUT /api/v1/models/{name}/thresholds`."""

from __future__ import annotations

from typing import Any

import reflex as rx
from pydantic import ValidationError

from control_plane.schemas import ThresholdSettings, ThresholdsPublic, explain
from control_plane.services import experiments
from control_plane.ui import calls
from control_plane.ui.components.basics import muted, row, with_error
from control_plane.ui.components.layout import deployer_button
from control_plane.ui.pages.model_state import ModelState, model_from_path

FIELDS = (
    ("latency_pct", "latency %"),
    ("latency_ms", "and ms"),
    ("accuracy_points", "accuracy points"),
    ("error_points", "error-rate points"),
)


def form_thresholds(values: dict[str, str]) -> ThresholdSettings | dict[str, str]:
    """Pure: the thresholds the form asks for, or a sentence for each field that is wrong."""
    try:
        return ThresholdSettings.model_validate({k: values.get(k, "").strip() for k, _ in FIELDS})
    except ValidationError as e:
        return {p.field: p.message for p in explain(e, model=ThresholdSettings)}


class ThresholdsState(ModelState):
    threshold_form: dict[str, str] = {}
    threshold_errors: dict[str, str] = {}

    def _show_thresholds(self, found: ThresholdsPublic) -> None:
        self.threshold_errors = {}
        self.threshold_form = {k: f"{v:g}" for k, v in found.thresholds.model_dump().items()}

    @rx.event
    def set_threshold(self, field: str, value: str) -> None:
        self.threshold_form = {**self.threshold_form, field: value}

    @rx.event(background=True)
    async def load_thresholds(self) -> Any:
        async with self:
            caller = self._caller()
            name = self.model or model_from_path(self.router.url.path)
        if not name:
            return
        found = await caller.call(
            lambda s, _: experiments.get_thresholds(s, name), "reading the thresholds"
        )
        if isinstance(found, calls.Failure):
            yield found.effect
            return
        async with self:
            self._show_thresholds(found)

    @rx.event(background=True)
    async def save_thresholds(self) -> Any:
        async with self:
            caller, name = self._caller(), self.model
            wanted = form_thresholds(self.threshold_form)
            if isinstance(wanted, dict):
                self.threshold_errors = wanted
        if isinstance(wanted, dict):
            yield rx.toast.error("Thresholds not changed: see the fields marked in red.")
            return
        saved = await caller.call(
            lambda s, p: experiments.set_thresholds(s, p, name, wanted, "from the dashboard"),
            "changing the thresholds",
        )
        if isinstance(saved, calls.Failure):
            yield saved.effect
            return
        async with self:
            self._show_thresholds(saved)
            await self._refresh_now()
        yield rx.toast.success("Thresholds saved: the verdicts use them from now on.")


def _field(key: str, label: str) -> rx.Component:
    field = rx.input(
        value=ThresholdsState.threshold_form[key],
        on_change=lambda v: ThresholdsState.set_threshold(key, v),  # type: ignore[operator]
        width="64px",
        size="1",
        id=f"threshold-{key}",
    )
    labelled = row(rx.text(label, size="1"), field, spacing="1")
    return with_error(labelled, ThresholdsState.threshold_errors[key], f"error-threshold-{key}")


def thresholds_form() -> rx.Component:
    save = deployer_button(
        "Save thresholds",
        allowed=ThresholdsState.can_deploy,
        on_click=ThresholdsState.save_thresholds,
        size="1",
        variant="soft",
        id="thresholds-save",
    )
    return rx.hstack(
        muted("Declare a difference beyond:", size="1"),
        *(_field(k, label) for k, label in FIELDS),
        save,
        spacing="3",
        wrap="wrap",
        align="center",
        on_mount=ThresholdsState.load_thresholds,
        id="thresholds-form",
    )
