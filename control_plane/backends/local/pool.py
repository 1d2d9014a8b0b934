"""Local inference worker processes: start, watch, restart with backoff, drain and stop.
A worker joins the balancer once ready and leaves it before it is stopped, so scaling
loses no request; each is a replica of its own to the control plane."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from control_plane.backends.base import ReplicaProcess
from control_plane.backends.local.balancer import Balancer, WorkerLoad, wait_drained

log = logging.getLogger(__name__)

TICK_S = 0.2
PROBE_EVERY_S = 0.25
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_local_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, from /proc (None where there is no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces: the fields start after its closing parenthesis.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class Worker:
    id: str
    port: int
    proc: subprocess.Popen[bytes] | None = None
    state: str = "starting"  # starting | running | restarting | draining | stopped
    restarts: int = 0
    started_at: float = 0.0
    retry_at: float = 0.0
    backoff: float = 0.5
    probed_at: float = 0.0
    routed: bool = False
    cpu: tuple[float, float] | None = field(default=None)  # (cpu seconds, at)


@dataclass(frozen=True)
class WorkerSample:
    """One worker's load for the autoscaler: `load` None while it is not routed."""

    id: str
    ready: bool
    load: WorkerLoad | None
    cpu_percent: float | None  # of one core, the CPU a local worker "requests"


