"""The local backend: inference worker processes on this machine, supervised and
restarted; scalable, a balancer holds the public port in front of 1 to N of them."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from control_plane.backends.base import ReplicaProcess
from control_plane.backends.local.balancer import WORKER_MAX_BODY_BYTES, Balancer
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
        port = parts.port or 8080
        self._url = url
        limit = int(env.get("PIER_INFERENCE_MAX_BODY_BYTES", WORKER_MAX_BODY_BYTES))
        host = parts.hostname or "127.0.0.1"
        self._balancer = Balancer(host, port, max_body_bytes=limit) if scalable else None
        self._pool = WorkerPool(
            env=env,
            log_path=log_path,
            public_port=port,
            balancer=self._balancer,
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
        self._pool.scale_to(n)

    def start(self, workers: int = 1) -> None:
        if self._balancer is not None:
            self._balancer.start()
        self._pool.start(workers)

    def stop(self, grace_s: float = 10.0) -> None:
        self._pool.stop(grace_s)
        if self._balancer is not None:
            self._balancer.stop()

    def replicas(self) -> list[ReplicaProcess]:
        return self._pool.processes()
