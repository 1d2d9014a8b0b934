"""Where models run: what each inference replica reported on its last routing poll."""

from __future__ import annotations

import threading

from control_plane.schemas import ReplicaReport


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
