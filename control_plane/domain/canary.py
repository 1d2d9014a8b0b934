"""The progressive canary as a pure state machine: state + analysis + clock -> next step.
The canaries service keeps the state in SQL, so a rollout survives a restart."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from control_plane.domain.analysis import Analysis

Status = Literal["running", "paused", "promoted", "rolled_back", "aborted"]
ACTIVE: tuple[Status, ...] = ("running", "paused")


@dataclass(frozen=True)
class CanaryPlan:
    model: str
    baseline: str
    canary: str
    steps: tuple[int, ...]  # canary weights in percent, rising, ending at 100
    interval: timedelta

    def __post_init__(self) -> None:
        if not self.steps or any(not 0 < s <= 100 for s in self.steps):
            raise ValueError("steps are percents in 1..100, e.g. 5,25,50,100")
        if list(self.steps) != sorted(set(self.steps)):
            raise ValueError(f"steps must rise strictly, got {list(self.steps)}")
        if self.steps[-1] != 100:
            raise ValueError("the last step must be 100 (promotion)")
        if self.baseline == self.canary:
            raise ValueError("the canary must differ from the baseline")
        if self.interval < timedelta(seconds=1):
            raise ValueError("the interval must be at least 1 s")


@dataclass(frozen=True)
class CanaryState:
    plan: CanaryPlan
    status: Status
    step: int  # index into plan.steps of the weight now applied
    step_started_at: datetime

    @property
    def weight(self) -> int:
        return self.plan.steps[self.step]

    def weights(self) -> dict[str, int]:
        w = self.weight
        return (
            {self.plan.canary: w}
            if w == 100
            else {self.plan.baseline: 100 - w, self.plan.canary: w}
        )


@dataclass(frozen=True)
class Decision:
    kind: Literal["wait", "step", "promote", "rollback"]
    state: CanaryState
    reason: str
    weights: dict[str, int] | None = None  # what to apply, when something changes


def start(plan: CanaryPlan, now: datetime) -> CanaryState:
    return CanaryState(plan=plan, status="running", step=0, step_started_at=now)


def _promote(state: CanaryState, reason: str) -> Decision:
    done = replace(state, status="promoted")
    return Decision("promote", done, reason, {state.plan.canary: 100})


def advance(state: CanaryState, analysis: Analysis, now: datetime) -> Decision:
    """What to do now. A failed analysis rolls back at once, whenever it happens; a step
    is taken only once its interval has passed and the analysis passes."""
    plan = state.plan
    if state.status != "running":
        return Decision("wait", state, f"the rollout is {state.status}")
    if analysis.outcome == "fail":
        reason = f"canary {plan.canary} failed at {state.weight} %: {analysis.summary}"
        done = replace(state, status="rolled_back")
        return Decision("rollback", done, reason, {plan.baseline: 100})
    due = now - state.step_started_at >= plan.interval
    if not due:
        left = (plan.interval - (now - state.step_started_at)).total_seconds()
        return Decision("wait", state, f"{left:.0f} s left at {state.weight} %")
    if analysis.outcome == "wait":
        return Decision("wait", state, f"waiting for data at {state.weight} %: {analysis.summary}")
    if state.step + 1 >= len(plan.steps):
        return _promote(state, f"canary {plan.canary} passed every step: {analysis.summary}")
    nxt = replace(state, step=state.step + 1, step_started_at=now)
    if nxt.weight == 100:
        return _promote(nxt, f"canary {plan.canary} promoted to 100 %: {analysis.summary}")
    reason = f"canary {plan.canary} {state.weight} % -> {nxt.weight} %: {analysis.summary}"
    return Decision("step", nxt, reason, nxt.weights())


def pause(state: CanaryState) -> CanaryState:
    if state.status != "running":
        raise ValueError(f"cannot pause a rollout that is {state.status}")
    return replace(state, status="paused")


def resume(state: CanaryState, now: datetime) -> CanaryState:
    if state.status != "paused":
        raise ValueError(f"cannot resume a rollout that is {state.status}")
    # The interval restarts: the analysis window must see traffic at this weight again.
    return replace(state, status="running", step_started_at=now)


def abort(state: CanaryState) -> Decision:
    if state.status not in ACTIVE:
        raise ValueError(f"cannot abort a rollout that is {state.status}")
    return Decision(
        "rollback",
        replace(state, status="aborted"),
        "aborted by a person",
        {state.plan.baseline: 100},
    )