class WorkerPool:
    def __init__(
        self,
        *,
        env: Mapping[str, str],
        log_path: Path,
        public_port: int,
        balancer: Balancer | None,
        python: str = "",
        max_backoff_s: float = 10.0,
        drain_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._env = dict(env)
        self._log_path = log_path
        self._public_port = public_port
        self._balancer = balancer
        self._python = python or sys.executable
        self._max_backoff_s = max_backoff_s
        self._drain_s = drain_s
        self._clock = clock
        self._workers: list[Worker] = []
        self._draining: list[Worker] = []
        self._target = 1
        self._seq = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._http = httpx.Client(timeout=httpx.Timeout(1.0, connect=0.5))

    # -- what the orchestrator and the autoscaler see ------------------------------------
    @property
    def size(self) -> int:
        """Workers wanted and not being removed (starting ones included)."""
        with self._lock:
            return len(self._workers)

    def ready_count(self) -> int:
        with self._lock:
            return sum(1 for w in self._workers if w.state == "running")

    def scale_to(self, n: int) -> None:
        if self._balancer is None and n != 1:
            raise ValueError("a direct (unbalanced) local worker cannot scale: it owns the port")
        with self._lock:
            self._target = max(1, n)
        self._wake.set()

    def processes(self) -> list[ReplicaProcess]:
        with self._lock:
            workers = list(self._workers) + list(self._draining)
        url = "http://127.0.0.1:{}"
        return [
            ReplicaProcess(
                id=f"local:{w.proc.pid if w.proc else None}",
                url=url.format(w.port),
                state=w.state,
                restarts=w.restarts,
            )
            for w in workers
        ]

    def first_pid(self) -> int | None:
        with self._lock:
            w = self._workers[0] if self._workers else None
            return w.proc.pid if w is not None and w.proc is not None else None

    def samples(self) -> list[WorkerSample]:
        loads = self._balancer.sample() if self._balancer is not None else {}
        now = time.monotonic()
        out = []
        with self._lock:
            for w in self._workers:
                out.append(
                    WorkerSample(
                        id=w.id,
                        ready=w.routed,
                        load=loads.get(w.id),
                        cpu_percent=self._cpu_percent(w, now),
                    )
                )
        return out

    @staticmethod
    def _cpu_percent(w: Worker, now: float) -> float | None:
        if w.proc is None or w.state != "running":
            return None
        used = cpu_seconds(w.proc.pid)
        if used is None:
            return None
        before, w.cpu = w.cpu, (used, now)
        if before is None or now - before[1] <= 0:
            return None
        return 100.0 * (used - before[0]) / (now - before[1])

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, workers: int = 1) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._stop.clear()
            self._target = max(1, workers)
            if self._http.is_closed:
                self._http = httpx.Client(timeout=httpx.Timeout(1.0, connect=0.5))
            self._thread = threading.Thread(
                target=self._supervise, name="pier-local-pool", daemon=True
            )
        self._reconcile()
        self._thread.start()

    def stop(self, grace_s: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=10)
        with self._lock:
            workers = self._workers + self._draining
            self._workers, self._draining = [], []
            self._thread = None
        for w in workers:
            if self._balancer is not None:
                self._balancer.remove(w.id)
        for w in workers:
            self._terminate(w, grace_s)
            if self._balancer is not None:
                self._balancer.forget(w.id)
        self._http.close()

    def _spawn(self, w: Worker) -> None:
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(self._env)
        if self._balancer is not None:
            # Private port, and the URL the control plane reaches this very worker on.
            env["PIER_INFERENCE_HOST"] = "127.0.0.1"
            env["PIER_INFERENCE_PORT"] = str(w.port)
            env["PIER_INFERENCE_REPLICA_URL"] = f"http://127.0.0.1:{w.port}"
        with self._log_path.open("ab") as logf:
            # A session of its own: Ctrl-C in the terminal reaches the launcher only, which
            # then stops the workers deliberately instead of racing their supervisor.
            w.proc = subprocess.Popen(
                [self._python, "-m", "inference"],
                env=env,
                stdout=logf,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        w.started_at = self._clock()
        w.state = "starting"
        w.cpu = None

    @staticmethod
    def _terminate(w: Worker, grace_s: float) -> None:
        proc = w.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        w.state = "stopped"

    def _supervise(self) -> None:
        while not self._stop.is_set():
            try:
                self._reconcile()
                self._watch()
            except Exception:  # the supervisor must outlive any one bad pass
                log.exception("local worker supervision pass failed")
            self._wake.wait(TICK_S)
            self._wake.clear()

    def _reconcile(self) -> None:
        """Start workers up to the target; drain the surplus (newest, unready first)."""
        with self._lock:
            missing = self._target - len(self._workers)
            surplus: list[Worker] = []
            if missing < 0:
                # Unready ones first, then the newest: the longest-serving workers stay.
                order = sorted(self._workers, key=lambda w: (w.routed, -w.started_at))
                surplus = order[:-missing]
                self._workers = [w for w in self._workers if w not in surplus]
                self._draining += surplus
            fresh = []
            for _ in range(max(0, missing)):
                self._seq += 1
                port = self._public_port if self._balancer is None else free_local_port()
                fresh.append(Worker(id=f"w{self._seq}", port=port))
        for w in fresh:
            self._spawn(w)
            with self._lock:
                self._workers.append(w)
        for w in surplus:
            w.state = "draining"
            threading.Thread(
                target=self._drain, args=(w,), name=f"pier-drain-{w.id}", daemon=True
            ).start()

    def _drain(self, w: Worker) -> None:
        if self._balancer is not None:
            self._balancer.remove(w.id)
            if not wait_drained(self._balancer, w.id, self._drain_s, time.sleep):
                log.warning("worker %s still busy after %.0f s; stopping it", w.id, self._drain_s)
        self._terminate(w, grace_s=self._drain_s)
        if self._balancer is not None:
            self._balancer.forget(w.id)
        with self._lock:
            if w in self._draining:
                self._draining.remove(w)

    def _watch(self) -> None:
        with self._lock:
            workers = list(self._workers)
        now = self._clock()
        for w in workers:
            if self._stop.is_set():
                return
            proc = w.proc
            if w.state == "restarting":
                if now >= w.retry_at:
                    w.restarts += 1
                    self._spawn(w)
                continue
            if proc is None:
                continue
            if proc.poll() is not None:
                # It died on its own: out of the balancer, then restart it, backing off if
                # it keeps dying young.
                if self._balancer is not None and w.routed:
                    self._balancer.remove(w.id)
                    self._balancer.forget(w.id)
                w.routed = False
                w.backoff = (
                    0.5 if now - w.started_at > 30 else min(w.backoff * 2, self._max_backoff_s)
                )
                w.retry_at = now + w.backoff
                w.state = "restarting"
                log.warning("inference worker %s exited (%s); restarting", w.id, proc.returncode)
                continue
            if w.state == "starting" and now - w.probed_at >= PROBE_EVERY_S:
                w.probed_at = now
                if self._ready(w):
                    if self._balancer is not None:
                        self._balancer.add(w.id, "127.0.0.1", w.port)
                        w.routed = True
                    w.state = "running"

    def _ready(self, w: Worker) -> bool:
        try:
            r = self._http.get(f"http://127.0.0.1:{w.port}/v2/health/ready")
        except httpx.HTTPError:
            return False
        return r.status_code == 200
