"""The loops beside serving: the canary driver and, on Kubernetes, the reconciler, started in
the serving worker (threads do not survive a fork); and the local autoscaler's wiring."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from control_plane.backends.kubernetes.desired import DesiredModel, desired_models
from control_plane.backends.kubernetes.reconciler import Reconciler
from control_plane.backends.kubernetes.settings import KubernetesSettings
from control_plane.backends.local.autoscaler import LocalAutoscaler, Scalable, ScaleChange
from control_plane.composition import Platform
from control_plane.db.engine import session_scope
from control_plane.loops import Loop
from control_plane.schemas import RolloutStatus, ScalingSettings
from control_plane.services import canaries, deployments, scaling
from control_plane.settings import PierSettings

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CanaryDriver(Loop):
    """Advances running canaries every `interval_s` (their state is in SQL)."""

    def __init__(
        self,
        platform: Platform,
        *,
        interval_s: float = 1.0,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._platform = platform
        self._clock = clock
        super().__init__(interval_s, self.tick, "pier-canaries", wait_first=True)

    def tick(self) -> int:
        """One pass; returns how many canaries changed weight."""
        source = self._platform.metrics()
        with self._platform.unit_of_work() as session:
            decisions = canaries.tick(session, source, self._clock())
        for d in decisions:
            log.info("canary %s: %s", d.kind, d.reason)
        return len(decisions)


class Runtime:
    """The platform's loops; on Kubernetes it also answers `platform.rollouts()`."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.canaries = CanaryDriver(platform)
        self.reconciler: Reconciler | None = None
        platform.rollouts = self.rollouts

    def _desired(self, k8s: KubernetesSettings) -> Callable[[], list[DesiredModel]]:
        def read() -> list[DesiredModel]:
            with self.platform.unit_of_work() as session:
                table = deployments.routing_table(session)
                resources = deployments.routed_resources(session, table)
                scaling_settings = scaling.scaling_by_model(session)
            return desired_models(table, resources, scaling_settings, k8s.default_scaling())

        return read

    def start(self) -> None:
        # The metrics source starts with the worker, so charts have history from boot.
        self.platform.metrics().start()
        self.canaries.start()
        if self.platform.settings.orchestrator == "kubernetes" and self.reconciler is None:
            from control_plane.backends.kubernetes.orchestrator import KubernetesOrchestrator

            k8s = KubernetesSettings()
            self.reconciler = Reconciler(
                KubernetesOrchestrator.connect(k8s),
                self._desired(k8s),
                interval_s=k8s.reconcile_interval_s,
                resync_s=k8s.resync_s,
            )
            self.platform.announcer.listen(self.reconciler.wake)
            self.reconciler.start()

    def rollouts(self) -> list[RolloutStatus]:
        return self.reconciler.rollouts() if self.reconciler is not None else []

    def stop(self) -> None:
        self.canaries.stop()
        if self.reconciler is not None:
            self.reconciler.stop()
            self.reconciler = None
        self.platform.close_metrics()


def local_autoscaler(
    settings: PierSettings, workers: Scalable, *, interval_s: float = 5.0
) -> LocalAutoscaler:
    """The local control loop, reading scaling settings from SQL and auditing its changes."""

    def targets() -> dict[str, ScalingSettings]:
        with session_scope(settings) as session:
            return scaling.local_targets(session)

    def record(changes: Sequence[ScaleChange]) -> None:
        with session_scope(settings) as session:
            scaling.record_changes(session, changes)

    return LocalAutoscaler(workers, targets, record, interval_s=interval_s)
