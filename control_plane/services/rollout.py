"""Whether a desired state has landed: pure functions of what the replicas last reported.

The REST API's `/status` builds the same facts with `replicas.build_status`; the dashboard
needs them for one model at a time (a rollout in progress) or for a page of models at once
(the overview), without re-reading every deployment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from control_plane.schemas import RolloutStatus
from control_plane.services.replicas import ReplicaReport


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
