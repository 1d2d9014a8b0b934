"""The local backend: inference worker processes on this machine, supervised and
restarted, all serving the public port's one listening socket; scalable, 1 to N of them."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from control_plane.backends.base import ReplicaProcess
from control_plane.backends.local.pool import WorkerPool, WorkerSample


class LocalOrchestrator:
    def __init__(
        self,
        *,
        env: Mapping[str, str],
        url: str,
        log_path: Path,
        python: str = "",
        max_backoff_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        scalable: bool = False,
        drain_s: float = 30.0,
    ) -> None:
        parts = urlsplit(url)
        self._url = url
        self._scalable = scalable
        self._pool = WorkerPool(
            env=env,
            log_path=log_path,
            host=parts.hostname or "127.0.0.1",
            public_port=parts.port or 8080,
            python=python,
            max_backoff_s=max_backoff_s,
            drain_s=drain_s,
            clock=clock,
        )

    @property
    def url(self) -> str:
        return self._url

    @property
    def pid(self) -> int | None:
        """The first worker's process id (the only one unless scalable)."""
        return self._pool.first_pid()

    @property
    def size(self) -> int:
        """Workers wanted now, starting ones included, draining ones not."""
        return self._pool.size

    def ready_count(self) -> int:
        return self._pool.ready_count()

    def samples(self) -> list[WorkerSample]:
        return self._pool.samples()

    def scale_to(self, n: int) -> None:
        if not self._scalable and n != 1:
            raise ValueError("this local orchestrator runs one worker: it was made unscalable")
        self._pool.scale_to(n)

    def start(self, workers: int = 1) -> None:
        self._pool.start(workers)

    def stop(self, grace_s: float = 10.0) -> None:
        self._pool.stop(grace_s)

    def replicas(self) -> list[ReplicaProcess]:
        return self._pool.processes()
