"""Local inference worker processes: start, watch, restart with backoff, drain and stop.
The pool holds the public port's listening socket and every worker serves it, so a
request costs no hop and waits in the kernel's queue while no worker is ready."""

from __future__ import annotations

import contextlib
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
from control_plane.backends.local.load import ModelLoad, Totals, loads_between, read_totals
from control_plane.backends.local.unavailable import Unavailable

log = logging.getLogger(__name__)

TICK_S = 0.2
PROBE_EVERY_S = 0.25
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Connections that arrive while no worker accepts wait in the kernel's queue, up to this
# many (a replacement is ready in a few seconds); after UNAVAILABLE_AFTER_S with no worker
# serving, the pool answers them 503 with Retry-After itself (unavailable.py).
BACKLOG = 2048
UNAVAILABLE_AFTER_S = 15.0


def free_local_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _local_client() -> httpx.Client:
    return httpx.Client(timeout=httpx.Timeout(2.0, connect=0.5))


def listen(host: str, port: int) -> socket.socket:
    """The public port's listening socket, which every worker inherits."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


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
    port: int  # private: the control plane's way to this very worker
    proc: subprocess.Popen[bytes] | None = None
    state: str = "starting"  # starting | running | restarting | draining | stopped
    restarts: int = 0
    started_at: float = 0.0
    retry_at: float = 0.0
    backoff: float = 0.5
    probed_at: float = 0.0
    serving: bool = False  # accepting on the public port
    peers_told: int | None = None  # the other serving workers, as last told to this one
    cpu: tuple[float, float] | None = field(default=None)  # (cpu seconds, at)
    totals: tuple[dict[str, Totals], float] | None = field(default=None)  # (per model, at)


@dataclass(frozen=True)
class WorkerSample:
    """One worker's load for the autoscaler: `loads` (per model) None without a sample."""

    id: str
    ready: bool
    loads: dict[str, ModelLoad] | None
    cpu_percent: float | None  # of one core, the CPU a local worker "requests"


