"""The composition root: what every door of the control plane shares, built once a process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from sqlmodel import Session

from control_plane.announcer import RoutingAnnouncer
from control_plane.artifacts import ArtifactChecker, Artifacts, ArtifactStore
from control_plane.db.engine import after_commit, session_scope
from control_plane.metrics.base import RunningSource
from control_plane.metrics.sources import open_source
from control_plane.schemas import RolloutStatus
from control_plane.services.changes import routing_pending
from control_plane.services.replicas import ReplicaBook
from control_plane.settings import PierSettings


def _no_rollouts() -> list[RolloutStatus]:
    return []


@dataclass
class Platform:
    """The artifacts (store, limit, check), the routing announcer, the replicas' reports and
    the metrics source, shared by the REST API, the dashboard, the runtime and the launcher."""

    settings: PierSettings
    artifacts: Artifacts
    announcer: RoutingAnnouncer
    replicas: ReplicaBook
    # On Kubernetes, the reconciler's view of each workload's rollout (the runtime sets it).
    rollouts: Callable[[], list[RolloutStatus]] = _no_rollouts
    _metrics: RunningSource | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction; a routing change it makes is announced once it commits."""
        with session_scope(self.settings) as session:
            after_commit(session, lambda: self._announce(session))
            yield session

    def _announce(self, session: Session) -> None:
        if routing_pending(session):
            self.announcer.routing_changed()

    def metrics(self) -> RunningSource:
        """The one metrics source of this process, opened on first use."""
        with self._lock:
            if self._metrics is None:
                self._metrics = open_source(self.settings, self.replicas)
            return self._metrics

    def close_metrics(self) -> None:
        """Stop the metrics source (its scraper thread); the next use opens a new one."""
        with self._lock:
            source, self._metrics = self._metrics, None
        if source is not None:
            source.close()

    @property
    def stale_after(self) -> timedelta:
        return timedelta(seconds=self.settings.replica_stale_s)


def build_platform(settings: PierSettings) -> Platform:
    return Platform(
        settings=settings,
        artifacts=Artifacts(
            ArtifactStore(settings.artifact_root),
            ArtifactChecker(settings.check_python, settings.check_timeout_s),
            settings.max_artifact_bytes,
        ),
        announcer=RoutingAnnouncer(settings.redis_url),
        replicas=ReplicaBook(),
    )
