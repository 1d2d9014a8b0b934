"""State of a model's page: the model, its deployment and health, and the one loop that
refreshes the whole page. Each panel's state is a substate of this one (ui/panels/)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import reflex as rx

from control_plane.composition import Platform
from control_plane.domain.convergence import cluster_line, rollout
from control_plane.domain.health import judge
from control_plane.errors import NotFound
from control_plane.schemas import ModelMetrics
from control_plane.ui import calls, context
from control_plane.ui.pages.model_read import Tick, read_tick
from control_plane.ui.session_state import SessionState
from control_plane.ui.views.catalog import HEALTH_COLORS, Chip, deployed_line
from control_plane.ui.views.colors import color_map, version_color

if TYPE_CHECKING:
    from control_plane.ui.panels.canary_state import CanaryState
    from control_plane.ui.panels.change_state import ChangeState
    from control_plane.ui.panels.charts import ChartsState
    from control_plane.ui.panels.versions import VersionsState

TICK_S = 1.0
"""The charts and the deployment refresh this often while the page is open."""
VERSIONS_EVERY = 5
"""...and the versions table every this many ticks (it changes only on a push)."""


def model_from_path(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    return parts[1] if len(parts) >= 2 and parts[0] == "models" else ""


class ModelState(SessionState):
    model: str = ""
    loaded: bool = False
    missing: str = ""
    error: str = ""
    # The deployment as the server has it.
    weights: dict[str, int] = {}
    previous: dict[str, int] = {}
    shadow: dict[str, int] = {}
    revision: int = 0
    seqs: dict[str, int] = {}
    labels: list[str] = []
    health: str = ""
    health_reason: str = ""
    cluster_rollout: str = ""
    # A change being applied and rolled out.
    busy: bool = False
    progress_text: str = ""
    progress_value: int = 0
    _generation: int = 0

    @rx.var
    def colors(self) -> dict[str, str]:
        return color_map(self.seqs)

    @rx.var
    def health_color(self) -> str:
        for health, color in HEALTH_COLORS.items():
            if health.value == self.health:
                return color
        return "gray"

    @rx.var
    def deployed(self) -> list[Chip]:
        return [
            Chip(version=v, text=f"{v} · {w}%", color=version_color(self.seqs.get(v, 0)))
            for v, w in sorted(self.weights.items(), key=lambda vw: (-vw[1], vw[0]))
        ]

    @rx.var
    def rollback_to(self) -> str:
        return deployed_line(self.previous) if self.previous else ""

    # ---- the panels' substates ------------------------------------------------------------
    async def _parts(self) -> tuple[VersionsState, ChangeState, CanaryState, ChartsState]:
        """The substates one read fills. Imported here: each of their modules imports this one."""
        from control_plane.ui.panels.canary_state import CanaryState
        from control_plane.ui.panels.change_state import ChangeState
        from control_plane.ui.panels.charts import ChartsState
        from control_plane.ui.panels.versions import VersionsState

        return (
            await self.get_state(VersionsState),
            await self.get_state(ChangeState),
            await self.get_state(CanaryState),
            await self.get_state(ChartsState),
        )

    async def _open(self, name: str) -> None:
        """Start the page of `name` afresh: nothing shown until the first read."""
        versions, change, _, charts = await self._parts()
        self.model = name
        self.loaded, self.missing, self.error = False, "", ""
        self.seqs, self.weights = {}, {}
        versions.vpage = 0
        change.draft = {}
        charts.metrics = None

    # ---- reading ----------------------------------------------------------------------
    async def _reading(self, with_versions: bool) -> Callable[[Platform, str], Tick]:
        """One read of the page, for the versions page and time range it shows now."""
        versions, _, _, charts = await self._parts()
        name, range_key = self.model, charts.range_key
        vpage = versions.vpage if with_versions else None
        return lambda ctx, token: read_tick(ctx, token, name, vpage, range_key, datetime.now(UTC))

    async def _show(self, tick: Tick) -> None:
        """Show one read: the deployment here, the rest in each panel's substate."""
        versions, change, canary, charts = await self._parts()
        view, dep = tick.view, tick.view.deployment
        weights = dict(dep.weights) if dep else {}
        change._follow(weights)  # before self.weights changes: it compares the draft with them
        self.weights = weights
        self.previous = dict(dep.previous or {}) if dep else {}
        self.shadow = dict(dep.shadow) if dep else {}
        self.revision = dep.revision if dep else 0
        self.seqs = {**self.seqs, **view.seqs}
        if view.rows is not None:
            self.labels = view.labels
            versions._take(view)
        charts._take(tick)
        if tick.experiment is not None:
            canary._take(tick.experiment)
        self._judge(tick.metrics)
        self.loaded = True
        self.error = ""

    def _judge(self, metrics: ModelMetrics | None) -> None:
        ctx = context.get()
        now = datetime.now(UTC)
        state = rollout(self.model, self.revision, ctx.replicas.all(), now, ctx.stale_after)
        self.cluster_rollout = cluster_line(ctx.rollouts(), self.model)
        summary = metrics.summary if metrics else []
        requests = sum(s.requests for s in summary)
        error_rate = sum(s.errors for s in summary) / requests if requests else None
        verdict = judge(bool(self.weights), state if self.weights else None, error_rate)
        self.health = verdict.health.value
        self.health_reason = verdict.reason

    def _fail(self, failure: calls.Failure) -> Any:
        """A failed read: the sign-in page, "no such model" before the first read, or the
        sentence above the page."""
        if failure.redirect is not None:
            return failure.redirect
        if isinstance(failure.error, NotFound) and not self.loaded:
            self.missing = failure.message
        else:
            self.error = failure.message
        return None

    async def _refresh_now(self) -> Any:
        """Read and show at once, as after a click, without waiting for the next tick."""
        read = await self._reading(with_versions=True)
        tick = await self._caller().run(read, "reading the model")
        if isinstance(tick, calls.Failure):
            return self._fail(tick)
        await self._show(tick)
        return None

    @rx.event(background=True)
    async def watch(self) -> Any:
        """Load the page, then refresh charts and deployment every TICK_S while it is open."""
        async with self:
            self._generation += 1
            generation = self._generation
            await self._open(model_from_path(self.router.url.path))
            caller = self._caller()
            # Who this is, on every load: a page opened from a sign-in link starts afresh.
            principal = await self._principal()
            to_sign_in = self._to_sign_in() if principal is None else None
        if to_sign_in is not None:
            yield to_sign_in
            return
        ticks = 0
        while True:
            started = time.monotonic()
            async with self:
                read = await self._reading(with_versions=ticks % VERSIONS_EVERY == 0)
            tick = await caller.run(read, "reading the model")
            async with self:
                if self._generation != generation:
                    return
                redirect = None
                if isinstance(tick, calls.Failure):
                    redirect = self._fail(tick)
                else:
                    await self._show(tick)
                stop = bool(self.missing)
            if redirect is not None:
                yield redirect
                return
            if stop:
                return
            ticks += 1
            await asyncio.sleep(max(0.05, TICK_S - (time.monotonic() - started)))
