"""The model page's Scaling card: the autoscaling settings in one sentence, and a form for the
bounds, the target and the scale-down window, saved through the same service call and audit
event as `PUT /api/v1/models/{name}/scaling` (which wakes the autoscalers the same way)."""

from __future__ import annotations

from typing import Any

import reflex as rx
from pydantic import ValidationError

from control_plane.schemas import ScalingPublic, ScalingSettings
from control_plane.services import scaling
from control_plane.ui import calls
from control_plane.ui.components.basics import row
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


def form_settings(
    current: ScalingSettings, lo: str, hi: str, metric: str, target: str, window: str
) -> ScalingSettings:
    """Pure: the settings the form asks for, on top of the current ones (the policies and the
    scale-up rules are kept). Raises ValueError with a sentence for the user."""
    numbers: dict[str, int | float] = {}
    for label, text, kind in (
        ("min replicas", lo, int),
        ("max replicas", hi, int),
        ("scale-down window", window, int),
        ("target", target, float),
    ):
        try:
            numbers[label] = kind(text.strip())
        except ValueError:
            raise ValueError(f"{label} must be a number, not {text!r}") from None
    data = current.model_dump()
    data.update(min_replicas=numbers["min replicas"], max_replicas=numbers["max replicas"])
    data["target_metric"] = metric
    if metric == "cpu":
        data["target_cpu_utilization"] = int(numbers["target"])
        data["target_value"] = None
    else:
        data["target_value"] = numbers["target"]
    data["scale_down"]["stabilization_window_s"] = numbers["scale-down window"]
    try:
        return ScalingSettings.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"{where}: {first['msg']}" if where else first["msg"]) from None


class ScalingState(ModelState):
    scaling_text: str = ""
    scaling_json: dict[str, Any] = {}
    scaling_custom: bool = False
    form_min: str = ""
    form_max: str = ""
    form_metric: str = "inflight"
    form_target: str = ""
    form_window: str = ""
    set_form_min = setter("form_min")
    set_form_max = setter("form_max")
    set_form_metric = setter("form_metric")
    set_form_target = setter("form_target")
    set_form_window = setter("form_window")

    def _show_scaling(self, found: ScalingPublic) -> None:
        s = found.scaling
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
        except ValueError as e:
            yield rx.toast.error(f"Scaling not changed: {e}")
            return
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


def _field(label: str, value: Any, on_change: Any, field_id: str) -> rx.Component:
    field = rx.input(value=value, on_change=on_change, width="70px", size="1", id=field_id)
    return row(rx.text(label, size="2"), field, spacing="1")


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
    return row(
        _field("min", ScalingState.form_min, ScalingState.set_form_min, "scaling-min"),
        _field("max", ScalingState.form_max, ScalingState.set_form_max, "scaling-max"),
        metric,
        _field("target", ScalingState.form_target, ScalingState.set_form_target, "scaling-target"),
        _field(
            "scale-down window (s)",
            ScalingState.form_window,
            ScalingState.set_form_window,
            "scaling-window",
        ),
        save,
        spacing="3",
        wrap="wrap",
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
