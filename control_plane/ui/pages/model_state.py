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

from control_plane.domain import traffic
from control_plane.domain.convergence import cluster_line, rollout
from control_plane.domain.health import judge
from control_plane.errors import InvalidRequest, NotFound, Unauthenticated
from control_plane.schemas import AuditEventPublic, DeploymentPublic, ModelMetrics, Principal
from control_plane.services import audit, canaries, deployments, experiments, monitoring, registry
from control_plane.services.canaries import CanaryCreate, CanaryPublic
from control_plane.services.experiments import ExperimentPublic
from control_plane.services.routing_events import announce_on_commit
from control_plane.ui import actions, context, metrics_feed
from control_plane.ui.context import UiContext
from control_plane.ui.session_state import SessionState
from control_plane.ui.views import charts
from control_plane.ui.views import health as health_view
from control_plane.ui.views.catalog import (
    HEALTH_COLORS,
    Chip,
    ShareRow,
    VersionRow,
    deployed_line,
    version_row,
)
from control_plane.ui.views.colors import color_map, version_color
from control_plane.ui.views.experiment import (
    NO_CANARY,
    CanaryView,
    ExperimentRow,
    TimelineRow,
    VerdictRow,
    canary_view,
    experiment_rows,
    parse_interval,
    parse_steps,
    timeline_rows,
    verdict_rows,
)
from control_plane.ui.views.replicas import ReplicaHistory, read_history, replicas_figure

PAGE_SIZE = 10
TICK_S = 1.0
"""The charts and the deployment refresh this often while the page is open."""
VERSIONS_EVERY = 5
"""...and the versions table every this many ticks (it changes only on a push)."""
ROLLOUT_DEADLINE_S = 120.0
ROLLOUT_POLL_S = 0.25
LABELS_IN_PICKER = 100
TIMELINE_EVENTS = 200
"""Recent audit events of the model read for the canary timeline (canary.* kept)."""