class WorkerPool:
    def __init__(
        self,
        *,
        env: Mapping[str, str],
        log_path: Path,
        host: str,
        public_port: int,
        python: str = "",
        max_backoff_s: float = 10.0,
        drain_s: float = 30.0,
        unavailable_after_s: float = UNAVAILABLE_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._env = dict(env)
        self._log_path = log_path
        self._host = host
        self._public_port = public_port
        self._python = python or sys.executable
        self._max_backoff_s = max_backoff_s
        self._drain_s = drain_s
        self._clock = clock
        self._listener: socket.socket | None = None
        self._unavailable: Unavailable | None = None
        self._unavailable_after_s = unavailable_after_s
        self._served_at = 0.0
        self._workers: list[Worker] = []
        self._draining: list[Worker] = []
        self._target = 1
        self._seq = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        # A client each for the autoscaler's reads of /metrics and the supervisor's probes:
        # a new one each time would load the system's CA certificates, which costs more.
        self._metrics_http = _local_client()
        self._probe_http = _local_client()

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
        """Each worker's load per model since the previous call, from its /metrics."""
        with self._lock:
            workers = list(self._workers)
        out = []
        for w in workers:
            now = time.monotonic()
            out.append(
                WorkerSample(
                    id=w.id,
                    ready=w.serving,
                    loads=self._loads(self._metrics_http, w, now) if w.serving else None,
                    cpu_percent=self._cpu_percent(w, now),
                )
            )
        return out

    @staticmethod
    def _loads(http: httpx.Client, w: Worker, now: float) -> dict[str, ModelLoad] | None:
        try:
            r = http.get(f"http://127.0.0.1:{w.port}/metrics")
            r.raise_for_status()
            totals = read_totals(r.text)
        except (httpx.HTTPError, ValueError):
            return None
        before, w.totals = w.totals, (totals, now)
        if before is None:
            return None
        return loads_between(before[0], totals, now - before[1])

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
            self._listener = listen(self._host, self._public_port)
            if self._probe_http.is_closed:
                self._metrics_http, self._probe_http = _local_client(), _local_client()
            self._unavailable = Unavailable(
                self._listener, "no inference worker is serving; see the inference log"
            )
            self._served_at = self._clock()
            self._stop.clear()
            self._target = max(1, workers)
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
            listener, self._listener = self._listener, None
            unavailable, self._unavailable = self._unavailable, None
        if unavailable is not None:
            unavailable.off()
        for w in workers:
            self._terminate(w, grace_s)
        if listener is not None:
            listener.close()
        self._metrics_http.close()
        self._probe_http.close()

    def _spawn(self, w: Worker) -> None:
        assert self._listener is not None
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        fd = self._listener.fileno()
        env = dict(self._env)
        env["PIER_INFERENCE_HOST"] = "127.0.0.1"
        env["PIER_INFERENCE_PORT"] = str(w.port)
        env["PIER_INFERENCE_REPLICA_URL"] = f"http://127.0.0.1:{w.port}"
        env["PIER_INFERENCE_LISTEN_FD"] = str(fd)
        with self._log_path.open("ab") as logf:
            # A session of its own: Ctrl-C in the terminal reaches the launcher only, which
            # then stops the workers deliberately instead of racing their supervisor.
            w.proc = subprocess.Popen(
                [self._python, "-m", "inference"],
                env=env,
                stdin=subprocess.PIPE,
                stdout=logf,
                stderr=subprocess.STDOUT,
                pass_fds=(fd,),
                start_new_session=True,
            )
        w.started_at = self._clock()
        w.state = "starting"
        w.serving, w.peers_told = False, None
        w.cpu = w.totals = None

    @staticmethod
    def _tell(w: Worker, command: str) -> None:
        """One line on the worker's stdin (inference/http/shared_port.py reads it)."""
        stdin = w.proc.stdin if w.proc is not None else None
        if stdin is None:
            return
        try:
            stdin.write(command.encode() + b"\n")
            stdin.flush()
        except (OSError, ValueError):
            pass  # it is gone: the supervisor restarts it

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
        if proc is not None and proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        w.state = "stopped"

    def _supervise(self) -> None:
        while not self._stop.is_set():
            try:
                self._reconcile()
                self._watch()
                self._tell_peers()
                self._answer_when_unavailable()
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
                order = sorted(self._workers, key=lambda w: (w.serving, -w.started_at))
                surplus = order[:-missing]
                self._workers = [w for w in self._workers if w not in surplus]
                self._draining += surplus
            fresh = []
            for _ in range(max(0, missing)):
                self._seq += 1
                fresh.append(Worker(id=f"w{self._seq}", port=free_local_port()))
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
        """The worker stops accepting, answers what it holds with `connection: close` and
        exits by itself; SIGTERM only if it is still there after the drain time."""
        self._tell(w, "drain")
        proc = w.proc
        if proc is not None:
            try:
                proc.wait(timeout=self._drain_s)
            except subprocess.TimeoutExpired:
                log.warning("worker %s still busy after %.0f s; stopping it", w.id, self._drain_s)
        self._terminate(w, grace_s=self._drain_s)
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
                # It died on its own: what it held is lost, what comes next waits in the
                # listening socket's queue. Restart it, backing off if it keeps dying young.
                w.serving = False
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
                    self._join(w, workers)

    def _answer_when_unavailable(self) -> None:
        unavailable = self._unavailable
        if unavailable is None:
            return
        now = self._clock()
        with self._lock:
            serving = any(w.serving for w in self._workers)
        if serving:
            self._served_at = now
            unavailable.off()
        elif now - self._served_at > self._unavailable_after_s:
            unavailable.on()

    def _join(self, w: Worker, workers: list[Worker]) -> None:
        """Start `w` on the public port, and move a fair share of the others' keep-alive
        clients to it: each closes that share of its connections after their next answer."""
        self._tell(w, "serve")
        w.serving = True
        w.state = "running"
        others = [o for o in workers if o is not w and o.serving]
        for o in others:
            self._tell(o, f"shed {1 / (len(others) + 1):.4f}")

    def _tell_peers(self) -> None:
        """Each serving worker learns how many others serve beside it: alone, it takes every
        waiting connection at once; with peers, one at a time, the least busy first."""
        with self._lock:
            serving = [w for w in self._workers if w.serving]
        for w in serving:
            if w.peers_told != len(serving) - 1:
                w.peers_told = len(serving) - 1
                self._tell(w, f"peers {w.peers_told}")

    def _ready(self, w: Worker) -> bool:
        try:
            r = self._probe_http.get(f"http://127.0.0.1:{w.port}/v2/health/ready")
        except httpx.HTTPError:
            return False
        return r.status_code == 200
