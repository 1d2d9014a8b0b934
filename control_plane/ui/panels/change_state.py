"""State of a change to a model's traffic: the split editor's draft, the change waiting in the
confirmation dialog, and applying it (deploy, promote, split, roll back) while following its
rollout. The versions table, the split editor, the header and the dialog all use it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import reflex as rx
from sqlmodel import Session

from control_plane.domain import traffic
from control_plane.domain.convergence import Rollout, rollout
from control_plane.schemas import DeploymentPublic, Principal
from control_plane.services import deployments, registry
from control_plane.ui import calls, context
from control_plane.ui.pages.model_state import ModelState
from control_plane.ui.views import regressions
from control_plane.ui.views.catalog import ShareRow, deployed_line
from control_plane.ui.views.colors import version_color

ROLLOUT_DEADLINE_S = 120.0
ROLLOUT_POLL_S = 0.25
Metrics = dict[str, dict[str, float]]

VERBS = {
    "deploy": "Deployed",
    "promote": "Promoted on",
    "rollback": "Rolled back",
    "split": "New traffic split on",
}


def _apply(
    name: str, kind: str, weights: dict[str, int], reason: str
) -> Callable[[Session, Principal], DeploymentPublic]:
    """The change as the REST API makes it: the same service call, the same audit event."""

    def work(session: Session, principal: Principal) -> DeploymentPublic:
        if kind == "rollback":
            return deployments.rollback(session, principal, name, reason=reason)
        if kind == "deploy":
            (version,) = weights
            return deployments.deploy(session, principal, name, version, reason=reason)
        action = "promote" if kind == "promote" else "deployment.set"
        return deployments.set_weights(
            session, principal, name, weights, reason=reason, action=action
        )

    return work


def _declared(name: str, labels: list[str]) -> Callable[[Session, Principal], Metrics]:
    """The metrics each of `labels` declared in its pier.yaml."""
    return lambda s, _p: {v: registry.get_version(s, name, v).metrics for v in labels}


def _share_rows(rows: list[tuple[str, int, int]], seqs: dict[str, int]) -> list[ShareRow]:
    """(version, weight, before) as rows in the version's colour."""
    return [
        ShareRow(version=v, color=version_color(seqs.get(v, 0)), weight=w, before=b)
        for v, w, b in rows
    ]


