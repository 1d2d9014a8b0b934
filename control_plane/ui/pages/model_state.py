"""State of a model's page: versions, the traffic split, changes with their rollout, charts."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import plotly.graph_objects as go
import reflex as rx
from sqlmodel import Session

from control_plane.errors import InvalidRequest, NotFound, Unauthenticated
from control_plane.metrics.base import ModelMetrics
from control_plane.schemas import DeploymentPublic, Principal
from control_plane.services import deployments, registry, traffic
from control_plane.services.model_health import judge
from control_plane.services.rollout import rollout
from control_plane.services.routing_events import announce_on_commit
from control_plane.ui import actions, charts, context, metrics_feed
from control_plane.ui.catalog_view import (
    HEALTH_COLORS,
    Chip,
    ShareRow,
    VersionRow,
    deployed_line,
    version_row,
)
from control_plane.ui.colors import color_map, version_color
from control_plane.ui.context import UiContext
from control_plane.ui.session_state import SessionState

PAGE_SIZE = 10
TICK_S = 1.0
"""The charts and the deployment refresh this often while the page is open."""
VERSIONS_EVERY = 5
"""...and the versions table every this many ticks (it changes only on a push)."""
ROLLOUT_DEADLINE_S = 120.0
ROLLOUT_POLL_S = 0.25
LABELS_IN_PICKER = 100

VERBS = {
    "deploy": "Deployed",
    "canary": "Canary started on",
    "promote": "Promoted on",
    "rollback": "Rolled back",
    "split": "New traffic split on",
}


def model_from_path(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    return parts[1] if len(parts) >= 2 and parts[0] == "models" else ""


@dataclass(frozen=True)
class ModelView:
    deployment: DeploymentPublic | None
    rows: list[VersionRow] | None
    total: int
    labels: list[str]
    seqs: dict[str, int]


def _read_view(
    session: Session, name: str, vpage: int | None, extra_labels: list[str]
) -> ModelView:
    try:
        dep: DeploymentPublic | None = deployments.get_deployment(session, name)
    except NotFound:
        registry.get_model(session, name)  # a missing model is a 404 for the page
        dep = None
    weights = dep.weights if dep else {}
    rows = None
    total = 0
    labels: list[str] = []
    seqs: dict[str, int] = {}
    if vpage is not None:
        versions = registry.list_versions(session, name, limit=PAGE_SIZE, offset=vpage * PAGE_SIZE)
        rows = [version_row(v, weights) for v in versions]
        total = registry.count_versions(session, name)
        recent = registry.list_versions(session, name, limit=LABELS_IN_PICKER)
        labels = [v.version for v in recent]
        seqs = {v.version: v.seq for v in [*recent, *versions]}
    wanted = set(weights) | set(dep.previous or {} if dep else {}) | set(extra_labels)
    wanted -= set(seqs)
    if wanted:
        seqs.update(registry.version_seqs(session, name, sorted(wanted)))
    return ModelView(deployment=dep, rows=rows, total=total, labels=labels, seqs=seqs)


@dataclass(frozen=True)
class Tick:
    view: ModelView
    metrics: ModelMetrics | None
    metrics_note: str


def read_tick(
    ctx: UiContext, token: str, name: str, vpage: int | None, range_key: str, now: datetime
) -> Tick:
    r = charts.time_range(range_key)
    try:
        metrics: ModelMetrics | None = metrics_feed.model_metrics(
            ctx, name, r.window_s, r.step_s, now
        )
        note = ""
    except metrics_feed.MetricsUnavailable as e:
        metrics, note = None, str(e)
    series_labels = [s.version for s in metrics.series] if metrics else []
    view = actions.run_as(ctx, token, lambda s, _p: _read_view(s, name, vpage, series_labels))
    return Tick(view=view, metrics=metrics, metrics_note=note)


def apply_change(
    ctx: UiContext, token: str, name: str, kind: str, weights: dict[str, int], reason: str
) -> DeploymentPublic:
    """The change as the REST API makes it: the same service call, the same audit event."""

    def work(session: Session, principal: Principal) -> DeploymentPublic:
        announce_on_commit(session, ctx.announcer)
        if kind == "rollback":
            return deployments.rollback(session, principal, name, reason=reason)
        if kind == "deploy":
            (version,) = weights
            return deployments.deploy(session, principal, name, version, reason=reason)
        action = {"canary": "canary", "promote": "promote"}.get(kind, "deployment.set")
        return deployments.set_weights(
            session, principal, name, weights, reason=reason, action=action
        )

    return actions.run_as(ctx, token, work)


class ModelState(SessionState):
    model: str = ""
    loaded: bool = False
    missing: str = ""
    error: str = ""
    # The deployment as the server has it.
    weights: dict[str, int] = {}
    previous: dict[str, int] = {}
    revision: int = 0
    seqs: dict[str, int] = {}
    health: str = ""
    health_reason: str = ""
    # The versions table.
    versions: list[VersionRow] = []
    vpage: int = 0
    vtotal: int = 0
    labels: list[str] = []
    # The split editor.
    draft: dict[str, int] = {}
    # The change waiting for confirmation.
    pending_kind: str = ""
    pending_title: str = ""
    pending_weights: dict[str, int] = {}
    pending_before: dict[str, int] = {}
    pending_problem: str = ""
    canary_version: str = ""
    canary_percent: int = 10
    reason: str = ""
    # A change being applied and rolled out.
    busy: bool = False
    progress_text: str = ""
    progress_value: int = 0
    # Charts.
    range_key: str = "5m"
    metrics: ModelMetrics | None = None
    metrics_note: str = ""
    _generation: int = 0

    # ---- derived values -------------------------------------------------------------
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

    @rx.var
    def vpages(self) -> int:
        return max(1, -(-self.vtotal // PAGE_SIZE))

    @rx.var
    def draft_rows(self) -> list[ShareRow]:
        return [
            ShareRow(
                version=v,
                color=version_color(self.seqs.get(v, 0)),
                weight=w,
                before=self.weights.get(v, 0),
            )
            for v, w in sorted(self.draft.items(), key=self._editor_order)
        ]

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
        return [
            ShareRow(
                version=c.version,
                color=version_color(self.seqs.get(c.version, 0)),
                weight=c.after,
                before=c.before,
            )
            for c in traffic.diff(self.pending_before, self.pending_weights)
        ]

    @rx.var
    def latency_chart(self) -> go.Figure:
        return charts.latency_figure(self.metrics, self.colors)

    @rx.var
    def rps_chart(self) -> go.Figure:
        return charts.rps_figure(self.metrics, self.colors)

    @rx.var
    def error_chart(self) -> go.Figure:
        return charts.error_figure(self.metrics, self.colors)

    # ---- reading ----------------------------------------------------------------------
    def _show(self, tick: Tick) -> None:
        view = tick.view
        dep = view.deployment
        new_weights = dict(dep.weights) if dep else {}
        if not self.draft or self.draft == self.weights:
            self.draft = dict(new_weights)  # follow the server unless the user is editing
        self.weights = new_weights
        self.previous = dict(dep.previous or {}) if dep else {}
        self.revision = dep.revision if dep else 0
        self.seqs = {**self.seqs, **view.seqs}
        if view.rows is not None:
            self.versions = view.rows
            self.vtotal = view.total
            self.labels = view.labels
        self.metrics = tick.metrics
        self.metrics_note = tick.metrics_note
        ctx = context.get()
        now = datetime.now(UTC)
        state = rollout(self.model, self.revision, ctx.replicas.all(), now, ctx.stale_after)
        summary = tick.metrics.summary if tick.metrics else []
        requests = sum(s.requests for s in summary)
        error_rate = sum(s.errors for s in summary) / requests if requests else None
        verdict = judge(bool(self.weights), state if self.weights else None, error_rate)
        self.health = verdict.health.value
        self.health_reason = verdict.reason
        self.loaded = True
        self.error = ""

    async def _tick(self, with_versions: bool) -> Tick:
        return await asyncio.to_thread(
            read_tick,
            context.get(),
            self.session_token,
            self.model,
            self.vpage if with_versions else None,
            self.range_key,
            datetime.now(UTC),
        )

    async def _refresh_now(self) -> Any:
        try:
            self._show(await self._tick(with_versions=True))
        except Exception as e:
            return self._fail(e, "reading the model")
        return None

    def _fail(self, e: BaseException, doing: str) -> Any:
        if isinstance(e, Unauthenticated):
            return self._to_sign_in()
        if isinstance(e, NotFound) and not self.loaded:
            self.missing = actions.describe(e, doing)
            return None
        self.error = actions.describe(e, doing)
        return None

    @rx.event(background=True)
    async def watch(self) -> Any:
        """Load the page, then refresh charts and deployment every TICK_S while it is open."""
        async with self:
            self._generation += 1
            generation = self._generation
            self.model = model_from_path(self.router.url.path)
            self.loaded, self.missing, self.error = False, "", ""
            self.metrics, self.seqs, self.draft, self.weights = None, {}, {}, {}
            self.vpage = 0
            token, name, range_key = self.session_token, self.model, self.range_key
        ticks = 0
        while True:
            started = time.monotonic()
            with_versions = ticks % VERSIONS_EVERY == 0
            async with self:
                vpage, range_key = self.vpage, self.range_key
            try:
                tick = await asyncio.to_thread(
                    read_tick,
                    context.get(),
                    token,
                    name,
                    vpage if with_versions else None,
                    range_key,
                    datetime.now(UTC),
                )
                failure: BaseException | None = None
            except Exception as e:
                tick, failure = None, e
            async with self:
                if self._generation != generation:
                    return
                redirect = None
                if tick is not None:
                    self._show(tick)
                elif failure is not None:
                    redirect = self._fail(failure, "reading the model")
                stop = bool(self.missing)
            if redirect is not None:
                yield redirect
                return
            if stop:
                return
            ticks += 1
            await asyncio.sleep(max(0.05, TICK_S - (time.monotonic() - started)))

    @rx.event
    async def set_range(self, key: str | list[str]) -> Any:
        self.range_key = charts.time_range(key if isinstance(key, str) else key[0]).key
        return await self._refresh_now()

    @rx.event
    async def next_versions(self) -> Any:
        if self.vpage + 1 < self.vpages:
            self.vpage += 1
        return await self._refresh_now()

    @rx.event
    async def previous_versions(self) -> Any:
        self.vpage = max(0, self.vpage - 1)
        return await self._refresh_now()

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
        self.reason = ""

    @rx.event
    def ask_deploy(self, version: str) -> None:
        self._ask("deploy", f"Deploy {version}: all traffic of {self.model}", {version: 100})

    @rx.event
    def ask_promote(self, version: str) -> None:
        self._ask("promote", f"Promote {version} to all traffic of {self.model}", {version: 100})

    @rx.event
    def ask_canary(self, version: str) -> Any:
        try:
            weights = traffic.canary(self.weights, version, self.canary_percent)
        except InvalidRequest as e:
            return rx.toast.error(actions.describe(e, "preparing a canary"))
        self.canary_version = version
        self._ask("canary", f"Canary {version} on {self.model}", weights)
        return None

    @rx.event
    def set_canary_percent(self, value: str) -> None:
        try:
            percent = int(float(value))
        except ValueError:
            self.pending_problem = "Enter a whole percent between 1 and 99."
            return
        self.canary_percent = percent
        try:
            self.pending_weights = traffic.canary(self.weights, self.canary_version, percent)
            self.pending_problem = ""
        except InvalidRequest as e:
            self.pending_problem = actions.describe(e, "preparing a canary")

    @rx.event
    def ask_rollback(self) -> None:
        self._ask("rollback", f"Roll back {self.model}", dict(self.previous))

    @rx.event
    def ask_split(self) -> Any:
        problem = traffic.problem(self.draft)
        if problem:
            return rx.toast.error(problem)
        clean = {v: w for v, w in self.draft.items() if w > 0}
        self._ask("split", f"Apply the new traffic split of {self.model}", clean)
        return None

    @rx.event
    def set_reason(self, value: str) -> None:
        self.reason = value

    @rx.event
    def cancel(self) -> None:
        self.pending_kind = ""

    # ---- applying ------------------------------------------------------------------------
    @rx.event(background=True)
    async def confirm(self) -> Any:
        """Apply the pending change, then follow it until every replica serves it."""
        async with self:
            if not self.pending_kind or self.pending_problem or self.busy:
                return
            kind, weights, reason = self.pending_kind, dict(self.pending_weights), self.reason
            token, name = self.session_token, self.model
            self.pending_kind = ""
            self.busy = True
            self.progress_value = 0
            self.progress_text = "Saving the change…"
        ctx = context.get()
        try:
            dep = await asyncio.to_thread(apply_change, ctx, token, name, kind, weights, reason)
        except Exception as e:
            async with self:
                self.busy = False
                redirect = self._to_sign_in() if isinstance(e, Unauthenticated) else None
            yield redirect or rx.toast.error(actions.describe(e, "applying the change"))
            return
        summary = f"{VERBS.get(kind, 'Changed')} {name}: {deployed_line(dep.weights)}"
        deadline = time.monotonic() + ROLLOUT_DEADLINE_S
        while True:
            now = datetime.now(UTC)
            state = rollout(name, dep.revision, ctx.replicas.all(), now, ctx.stale_after)
            async with self:
                self.progress_value = round(state.fraction * 100)
                self.progress_text = state.describe()
            if state.done or state.live == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(ROLLOUT_POLL_S)
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
