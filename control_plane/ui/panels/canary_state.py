"""State of the progressive canary (its plan in the confirmation dialog; start, pause, resume,
abort; its card and timeline) and of the experiment's rows, which the page reads with it.
A canary is a change waiting in the same dialog, hence a substate of ChangeState."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import reflex as rx

from control_plane.errors import InvalidRequest
from control_plane.services import canaries
from control_plane.services.canaries import CanaryCreate
from control_plane.ui import calls, context
from control_plane.ui.pages.model_read import ExperimentView
from control_plane.ui.panels.change_state import ChangeState
from control_plane.ui.views import examples
from control_plane.ui.views.experiment import (
    NO_CANARY,
    NO_NOTES,
    CanaryView,
    EffectRow,
    ExperimentNotes,
    ExperimentRow,
    TimelineRow,
    VerdictRow,
    canary_view,
    default_gates,
    effect_rows,
    experiment_notes,
    experiment_rows,
    parse_gates,
    parse_interval,
    parse_steps,
    timeline_rows,
    verdict_rows,
)


class CanaryState(ChangeState):
    canary_version: str = ""
    canary_baseline: str = ""
    canary_steps: str = "5,25,50,100"
    canary_interval: str = "60"
    canary_gates: dict[str, str] = default_gates()
    canary: CanaryView = NO_CANARY
    timeline: list[TimelineRow] = []
    # The experiment: each live version's figures and each challenger's verdict.
    experiment_rows: list[ExperimentRow] = []
    verdicts: list[VerdictRow] = []
    effects: list[EffectRow] = []
    experiment_notes: ExperimentNotes = NO_NOTES
    feedback_example: str = ""
    latency_method: str = ""

    def _take(self, e: ExperimentView) -> None:
        self.experiment_rows = experiment_rows(e.experiment, self.seqs)
        self.verdicts = verdict_rows(e.experiment, self.seqs)
        self.effects = effect_rows(e.experiment, self.seqs)
        self.experiment_notes = experiment_notes(e.experiment)
        self.feedback_example = examples.feedback_curl(context.settings().inference_url)
        self.latency_method = e.experiment.latency_method if e.experiment else ""
        self.canary = canary_view(e.canary)
        self.timeline = timeline_rows(e.timeline)

    @rx.event
    def ask_canary(self, version: str) -> Any:
        """A progressive canary against the heaviest serving version."""
        if not self.weights:
            return rx.toast.error("Deploy a version first; a canary ramps up beside it.")
        self.canary_version = version
        self.canary_baseline = min(self.weights, key=lambda v: (-self.weights[v], v))
        self._ask(
            "canary",
            f"Progressive canary of {version} on {self.model} (baseline {self.canary_baseline})",
            {},
        )
        self._preview_canary()
        return None

    def _canary_body(self) -> CanaryCreate:
        return CanaryCreate(
            version=self.canary_version,
            baseline=self.canary_baseline,
            steps=parse_steps(self.canary_steps),
            interval_s=parse_interval(self.canary_interval),
            gates=parse_gates(self.canary_gates),
            reason=self.reason,
        )

    def _preview_canary(self) -> None:
        try:
            first = parse_steps(self.canary_steps)[0]
            parse_interval(self.canary_interval)
            parse_gates(self.canary_gates)
        except InvalidRequest as e:
            self.pending_problem = calls.describe(e, "preparing a canary")
            return
        self.pending_problem = ""
        self.pending_weights = (
            {self.canary_version: 100}
            if first == 100
            else {self.canary_baseline: 100 - first, self.canary_version: first}
        )

    @rx.event
    def set_canary_steps(self, value: str) -> None:
        self.canary_steps = value
        self._preview_canary()

    @rx.event
    def set_canary_interval(self, value: str) -> None:
        self.canary_interval = value
        self._preview_canary()

    @rx.event
    def set_canary_gate(self, field: str, value: str) -> None:
        self.canary_gates = {**self.canary_gates, field: value}
        self._preview_canary()

    @rx.event(background=True)
    async def start_canary(self) -> Any:
        """Start the progressive canary through the canary service, as the signed-in user."""
        async with self:
            if self.pending_kind != "canary" or self.pending_problem or self.busy:
                return
            try:
                body = self._canary_body()
            except InvalidRequest as e:
                self.pending_problem = calls.describe(e, "preparing a canary")
                return
            caller, name = self._caller(), self.model
            self._start("Starting the canary…")
        started = await caller.call(
            lambda s, p: canaries.start_canary(s, p, name, body, datetime.now(UTC)),
            "starting the canary",
        )
        async with self:
            self.busy = False
            if not isinstance(started, calls.Failure):
                self.canary = canary_view(started)
        if isinstance(started, calls.Failure):
            yield started.effect
            return
        yield rx.toast.success(
            f"Canary started on {name}: {started.canary} at {started.weight} %, "
            f"then every {started.interval_s:g} s if its gates pass",
            duration=8000,
        )
        async with self:
            await self._refresh_now()

    @rx.event(background=True)
    async def control_canary(self, action: str) -> Any:
        """Resume the canary at once; pause and abort ask first, with a reason for the log."""
        async with self:
            if self.busy:
                return
            if action in ("pause", "abort"):
                after = dict(self.weights)
                if action == "abort":
                    after = {self.canary.baseline: 100}
                title = f"{action.capitalize()} the canary of {self.model}"
                self._ask(f"canary-{action}", title, after)
                return
            caller, name = self._caller(), self.model
        async for effect in self._control(caller, name, action, ""):
            yield effect

    @rx.event(background=True)
    async def confirm_control(self) -> Any:
        """Pause or abort, as the dialog confirmed it, with its reason."""
        async with self:
            kind = self.pending_kind
            if not kind.startswith("canary-") or self.busy:
                return
            action, reason = kind.removeprefix("canary-"), self.reason
            caller, name = self._caller(), self.model
            self.pending_kind = ""
        async for effect in self._control(caller, name, action, reason):
            yield effect

    async def _control(
        self, caller: calls.Caller, name: str, action: str, reason: str
    ) -> AsyncIterator[Any]:
        """As `POST .../canaries/current/{action}` does it: the same service call and audit."""
        source = context.get().metrics()
        done = await caller.call(
            lambda s, p: canaries.control(
                s, p, name, action, datetime.now(UTC), reason, source=source
            ),
            f"trying to {action} the canary",
        )
        if isinstance(done, calls.Failure):
            yield done.effect
            return
        async with self:
            self.canary = canary_view(done)
        yield rx.toast.success(f"Canary of {done.canary} on {name}: {done.last_reason}")
        async with self:
            await self._refresh_now()
