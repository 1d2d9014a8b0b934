"""The local control loop: sample each model's load on each worker, ask each deployed
model's policy about its own load, and run as many workers as the most demanding model
asks for, never more than the cores this machine gives them (docs/architecture.md)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from control_plane.backends.local.load import ModelLoad
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
IDLE = ModelLoad(inflight=0.0, rps=0.0, cpu_share=0.0)  # a model this worker never served


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


def available_cores() -> int:
    """The cores this process may run on (taskset, cpusets), and so its workers too."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def replica_loads(samples: Sequence[WorkerSample], model: str) -> list[ReplicaLoad]:
    """`model`'s own load on each worker: its requests in flight, its requests a second,
    and its share of the worker's CPU (by its share of the time spent in models)."""
    loads = []
    for s in samples:
        if s.loads is None:  # no sample of this worker yet
            loads.append(ReplicaLoad(ready=s.ready, cpu=None))
            continue
        mine = s.loads.get(model, IDLE)
        cpu = s.cpu_percent * mine.cpu_share if s.cpu_percent is not None else None
        loads.append(ReplicaLoad(inflight=mine.inflight, rps=mine.rps, cpu=cpu, ready=s.ready))
    return loads


def combine(
    decisions: Mapping[str, ScalingDecision], current: int, now: datetime, cores: int = 0
) -> tuple[int, list[ScaleChange]]:
    """Pure: one count for all models (the largest asked for, but no worker beyond the
    `cores` when adding: each would only slow the others) and each model's reason."""
    if not decisions:
        return current, []
    driver = max(sorted(decisions), key=lambda m: decisions[m].desired)
    asked = decisions[driver].desired
    desired = asked
    capped = cores > 0 and asked > current and asked > cores
    if capped:
        desired = max(current, cores)
    if desired == current:
        return current, [
            ScaleChange(model, current, current, _capped(d, current, current, cores), now)
            for model, d in sorted(decisions.items())
            if capped and d.desired > current
        ]
    changes = []
    for model, d in sorted(decisions.items()):
        reason = d.reason
        if capped and d.desired > desired:
            reason = _capped(d, current, desired, cores)
        elif d.desired != desired:
            reason = (
                f"scale {current} -> {desired} for {driver} (the local workers serve every "
                f"model); for {model} alone: {d.reason}"
            )
        changes.append(ScaleChange(model, current, desired, reason, now))
    return desired, changes


def _capped(d: ScalingDecision, current: int, desired: int, cores: int) -> str:
    why = f"the workers would use more than the {cores} cores this machine gives them"
    if desired > current:
        return f"scale up {current} -> {desired}, not {d.desired}: {why}; the policy: {d.reason}"
    return f"hold at {current}, not {d.desired}: {why}; the policy: {d.reason}"


class LocalAutoscaler(Loop):
    def __init__(
        self,
        target: Scalable,
        settings: Callable[[], Mapping[str, ScalingSettings]],
        record: Callable[[Sequence[ScaleChange]], None],
        *,
        interval_s: float = 5.0,
        clock: Callable[[], datetime] = _utcnow,
        cores: Callable[[], int] = available_cores,
    ) -> None:
        self._target = target
        self._settings = settings
        self._record = record
        self._clock = clock
        self._cores = cores
        self._capped_at: int | None = None
        self._histories: dict[str, ScalingHistory] = {}
        self.last_reasons: dict[str, str] = {}
        super().__init__(interval_s, self.tick, "pier-autoscaler", wait_first=True)

    def tick(self) -> int:
        """One pass; returns the worker count it leaves in place."""
        models = self._settings()
        now = self._clock()
        current = self._target.size
        samples = self._target.samples()
        decisions = {
            m: decide(
                now=now,
                current=current,
                loads=replica_loads(samples, m),
                settings=s,
                history=self._histories.get(m),
            )
            for m, s in models.items()
        }
        desired, changes = combine(decisions, current, now, self._cores())
        if desired != current:
            self._capped_at = None
        elif changes:  # a hold at the core count is said once while the count stays
            changes = [] if self._capped_at == current else changes
            self._capped_at = current
        for m, d in decisions.items():
            # Remember the change that really happened, not the one this model asked for.
            events = tuple(e for e in d.history.events if e.at != now)
            if desired != current:
                events += (ScaleEvent(now, desired - current),)
            self._histories[m] = ScalingHistory(d.history.recommendations, events)
        self._histories = {m: h for m, h in self._histories.items() if m in models}
        self.last_reasons = {m: d.reason for m, d in decisions.items()}
        if changes:
            if desired != current:
                self._target.scale_to(desired)
            for c in changes:
                log.info("autoscaler, %s: %s", c.model, c.reason)
            self._record(changes)
        return desired