class ChangeState(ModelState):
    # The split editor.
    draft: dict[str, int] = {}
    # The change waiting for confirmation.
    pending_kind: str = ""
    pending_title: str = ""
    pending_weights: dict[str, int] = {}
    pending_before: dict[str, int] = {}
    pending_problem: str = ""
    # What the change makes worse by the versions' declared metrics, and the user's tick.
    pending_regressions: list[str] = []
    regression_ack: bool = False
    reason: str = ""

    @rx.var
    def draft_rows(self) -> list[ShareRow]:
        ordered = sorted(self.draft.items(), key=self._editor_order)
        return _share_rows([(v, w, self.weights.get(v, 0)) for v, w in ordered], self.seqs)

    def _editor_order(self, vw: tuple[str, int]) -> tuple[int, str]:
        """Serving versions first, heaviest first: rows do not jump while a share is dragged."""
        return (-self.weights.get(vw[0], 0), vw[0])

    @rx.var
    def draft_problem(self) -> str:
        return traffic.problem(self.draft) if self.draft else ""

    @rx.var
    def draft_total(self) -> int:
        return sum(self.draft.values())

    @rx.var
    def draft_changed(self) -> bool:
        clean = {v: w for v, w in self.draft.items() if w > 0}
        return bool(self.draft) and clean != self.weights

    @rx.var
    def addable(self) -> list[str]:
        return [label for label in self.labels if label not in self.draft]

    @rx.var
    def pending_rows(self) -> list[ShareRow]:
        changes = traffic.diff(self.pending_before, self.pending_weights)
        return _share_rows([(c.version, c.after, c.before) for c in changes], self.seqs)

    def _follow(self, weights: dict[str, int]) -> None:
        """The server's new weights: the draft follows them unless the user is editing."""
        if not self.draft or self.draft == self.weights:
            self.draft = dict(weights)

    # ---- the split editor ---------------------------------------------------------------
    @rx.event
    def edit_share(self, version: str, value: str | int | float | list[float]) -> None:
        if isinstance(value, list):
            value = value[0] if value else 0
        try:
            percent = int(float(value))
        except ValueError:
            return  # a half-typed number: keep the last valid split
        self.draft = traffic.set_share(self.draft, version, percent)

    @rx.event
    def add_to_split(self, version: str) -> None:
        if version and version not in self.draft:
            self.draft = {**self.draft, version: 0}

    @rx.event
    def remove_from_split(self, version: str) -> None:
        if len(self.draft) > 1:
            self.draft = traffic.remove(self.draft, version)

    @rx.event
    def reset_split(self) -> None:
        self.draft = dict(self.weights)

    # ---- asking for confirmation -----------------------------------------------------------
    def _ask(self, kind: str, title: str, weights: dict[str, int]) -> None:
        self.pending_kind = kind
        self.pending_title = title
        self.pending_before = dict(self.weights)
        self.pending_weights = weights
        self.pending_problem = ""
        self.pending_regressions = []
        self.regression_ack = False
        self.reason = ""

    async def _ask_checked(self, kind: str, title: str, weights: dict[str, int]) -> Any:
        """Ask, with what the change makes worse by the declared metrics of its versions."""
        self._ask(kind, title, weights)
        gaining = regressions.gaining(self.pending_before, weights)
        if not gaining:
            return None
        serving = regressions.serving_version(self.pending_before)
        labels = [*gaining, serving] if serving else gaining
        declared = await self._caller().call(
            _declared(self.model, labels), "reading the versions' metrics"
        )
        if isinstance(declared, calls.Failure):
            self.pending_kind = ""
            return declared.effect
        self.pending_regressions = regressions.regressions(self.pending_before, weights, declared)
        return None

    @rx.event
    async def ask_deploy(self, version: str) -> Any:
        title = f"Deploy {version}: all traffic of {self.model}"
        return await self._ask_checked("deploy", title, {version: 100})

    @rx.event
    async def ask_promote(self, version: str) -> Any:
        title = f"Promote {version} to all traffic of {self.model}"
        return await self._ask_checked("promote", title, {version: 100})

    @rx.event
    def ask_rollback(self) -> None:
        self._ask("rollback", f"Roll back {self.model}", dict(self.previous))

    @rx.event
    async def ask_split(self) -> Any:
        problem = traffic.problem(self.draft)
        if problem:
            return rx.toast.error(problem)
        clean = {v: w for v, w in self.draft.items() if w > 0}
        title = f"Apply the new traffic split of {self.model}"
        return await self._ask_checked("split", title, clean)

    @rx.event
    def set_reason(self, value: str) -> None:
        self.reason = value

    @rx.event
    def set_regression_ack(self, checked: bool) -> None:
        self.regression_ack = checked

    @rx.var
    def confirm_blocked(self) -> bool:
        """A problem, or a regression not yet acknowledged, keeps Confirm disabled."""
        return bool(self.pending_problem) or (
            bool(self.pending_regressions) and not self.regression_ack
        )

    @rx.event
    def cancel(self) -> None:
        self.pending_kind = ""

    def _start(self, text: str) -> None:
        """The dialog closes and the progress bar opens."""
        self.pending_kind = ""
        self.busy = True
        self.progress_value = 0
        self.progress_text = text

    # ---- applying ------------------------------------------------------------------------
    @rx.event(background=True)
    async def confirm(self) -> Any:
        """Apply the pending change, then follow it until every replica serves it."""
        async with self:
            if not self.pending_kind or self.confirm_blocked or self.busy:
                return
            kind, weights, reason = self.pending_kind, dict(self.pending_weights), self.reason
            caller, name = self._caller(), self.model
            self._start("Saving the change…")
        dep = await caller.call(_apply(name, kind, weights, reason), "applying the change")
        if isinstance(dep, calls.Failure):
            async with self:
                self.busy = False
            yield dep.effect
            return
        summary = f"{VERBS.get(kind, 'Changed')} {name}: {deployed_line(dep.weights)}"
        state = await self._follow_rollout(name, dep.revision)
        async with self:
            self.busy = False
            self.draft = dict(dep.weights)
        if state.done:
            yield rx.toast.success(f"{summary}. {state.describe()}", duration=8000)
        elif state.live == 0:
            yield rx.toast.warning(f"{summary}. {state.describe()}", duration=10000)
        else:
            yield rx.toast.warning(
                f"{summary}, but after {ROLLOUT_DEADLINE_S:.0f} s {state.describe()}",
                duration=15000,
            )
        async with self:
            await self._refresh_now()

    async def _follow_rollout(self, name: str, revision: int) -> Rollout:
        """Show the rollout's progress until it is done, no replica is live, or the deadline."""
        ctx = context.get()
        deadline = time.monotonic() + ROLLOUT_DEADLINE_S
        while True:
            state = rollout(name, revision, ctx.replicas.all(), datetime.now(UTC), ctx.stale_after)
            async with self:
                self.progress_value = round(state.fraction * 100)
                self.progress_text = state.describe()
            if state.done or state.live == 0 or time.monotonic() > deadline:
                return state
            await asyncio.sleep(ROLLOUT_POLL_S)
