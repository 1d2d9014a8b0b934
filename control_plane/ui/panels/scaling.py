"""The model page's Scaling card: the autoscaling settings in one sentence, and a form for the
bounds, the target and the scale-down window, saved through the same service call and audit
event as `PUT /api/v1/models/{name}/scaling` (which wakes the autoscalers the same way)."""

from __future__ import annotations

from typing import Any

import reflex as rx
from pydantic import ValidationError

from control_plane.schemas import ScalingPublic, ScalingSettings, beside, explain
from control_plane.services import scaling
from control_plane.ui import calls
from control_plane.ui.components.basics import row, with_error
from control_plane.ui.components.card import card
from control_plane.ui.components.layout import deployer_button
from control_plane.ui.pages.model_state import ModelState, model_from_path
from control_plane.ui.setters import setter

METRICS = ["inflight", "rps", "cpu"]
_METRIC_WORDS = {
    "inflight": "requests in flight per replica",
    "rps": "requests per second per replica",
    "cpu": "% CPU",
}


def describe(s: ScalingSettings, custom: bool) -> str:
    """Pure: the settings in one sentence, as the card shows them."""
    if s.target_metric == "cpu":
        target = f"{s.target_cpu_utilization} % CPU"
    else:
        target = f"{s.target_value:g} {_METRIC_WORDS[s.target_metric]}"
    origin = "" if custom else " (the defaults)"
    return (
        f"{s.min_replicas}-{s.max_replicas} replicas, aiming at {target}; scale down after "
        f"{s.scale_down.stabilization_window_s} s of lower load{origin}."
    )


# Where each setting's problem is shown: the form input that sets it.
INPUTS = {
    "min_replicas": "min",
    "max_replicas": "max",
    "target_metric": "metric",
    "target_cpu_utilization": "target",
    "target_value": "target",
    "scale_down.stabilization_window_s": "window",
}


class FormRefused(ValueError):
    """The form's fields make no settings; `problems` holds each sentence by its input."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(" ".join(problems.values()))
        self.problems = problems


def form_settings(
    current: ScalingSettings, lo: str, hi: str, metric: str, target: str, window: str
) -> ScalingSettings:
    """Pure: the settings the form asks for, on top of the current ones (the policies and the
    scale-up rules are kept). Raises FormRefused, a sentence for each input that is wrong."""
    data = current.model_dump()
    data.update(min_replicas=lo.strip(), max_replicas=hi.strip(), target_metric=metric)
    if metric == "cpu":
        data["target_cpu_utilization"], data["target_value"] = target.strip(), None
    else:
        data["target_value"] = target.strip()
    data["scale_down"]["stabilization_window_s"] = window.strip()
    try:
        return ScalingSettings.model_validate(data)
    except ValidationError as e:
        raise FormRefused(beside(explain(e, model=ScalingSettings), INPUTS)) from None


class ScalingState(ModelState):
    scaling_text: str = ""
    scaling_json: dict[str, Any] = {}
    scaling_custom: bool = False
    form_min: str = ""
    form_max: str = ""
    form_metric: str = "inflight"
    form_target: str = ""
    form_window: str = ""
    scaling_errors: dict[str, str] = {}
    set_form_min = setter("form_min")
    set_form_max = setter("form_max")
    set_form_metric = setter("form_metric")
    set_form_target = setter("form_target")
    set_form_window = setter("form_window")

    def _show_scaling(self, found: ScalingPublic) -> None:
        s = found.scaling
        self.scaling_errors = {}
        self.scaling_json = s.model_dump(mode="json")
        self.scaling_custom = found.custom
        self.scaling_text = describe(s, found.custom)
        self.form_min, self.form_max = str(s.min_replicas), str(s.max_replicas)
        self.form_metric = s.target_metric
        target = s.target_cpu_utilization if s.target_metric == "cpu" else s.target_value
        self.form_target = f"{target:g}" if isinstance(target, float) else str(target)
        self.form_window = str(s.scale_down.stabilization_window_s)

    @rx.event(background=True)
    async def load_scaling(self) -> Any:
        async with self:
            caller = self._caller()
            name = self.model or model_from_path(self.router.url.path)
        if not name:
            return
        found = await caller.call(
            lambda session, _: scaling.get_scaling(session, name), "reading the scaling settings"
        )
        if isinstance(found, calls.Failure):
            yield found.effect
            return
        async with self:
            self._show_scaling(found)

    @rx.event(background=True)
    async def save_scaling(self) -> Any:
        async with self:
            caller, name = self._caller(), self.model
            current = ScalingSettings.model_validate(self.scaling_json or {})
            form = (self.form_min, self.form_max, self.form_metric)
            rest = (self.form_target, self.form_window)
        try:
            wanted = form_settings(current, *form, *rest)
        except FormRefused as e:
            async with self:
                self.scaling_errors = e.problems
            yield rx.toast.error("Scaling not changed: see the fields marked in red.")
            return
        async with self:
            self.scaling_errors = {}
        saved = await caller.call(
            lambda s, p: scaling.set_scaling(s, p, name, wanted, reason="from the dashboard"),
            "changing the scaling settings",
        )
        if isinstance(saved, calls.Failure):
            yield saved.effect
            return
        async with self:
            self._show_scaling(saved)
        yield rx.toast.success(f"Scaling: {describe(saved.scaling, True)}")


def _problem(field: rx.Component, key: str) -> rx.Component:
    """The field, with the sentence of what is wrong with it under it (id error-scaling-KEY)."""
    return with_error(field, ScalingState.scaling_errors[key], f"error-scaling-{key}")


def _field(label: str, value: Any, on_change: Any, key: str) -> rx.Component:
    field = rx.input(value=value, on_change=on_change, width="70px", size="1", id=f"scaling-{key}")
    return _problem(row(rx.text(label, size="2"), field, spacing="1"), key)


def _form() -> rx.Component:
    """The bounds, the metric and its target, the scale-down window, and Save."""
    metric = rx.select(
        METRICS,
        value=ScalingState.form_metric,
        on_change=ScalingState.set_form_metric,
        size="1",
        id="scaling-metric",
    )
    save = deployer_button(
        "Save",
        allowed=ScalingState.can_deploy,
        on_click=ScalingState.save_scaling,
        id="scaling-save",
    )
    return rx.hstack(
        _field("min", ScalingState.form_min, ScalingState.set_form_min, "min"),
        _field("max", ScalingState.form_max, ScalingState.set_form_max, "max"),
        _problem(metric, "metric"),
        _field("target", ScalingState.form_target, ScalingState.set_form_target, "target"),
        _field(
            "scale-down window (s)",
            ScalingState.form_window,
            ScalingState.set_form_window,
            "window",
        ),
        _problem(save, "form"),
        spacing="3",
        wrap="wrap",
        align="start",
    )


def scaling_panel() -> rx.Component:
    return card(
        "Scaling",
        "local workers and the Kubernetes HPA follow the same settings",
        rx.text(ScalingState.scaling_text, size="2", id="scaling-now"),
        _form(),
        id="scaling",
        on_mount=ScalingState.load_scaling,
    )
