"""The local orchestrator: one inference process on this machine, supervised and restarted.

Routing changes never restart it: the process polls the routing table itself.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from control_plane.orchestrators.base import ReplicaProcess


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
    ) -> None:
        self._env = dict(env)
        self._url = url
        self._log_path = log_path
        self._python = python or sys.executable
        self._max_backoff_s = max_backoff_s
        self._clock = clock
        self._proc: subprocess.Popen[bytes] | None = None
        self._state = "stopped"
        self._restarts = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._proc.pid if self._proc else None

    def _spawn(self) -> None:
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self._log_path.open("ab")
        # A session of its own: Ctrl-C in the terminal reaches the launcher only, which then
        # stops the replica deliberately instead of racing its supervisor.
        self._proc = subprocess.Popen(
            [self._python, "-m", "inference"],
            env=self._env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._stop.clear()
            self._spawn()
            self._state = "starting"
            self._thread = threading.Thread(target=self._supervise, name="pier-local", daemon=True)
            self._thread.start()

    def _supervise(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            proc = self._proc
            assert proc is not None
            started = self._clock()
            while proc.poll() is None and not self._stop.wait(0.2):
                if self._state != "running" and self._clock() - started > 1.0:
                    self._state = "running"
            if self._stop.is_set():
                return
            # It died on its own: restart it, backing off if it keeps dying young.
            self._state = "restarting"
            backoff = 0.5 if self._clock() - started > 30 else min(backoff * 2, self._max_backoff_s)
            if self._stop.wait(backoff):
                return
            with self._lock:
                if self._stop.is_set():
                    return
                self._restarts += 1
                self._spawn()
                self._state = "starting"

    def stop(self, grace_s: float = 10.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)
        with self._lock:
            proc = self._proc
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=grace_s)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            self._state = "stopped"
            self._thread = None

    def replicas(self) -> list[ReplicaProcess]:
        return [
            ReplicaProcess(
                id=f"local:{self.pid}", url=self._url, state=self._state, restarts=self._restarts
            )
        ]