VERBS = {
    "deploy": "Deployed",
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
class ExperimentView:
    experiment: ExperimentPublic | None
    canary: CanaryPublic | None
    timeline: list[AuditEventPublic]


def _read_experiment(
    ctx: UiContext, session: Session, name: str, window_s: int, now: datetime
) -> ExperimentView:
    """The experiment of the live versions (None while fewer than two serve), the latest
    canary and the canary entries of the audit log."""
    experiment = None
    try:
        dep = deployments.get_deployment(session, name)
        if sum(1 for w in dep.weights.values() if w > 0) > 1 or dep.shadow:
            source = monitoring.source_for(ctx.settings, ctx.replicas)
            experiment = experiments.experiment(session, source, name, window_s, now)
    except NotFound:
        pass  # not deployed: nothing to compare
    latest = canaries.list_canaries(session, name, limit=1)
    events = audit.list_events(session, model=name, limit=TIMELINE_EVENTS)
    return ExperimentView(
        experiment=experiment,
        canary=latest[0] if latest else None,
        timeline=[e for e in events if e.action.startswith("canary.")],
    )


@dataclass(frozen=True)
class Tick:
    view: ModelView
    metrics: ModelMetrics | None
    metrics_note: str
    experiment: ExperimentView | None = None
    replicas: ReplicaHistory | None = None


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
    view, experiment, replicas = actions.run_as(
        ctx,
        token,
        lambda s, _p: (
            _read_view(s, name, vpage, series_labels),
            _read_experiment(ctx, s, name, r.window_s, now),
            read_history(s, name, ctx.replicas.all(), now, r.window_s, ctx.stale_after),
        ),
    )
    return Tick(
        view=view, metrics=metrics, metrics_note=note, experiment=experiment, replicas=replicas
    )


def start_canary(
    ctx: UiContext, token: str, name: str, body: CanaryCreate, now: datetime
) -> CanaryPublic:
    """A progressive canary as `POST /api/v1/models/{name}/canaries` starts it."""

    def work(session: Session, principal: Principal) -> CanaryPublic:
        announce_on_commit(session, ctx.announcer)
        return canaries.start_canary(session, principal, name, body, now)

    return actions.run_as(ctx, token, work)


def control_canary(
    ctx: UiContext, token: str, name: str, action: str, now: datetime
) -> CanaryPublic:
    """Pause, resume or abort, as `POST .../canaries/current/{action}` does."""

    def work(session: Session, principal: Principal) -> CanaryPublic:
        announce_on_commit(session, ctx.announcer)
        return canaries.control(session, principal, name, action, now)

    return actions.run_as(ctx, token, work)


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
        action = "promote" if kind == "promote" else "deployment.set"
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
    shadow: dict[str, int] = {}
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
    canary_baseline: str = ""
    canary_steps: str = "5,25,50,100"
    canary_interval: str = "60"
    reason: str = ""
    # A change being applied and rolled out.
    busy: bool = False
    progress_text: str = ""
    progress_value: int = 0
    # Charts.
    range_key: str = "5m"
    metrics: ModelMetrics | None = None
    metrics_note: str = ""
    replica_history: ReplicaHistory | None = None
    cluster_rollout: str = ""
    # The experiment and the canary timeline.
    experiment_rows: list[ExperimentRow] = []
    verdicts: list[VerdictRow] = []
    latency_method: str = ""
    canary: CanaryView = NO_CANARY
    timeline: list[TimelineRow] = []
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
    def replicas_chart(self) -> go.Figure:
        return replicas_figure(self.replica_history)

    @rx.var
    def latency_chart(self) -> go.Figure:
        return charts.latency_figure(self.metrics, self.colors)

    @rx.var
    def rps_chart(self) -> go.Figure:
        return charts.rps_figure(self.metrics, self.colors)

    @rx.var
    def error_chart(self) -> go.Figure:
        return charts.error_figure(self.metrics, self.colors)

    @rx.var
    def accuracy_chart(self) -> go.Figure:
        return charts.accuracy_figure(self.metrics, self.colors)

    @rx.var
    def error_types(self) -> list[health_view.ErrorTypeRow]:
        return health_view.error_type_rows(self.metrics, self.colors)

    @rx.var
    def replica_usage(self) -> list[health_view.ReplicaRow]:
        return health_view.replica_rows(self.metrics)

    # ---- reading ----------------------------------------------------------------------
    def _show(self, tick: Tick) -> None:
        view = tick.view
        dep = view.deployment
        new_weights = dict(dep.weights) if dep else {}
        if not self.draft or self.draft == self.weights:
            self.draft = dict(new_weights)  # follow the server unless the user is editing
        self.weights = new_weights
        self.previous = dict(dep.previous or {}) if dep else {}
        self.shadow = dict(dep.shadow) if dep else {}
        self.revision = dep.revision if dep else 0
        self.seqs = {**self.seqs, **view.seqs}
        if view.rows is not None:
            self.versions = view.rows
            self.vtotal = view.total
            self.labels = view.labels
        self.metrics = tick.metrics
        self.metrics_note = tick.metrics_note
        self.replica_history = tick.replicas
        if tick.experiment is not None:
            e = tick.experiment
            self.experiment_rows = experiment_rows(e.experiment, self.seqs)
            self.verdicts = verdict_rows(e.experiment, self.seqs)
            self.latency_method = e.experiment.latency_method if e.experiment else ""
            self.canary = canary_view(e.canary)
            self.timeline = timeline_rows(e.timeline)
        ctx = context.get()
        now = datetime.now(UTC)
        state = rollout(self.model, self.revision, ctx.replicas.all(), now, ctx.stale_after)
        self.cluster_rollout = cluster_line(ctx.rollouts(), self.model)
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
            reason=self.reason,
        )

    def _preview_canary(self) -> None:
        try:
            first = parse_steps(self.canary_steps)[0]
            parse_interval(self.canary_interval)
        except InvalidRequest as e:
            self.pending_problem = actions.describe(e, "preparing a canary")
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

    @rx.event(background=True)
    async def start_canary(self) -> Any:
        """Start the progressive canary through the canary service, as the signed-in user."""
        async with self:
            if self.pending_kind != "canary" or self.pending_problem or self.busy:
                return
            try:
                body = self._canary_body()
            except InvalidRequest as e:
                self.pending_problem = actions.describe(e, "preparing a canary")
                return
            token, name = self.session_token, self.model
            self.pending_kind = ""
            self.busy = True
            self.progress_value = 0
            self.progress_text = "Starting the canary…"
        try:
            started = await asyncio.to_thread(
                start_canary, context.get(), token, name, body, datetime.now(UTC)
            )
        except Exception as e:
            async with self:
                self.busy = False
                redirect = self._to_sign_in() if isinstance(e, Unauthenticated) else None
            yield redirect or rx.toast.error(actions.describe(e, "starting the canary"))
            return
        async with self:
            self.busy = False
            self.canary = canary_view(started)
        yield rx.toast.success(
            f"Canary started on {name}: {started.canary} at {started.weight} %, "
            f"then every {started.interval_s:g} s if its gates pass",
            duration=8000,
        )
        async with self:
            await self._refresh_now()

    @rx.event(background=True)
    async def control_canary(self, action: str) -> Any:
        """Pause, resume or abort the canary in progress."""
        async with self:
            if self.busy:
                return
            token, name = self.session_token, self.model
        try:
            done = await asyncio.to_thread(
                control_canary, context.get(), token, name, action, datetime.now(UTC)
            )
        except Exception as e:
            redirect = None
            if isinstance(e, Unauthenticated):
                async with self:
                    redirect = self._to_sign_in()
            yield redirect or rx.toast.error(actions.describe(e, f"trying to {action} the canary"))
            return
        async with self:
            self.canary = canary_view(done)
        yield rx.toast.success(f"Canary of {done.canary} on {name}: {done.last_reason}")
        async with self:
            await self._refresh_now()

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
