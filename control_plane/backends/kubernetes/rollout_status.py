"""Rollout progress from a Deployment's status, conditions and events: pure.

The same questions `kubectl rollout status` asks, in the same order, plus the reason
a stuck rollout is stuck, taken from the Warning events of its pods and ReplicaSets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from control_plane.schemas import RolloutStatus

MAX_REASONS = 3
# k8s.io/apimachinery rand.SafeEncodeString: what pod-template hashes and pod ids use.
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str = ""
    message: str = ""


@dataclass(frozen=True)
class DeploymentState:
    """What the Deployment controller wrote; counts absent from the status are 0."""

    generation: int = 0
    observed_generation: int = 0
    desired: int = 1
    replicas: int = 0
    updated: int = 0
    ready: int = 0
    available: int = 0
    conditions: list[Condition] = field(default_factory=list)

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)


@dataclass(frozen=True)
class EventWarning:
    """A Kubernetes event of type Warning about some object."""

    object_name: str
    reason: str
    message: str
    at: datetime | None = None


def owned_name(deployment_name: str) -> re.Pattern[str]:
    """The Deployment, its ReplicaSets (`<name>-<hash>`) and their pods
    (`<name>-<hash>-<id>`). Kubernetes writes the hash and the id in a 27-letter alphabet
    without vowels, so `pier-iris` does not claim the pods of `pier-iris-canary`."""
    return re.compile(rf"^{re.escape(deployment_name)}(-[{_SAFE}]{{1,10}}(-[{_SAFE}]{{5}})?)?$")


def relevant_warnings(deployment_name: str, events: list[EventWarning]) -> list[str]:
    """Warnings about the Deployment, its ReplicaSets and their pods, newest first, each
    reason once: 'Reason: message'."""
    pattern = owned_name(deployment_name)
    mine = [e for e in events if pattern.match(e.object_name)]
    oldest = datetime.min.replace(tzinfo=UTC)
    mine.sort(key=lambda e: e.at or oldest, reverse=True)
    out: list[str] = []
    seen: set[str] = set()
    for e in mine:
        if e.reason in seen:
            continue
        seen.add(e.reason)
        out.append(f"{e.reason}: {' '.join(e.message.split())}")
        if len(out) == MAX_REASONS:
            break
    return out


def rollout_status(
    model: str, deployment_name: str, state: DeploymentState | None, warnings: list[str]
) -> RolloutStatus:
    def status(kind: str, message: str, reasons: list[str] | None = None) -> RolloutStatus:
        assert state is not None
        return RolloutStatus.model_validate(
            {
                "model": model,
                "state": kind,
                "desired": state.desired,
                "updated": state.updated,
                "ready": state.ready,
                "available": state.available,
                "message": message,
                "reasons": warnings if reasons is None else reasons,
            }
        )

    if state is None:
        return RolloutStatus(
            model=model,
            state="absent",
            desired=0,
            updated=0,
            ready=0,
            available=0,
            message=f"no Deployment {deployment_name} on the cluster (yet)",
        )
    because = f"; {warnings[0]}" if warnings else ""
    progressing = state.condition("Progressing")
    if progressing is not None and progressing.reason == "ProgressDeadlineExceeded":
        detail = progressing.message or "no progress within the deadline"
        return status("failed", f"rollout of {deployment_name} is stuck: {detail}{because}")
    failure = state.condition("ReplicaFailure")
    if failure is not None and failure.status == "True":
        detail = failure.message or failure.reason
        return status("failed", f"{deployment_name} cannot create pods: {detail}{because}")
    if state.observed_generation < state.generation:
        return status("progressing", "waiting for the Deployment controller to see the change")
    if state.updated < state.desired:
        return status(
            "progressing", f"{state.updated} of {state.desired} replicas updated{because}"
        )
    if state.replicas > state.updated:
        old = state.replicas - state.updated
        return status("progressing", f"{old} old replica(s) finishing their requests")
    if state.available < state.updated:
        return status(
            "progressing",
            f"{state.available} of {state.updated} updated replicas available{because}",
        )
    return status("complete", f"{state.available} of {state.desired} replicas available", [])
