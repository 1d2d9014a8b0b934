"""Whether a desired state has landed: pure functions of what the replicas last reported."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from control_plane.schemas import (
    DeploymentPublic,
    ModelStatus,
    ReplicaReport,
    ReplicaStatus,
    RolloutStatus,
    RoutingTable,
    StatusPublic,
)


@dataclass(frozen=True)
class Rollout:
    """How far `revision` of one model has spread over the live replicas."""

    model: str
    revision: int
    live: int
    caught_up: int
    serving: int
    errors: tuple[str, ...]

    @property
    def done(self) -> bool:
        return self.live > 0 and self.caught_up == self.live

    @property
    def fraction(self) -> float:
        return self.caught_up / self.live if self.live else 0.0

    def describe(self) -> str:
        if self.live == 0:
            return "No inference replica has reported in; the change applies as soon as one does."
        if self.done:
            plural = "replica serves" if self.live == 1 else "replicas serve"
            return f"{self.live} {plural} revision {self.revision}."
        return (
            f"{self.caught_up} of {self.live} replicas serve revision {self.revision}; "
            "the others are loading and warming the versions."
        )


def live_reports(
    reports: list[ReplicaReport], now: datetime, stale_after: timedelta
) -> list[ReplicaReport]:
    return [r for r in reports if now - r.last_seen <= stale_after]


def rollout(
    model: str,
    revision: int,
    reports: list[ReplicaReport],
    now: datetime,
    stale_after: timedelta,
) -> Rollout:
    live = live_reports(reports, now, stale_after)
    return Rollout(
        model=model,
        revision=revision,
        live=len(live),
        caught_up=sum(1 for r in live if r.revision >= revision),
        serving=sum(1 for r in live if any(x.startswith(f"{model}@") for x in r.loaded)),
        errors=tuple(r.error for r in live if r.error),
    )


def cluster_line(rollouts: list[RolloutStatus], model: str) -> str:
    """On Kubernetes: one line on where the model's workload rollout stands, with the
    newest warning from the cluster; empty elsewhere."""
    for r in rollouts:
        if r.model == model:
            line = f"Cluster: {r.state}, {r.ready}/{r.desired} ready. {r.message}"
            return line + (f" ({r.reasons[0]})" if r.reasons else "")
    return ""


def replica_status(r: ReplicaReport, now: datetime, stale_after: timedelta) -> ReplicaStatus:
    healthy = now - r.last_seen <= stale_after and not r.error
    return ReplicaStatus(**r.model_dump(), healthy=healthy)


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
