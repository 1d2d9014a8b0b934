"""What every orchestrator does: keep the inference replicas of the desired state running."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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
