"""What every orchestrator does: keep the inference replicas of the desired state running."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from control_plane.backends.kubernetes.desired import DesiredModel
from control_plane.schemas import RolloutStatus


@dataclass(frozen=True)
class ReplicaProcess:
    id: str
    url: str
    state: str  # starting | running | restarting | stopped
    restarts: int


class Orchestrator(Protocol):
    def start(self) -> None:
        """Start the replicas and keep them running until stop()."""

    def stop(self) -> None:
        """Stop every replica, letting in-flight requests finish."""

    def replicas(self) -> list[ReplicaProcess]: ...


class Workloads(Protocol):
    """A cluster that runs each deployed model as a workload of its own (`kubernetes`).

    The Reconciler drives it; it never sees weights: replicas poll the routing table.
    """

    def apply(self, model: DesiredModel) -> None:
        """Create or update everything `model` needs; idempotent."""

    def delete(self, model: str) -> None:
        """Remove everything of `model`; nothing to remove is not an error."""

    def managed(self) -> list[str]:
        """The models that have a workload now."""
        ...

    def rollout(self, model: str) -> RolloutStatus:
        """Where the model's rollout stands, with Kubernetes' reason when it is stuck."""
        ...

    def endpoint(self, model: str) -> str:
        """The in-cluster URL of the model's inference Service."""
        ...
