"""What the UI's state handlers use, handed over once by the app module.

State classes are created by Reflex, not by us, so they cannot take dependencies in a
constructor; the app module builds them once and binds them here at import. The replica
book is the very one the REST API fills from the replicas' routing polls, so the dashboard
sees a rollout land as soon as the API does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from control_plane.announcer import RoutingAnnouncer
from control_plane.artifacts import ArtifactChecker, ArtifactStore
from control_plane.schemas import RolloutStatus
from control_plane.services.replicas import ReplicaBook
from control_plane.settings import PierSettings


@dataclass(frozen=True)
class UiContext:
    settings: PierSettings
    replicas: ReplicaBook
    store: ArtifactStore
    checker: ArtifactChecker
    announcer: RoutingAnnouncer
    # On Kubernetes, the reconciler's view of each workload's rollout; empty elsewhere.
    rollouts: Callable[[], list[RolloutStatus]] = list

    @property
    def stale_after(self) -> timedelta:
        return timedelta(seconds=self.settings.replica_stale_s)


_context: UiContext | None = None


def bind(
    settings: PierSettings,
    replicas: ReplicaBook,
    announcer: RoutingAnnouncer | None = None,
    rollouts: Callable[[], list[RolloutStatus]] = list,
) -> UiContext:
    global _context
    _context = UiContext(
        settings=settings,
        replicas=replicas,
        store=ArtifactStore(settings.artifact_root),
        checker=ArtifactChecker(settings.check_python, settings.check_timeout_s),
        announcer=announcer or RoutingAnnouncer(settings.redis_url),
        rollouts=rollouts,
    )
    return _context


def get() -> UiContext:
    if _context is None:
        raise RuntimeError("control_plane.ui.context.bind(...) was not called by the app module")
    return _context


def settings() -> PierSettings:
    return get().settings
