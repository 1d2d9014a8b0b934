"""Where models run: what each inference replica reported on its last routing poll."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from control_plane.schemas import (
    DeploymentPublic,
    ModelStatus,
    ReplicaStatus,
    RoutingTable,
    StatusPublic,
)


@dataclass
class ReplicaReport:
    id: str
    url: str
    revision: int
    loaded: list[str]
    error: str
    last_seen: datetime
    # Where its models run: cpu, cuda:0, ... ("" from a replica that does not say).
    device: str = ""


class ReplicaBook:
    """In-process record of replicas. One control-plane worker; with several, move to Redis."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reports: dict[str, ReplicaReport] = {}

    def report(self, r: ReplicaReport) -> None:
        with self._lock:
            self._reports[r.id] = r

    def all(self) -> list[ReplicaReport]:
        with self._lock:
            return sorted(self._reports.values(), key=lambda r: r.id)


def replica_status(r: ReplicaReport, now: datetime, stale_after: timedelta) -> ReplicaStatus:
    return ReplicaStatus(
        id=r.id,
        url=r.url,
        revision=r.revision,
        loaded=r.loaded,
        error=r.error,
        last_seen=r.last_seen,
        device=r.device,
        healthy=now - r.last_seen <= stale_after and not r.error,
    )


def build_status(
    table: RoutingTable,
    deployments: list[DeploymentPublic],
    reports: list[ReplicaReport],
    now: datetime,
    stale_after: timedelta,
) -> StatusPublic:
    """Pure: desired state + replica reports -> what runs where, and whether it has converged."""
    replicas = [replica_status(r, now, stale_after) for r in reports]
    live = [r for r in replicas if now - r.last_seen <= stale_after]
    models = []
    for dep in deployments:
        serving = [r for r in live if any(x.startswith(f"{dep.model}@") for x in r.loaded)]
        models.append(
            ModelStatus(
                model=dep.model,
                weights=dep.weights,
                revision=dep.revision,
                replicas=serving,
                converged=bool(live) and all(r.revision >= dep.revision for r in live),
            )
        )
    return StatusPublic(revision=table.revision, models=models, replicas=replicas)
