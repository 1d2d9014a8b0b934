"""The loop that keeps a cluster's workloads equal to the desired state: a pass every
interval or on wake(), and it never deletes on an unreadable desired state or what Pier
did not label (docs/kubernetes.md)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from control_plane.backends.base import ReplicaProcess, Workloads
from control_plane.backends.kubernetes.desired import DesiredModel
from control_plane.errors import PierError
from control_plane.loops import Loop
from control_plane.schemas import RolloutStatus

log = logging.getLogger(__name__)

_REPLICA_STATE = {
    "complete": "running",
    "progressing": "starting",
    "failed": "restarting",
    "absent": "stopped",
}


@dataclass
class ReconcileReport:
    applied: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    rollouts: list[RolloutStatus] = field(default_factory=list)


@dataclass(frozen=True)
class _Applied:
    model: DesiredModel
    at: float


def needs_apply(desired: DesiredModel, last: _Applied | None, now: float, resync_s: float) -> bool:
    """Apply what changed, and everything again every `resync_s` to undo edits by hand."""
    return last is None or last.model != desired or now - last.at >= resync_s


class Reconciler(Loop):
    """Stopping it stops the loop only: the workloads keep serving without the control plane."""

    def __init__(
        self,
        workloads: Workloads,
        source: Callable[[], list[DesiredModel]],
        *,
        interval_s: float = 5.0,
        resync_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._workloads = workloads
        self._source = source
        self._resync_s = resync_s
        self._clock = clock
        self._applied: dict[str, _Applied] = {}
        self._rollouts: dict[str, RolloutStatus] = {}
        self._lock = threading.Lock()  # one pass at a time
        self.last_report = ReconcileReport()
        super().__init__(
            interval_s, self.reconcile_once, "pier-reconciler", wait_first=False, stop_timeout_s=30
        )

    def reconcile_once(self) -> ReconcileReport:
        with self._lock:
            report = self._pass()
        self.last_report = report
        return report

    def _pass(self) -> ReconcileReport:
        report = ReconcileReport()
        try:
            desired = self._source()
        except Exception as e:  # the database is down: change nothing on the cluster
            report.errors["*"] = f"desired state unavailable: {e}"
            log.warning("reconcile skipped: %s", report.errors["*"])
            return report
        wanted = {m.name for m in desired}
        for model in desired:
            now = self._clock()
            if not needs_apply(model, self._applied.get(model.name), now, self._resync_s):
                report.unchanged.append(model.name)
                continue
            try:
                self._workloads.apply(model)
            except PierError as e:
                self._applied.pop(model.name, None)
                report.errors[model.name] = e.message
                log.warning("applying %s failed: %s", model.name, e.message)
                continue
            self._applied[model.name] = _Applied(model, now)
            report.applied.append(model.name)
        try:
            existing = self._workloads.managed()
        except PierError as e:
            report.errors["*"] = e.message
            existing = []
        for name in sorted(set(existing) - wanted):
            try:
                self._workloads.delete(name)
            except PierError as e:
                report.errors[name] = e.message
                continue
            self._applied.pop(name, None)
            self._rollouts.pop(name, None)
            report.deleted.append(name)
        for name in sorted(wanted):
            try:
                status = self._workloads.rollout(name)
            except PierError as e:
                report.errors.setdefault(name, e.message)
                continue
            self._rollouts[name] = status
            report.rollouts.append(status)
        return report

    def rollouts(self) -> list[RolloutStatus]:
        """The last rollout status of every desired model (for the dashboard and the CLI)."""
        return [self._rollouts[k] for k in sorted(self._rollouts)]

    def replicas(self) -> list[ReplicaProcess]:
        return [
            ReplicaProcess(
                id=f"kubernetes:{s.model}",
                url=self._workloads.endpoint(s.model),
                state=_REPLICA_STATE[s.state],
                restarts=0,
            )
            for s in self.rollouts()
        ]
