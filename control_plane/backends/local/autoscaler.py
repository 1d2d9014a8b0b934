"""The local control loop: sample each worker's load, ask each deployed model's policy,
and run as many workers as the most demanding model asks for (docs/architecture.md)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from control_plane.backends.local.pool import WorkerSample
from control_plane.domain.scaling import (
    ReplicaLoad,
    ScaleEvent,
    ScalingDecision,
    ScalingHistory,
    decide,
)
from control_plane.loops import Loop
from control_plane.schemas import ScalingSettings

log = logging.getLogger(__name__)


class Scalable(Protocol):
    @property
    def size(self) -> int: ...
    def samples(self) -> list[WorkerSample]: ...
    def scale_to(self, n: int) -> None: ...


@dataclass(frozen=True)
class ScaleChange:
    """One model's view of a change of the local worker count."""

    model: str
    before: int
    after: int
    reason: str
    at: datetime


def _utcnow() -> datetime:
    return datetime.now(UTC)


def replica_loads(samples: Sequence[WorkerSample]) -> list[ReplicaLoad]:
    return [
        ReplicaLoad(
            inflight=s.load.inflight if s.load is not None else None,
            rps=s.load.rps if s.load is not None else None,
            cpu=s.cpu_percent,
            ready=s.ready,
        )
        for s in samples
    ]


def combine(
    decisions: Mapping[str, ScalingDecision], current: int, now: datetime
) -> tuple[int, list[ScaleChange]]:
    """Pure: one count for all models (the largest asked for) and each model's reason."""
    if not decisions:
        return current, []
    driver = max(sorted(decisions), key=lambda m: decisions[m].desired)
    desired = decisions[driver].desired
    if desired == current:
        return current, []
    changes = []
    for model, d in sorted(decisions.items()):
        reason = d.reason
        if d.desired != desired:
            reason = (
                f"scale {current} -> {desired} for {driver} (the local workers serve every "
                f"model); for {model} alone: {d.reason}"
            )
        changes.append(ScaleChange(model, current, desired, reason, now))
    return desired, changes


class LocalAutoscaler(Loop):
    def __init__(
        self,
        target: Scalable,
        settings: Callable[[], Mapping[str, ScalingSettings]],
        record: Callable[[Sequence[ScaleChange]], None],
        *,
        interval_s: float = 5.0,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._target = target
        self._settings = settings
        self._record = record
        self._clock = clock
        self._histories: dict[str, ScalingHistory] = {}
        self.last_reasons: dict[str, str] = {}
        super().__init__(interval_s, self.tick, "pier-autoscaler", wait_first=True)

    def tick(self) -> int:
        """One pass; returns the worker count it leaves in place."""
        models = self._settings()
        now = self._clock()
        current = self._target.size
        loads = replica_loads(self._target.samples())
        decisions = {
            m: decide(
                now=now,
                current=current,
                loads=loads,
                settings=s,
                history=self._histories.get(m),
            )
            for m, s in models.items()
        }
        desired, changes = combine(decisions, current, now)
        for m, d in decisions.items():
            # Remember the change that really happened, not the one this model asked for.
            events = tuple(e for e in d.history.events if e.at != now)
            if desired != current:
                events += (ScaleEvent(now, desired - current),)
            self._histories[m] = ScalingHistory(d.history.recommendations, events)
        self._histories = {m: h for m, h in self._histories.items() if m in models}
        self.last_reasons = {m: d.reason for m, d in decisions.items()}
        if changes:
            self._target.scale_to(desired)
            for c in changes:
                log.info("autoscaler, %s: %s", c.model, c.reason)
            self._record(changes)
        return desired
