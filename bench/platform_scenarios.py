"""Two scenarios through `pier up`'s public port, as users meet it: a keep-alive load spike
that should add workers which then take their share of the traffic, and back; and kill -9
of the only worker under load, which should cost no more than the requests it held."""

from __future__ import annotations

import collections
import os
import signal
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import torch
from torch import nn

from bench import procstats
from bench.loadgen import Load, Sample
from bench.pier_up import (
    ONE_WORKER,
    PierUp,
    kind_of,
    serve_model,
    start_up,
    tensor_specs,
)
from bench.scenarios import Findings
from bench.serving import LOAD_CORE, SERVER_CORE
from bench.workloads import Request, Workload, json_request

CLIENT_TIMEOUT_S = 30.0  # a request queued for a worker that is starting is not a failure
SPIKE_CLIENTS, SPIKE_S, SLOW_MS = 16, 40, 20.0
SCALE_DOWN_WINDOW_S = 20
BACK_WITHIN_S = 120.0
TRAFFIC_WITHIN_S = 5.0
KILL_CLIENTS, KILL_AFTER_S, KILL_KEEP_S = 4, 3.0, 10.0
SPIKE_SCALING = {
    "min_replicas": 1,
    "max_replicas": 3,
    "target_metric": "inflight",
    "target_value": 2,
    "scale_up": {
        "stabilization_window_s": 0,
        "policies": [{"type": "Pods", "value": 4, "period_s": 15}],
    },
    "scale_down": {
        "stabilization_window_s": SCALE_DOWN_WINDOW_S,
        "policies": [{"type": "Percent", "value": 100, "period_s": 15}],
    },
}


class Slow(nn.Module):
    """A model of about SLOW_MS a call on one thread, whatever its rows: matmuls."""

    def __init__(self, rounds: int) -> None:
        super().__init__()
        self.rounds = rounds
        g = torch.Generator().manual_seed(0)
        self.work: torch.Tensor = torch.randn(192, 192, generator=g) / 14
        self.head: torch.Tensor = torch.randn(8, 10, generator=g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        acc = self.work
        for _ in range(self.rounds):
            acc = torch.tanh(acc @ self.work)
        return x @ self.head + 0.0 * acc.sum()


def _call_ms(module: nn.Module, calls: int = 9) -> float:
    """The median CPU time of a call, after TorchScript's first (profiling) calls."""
    x = torch.zeros(1, 8)
    costs = []
    with torch.inference_mode():
        for _ in range(5):
            module(x)
        for _ in range(calls):
            t0 = time.thread_time()
            module(x)
            costs.append(time.thread_time() - t0)
    return statistics.median(costs) * 1000


def slow_artifact(path: Path) -> tuple[Path, float]:
    """The Slow model with its rounds set to take about SLOW_MS a call here; its cost."""
    torch.set_num_threads(1)
    probe = 20
    rounds = max(1, round(probe * SLOW_MS / _call_ms(torch.jit.script(Slow(probe).eval()))))
    module = torch.jit.script(Slow(rounds).eval())
    module.save(str(path))
    return path, _call_ms(module)


def worker_pids(root: int) -> list[int]:
    return [pid for pid in procstats.tree_of(root) if kind_of(pid, root) == "workers"]


def served(url: str, model: str) -> float:
    """The replica's pier_requests_total for `model` (its /metrics); -1 when unreadable."""
    try:
        text = httpx.get(f"{url}/metrics", timeout=2).text
    except httpx.HTTPError:
        return -1.0
    needle = f'model="{model}"'
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("pier_requests_total{") and needle in line
    )


@dataclass
class Seen:
    url: str
    ready_at: float
    traffic_at: float | None = None
    total: float = -1.0  # the requests it had served when the load ended


@dataclass
class Watch:
    """Polls `pier up` every half second: the model's replicas in /api/v1/status, each
    one's requests on its /metrics, and the worker processes in its tree (/proc)."""

    up: PierUp
    model: str
    # (when, the model's replicas in the status, the worker processes' pids)
    timeline: list[tuple[float, int, tuple[int, ...]]] = field(default_factory=list)
    replicas: dict[str, Seen] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def poll(self) -> None:
        now, count = time.monotonic(), -1
        try:
            status = self.up.status()
        except httpx.HTTPError:
            status = None
        if status is not None:
            mine = [m for m in status["models"] if m["model"] == self.model]
            replicas = mine[0]["replicas"] if mine else []
            count = len(replicas)
            for r in replicas:
                seen = self.replicas.setdefault(r["id"], Seen(r["url"], now))
                if seen.traffic_at is None and served(r["url"], self.model) > 0:
                    seen.traffic_at = now
        self.timeline.append((now, count, tuple(worker_pids(self.up.process.pid))))

    def __enter__(self) -> Watch:
        self.poll()

        def loop() -> None:
            while not self._stop.wait(0.5):
                self.poll()

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def _failures(samples: list[Sample]) -> str:
    kinds = collections.Counter(s.detail for s in samples if not s.ok)
    return ", ".join(f"{n} {k}" for k, n in kinds.most_common()) or "none"


def _spike_cores() -> tuple[str, int, str]:
    """pier up's cores, the client's core, and how they were chosen."""
    n = os.cpu_count() or 2
    if n <= 2:
        return "", LOAD_CORE, f"pier up unpinned (this machine has {n} cores), client on core 1"
    return f"0-{n - 2}", n - 1, f"pier up on cores 0-{n - 2}, client on core {n - 1}"


def keepalive_spike(work: Path) -> Findings:
    """16 keep-alive clients for SPIKE_S on a SLOW_MS model (scaling 1-3 at 2 in flight a
    worker), iris idle beside it; workers over time, then silence until back to one."""
    artifact, call_ms = slow_artifact(work / "slow.pt")
    cores, client_core, placement = _spike_cores()
    up = start_up(work, work / "spike-pier-up.log", cores)
    if isinstance(up, str):
        return _not_run("keep-alive spike", up)
    body = b'{"model": "slow", "inputs": [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]]}'
    request = Request("/predict", body, {"Content-Type": "application/json"})
    version = {
        "inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 8]}],
        "outputs": [{"name": "y", "dtype": "float32", "shape": [-1, 10]}],
        "batching": {"max_rows": 1},  # one call a request: a worker's cost grows with load
    }
    try:
        problem = serve_model(up, "slow", artifact, version, SPIKE_SCALING, request)
        if problem:
            return _not_run("keep-alive spike", problem)
        load = Load(
            up.inference_url, request, SPIKE_CLIENTS, SPIKE_S, client_core, CLIENT_TIMEOUT_S
        )
        with Watch(up, "slow") as watch:
            load.start()
            t0, samples = load.finish()
            end = max(s.ended for s in samples) if samples else time.monotonic()
            for seen in list(watch.replicas.values()):
                seen.total = served(seen.url, "slow")
            back_at = _wait_back(watch, BACK_WITHIN_S)
    finally:
        up.stop()
    return _spike_findings(samples, t0, end, back_at, watch, call_ms, placement)


def _wait_back(watch: Watch, within_s: float) -> float | None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        t, count, pids = watch.timeline[-1]
        if count == 1 and len(pids) == 1:
            return t
        time.sleep(0.5)  # the watch polls every half second
    return None


def _spike_findings(
    samples: list[Sample],
    t0: float,
    end: float,
    back_at: float | None,
    watch: Watch,
    call_ms: float,
    placement: str,
) -> Findings:
    lines = [
        f"### Keep-alive spike through pier up's public port ({SPIKE_CLIENTS} keep-alive "
        f"clients for {SPIKE_S} s on a model of {call_ms:.0f} ms a call, scaling 1-3 workers "
        f"at 2 in flight each, scale-down window {SCALE_DOWN_WINDOW_S} s, iris idle beside "
        f"it; {placement})",
        "",
        "| from s | to s | answered | failed | workers (status) | worker processes |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    last = back_at or watch.timeline[-1][0]
    for start in range(0, int(last - t0) + 1, 5):
        a, b = t0 + start, t0 + start + 5
        done = [s for s in samples if a <= s.ended < b]
        points = [(c, p) for t, c, p in watch.timeline if a <= t < b]
        counts = "/".join(sorted({str(c) for c, _ in points})) or "-"
        procs = "/".join(sorted({str(len(p)) for _, p in points})) or "-"
        failed = sum(not s.ok for s in done)
        lines.append(
            f"| {start} | {start + 5} | {len(done) - failed} | {failed} | {counts} | {procs} |"
        )
    first = min(watch.replicas, key=lambda r: watch.replicas[r].ready_at, default=None)
    lines += [
        "",
        "| worker | ready at s | first traffic at s | ready -> traffic s | requests served |",
        "|---|---:|---:|---:|---:|",
    ]
    delays = []
    for replica, seen in sorted(watch.replicas.items(), key=lambda kv: kv[1].ready_at):
        took = f"{seen.traffic_at - t0:.1f}" if seen.traffic_at else "never"
        delay = seen.traffic_at - seen.ready_at if seen.traffic_at else None
        if replica != first:
            delays.append(delay)
        ready = "before" if replica == first else f"{seen.ready_at - t0:.1f}"
        took = "before" if replica == first else took
        total = f"{seen.total:,.0f}" if seen.total >= 0 else "-"
        lines.append(
            f"| {replica} | {ready} | {took} "
            f"| {'-' if delay is None or replica == first else f'{delay:.1f}'} | {total} |"
        )
    failed = sum(not s.ok for s in samples)
    peak = max((c for _, c, _ in watch.timeline), default=0)
    peak_procs = max((len(p) for _, _, p in watch.timeline), default=0)
    summary = [
        f"keep-alive spike ({'met' if failed == 0 else 'missed'}): {len(samples):,} requests, "
        f"{failed} failed ({_failures(samples)}) (target: none)",
        f"keep-alive spike: at most {peak} workers in /api/v1/status, {peak_procs} worker "
        f"processes (max 3; the platform adds none beyond the cores it is given: {placement})",
    ]
    if delays:
        worst = None if None in delays else max(d for d in delays if d is not None)
        verdict = "met" if worst is not None and worst <= TRAFFIC_WITHIN_S else "missed"
        shown = "never, for one of them" if worst is None else f"{worst:.1f} s at most"
        summary.append(
            f"keep-alive spike ({verdict}): a new worker took traffic {shown} after it was "
            f"ready (target {TRAFFIC_WITHIN_S:.0f} s: keep-alive clients must not stay on "
            f"the first worker)"
        )
    target = SCALE_DOWN_WINDOW_S + 30
    if back_at is None:
        summary.append(f"keep-alive spike (missed): not back to 1 worker {BACK_WITHIN_S:.0f} s "
                       "after the load ended")  # fmt: skip
    else:
        back = back_at - end
        summary.append(
            f"keep-alive spike ({'met' if back <= target else 'missed'}): back to 1 worker "
            f"{back:.0f} s after the load ended (target {target} s: the {SCALE_DOWN_WINDOW_S} s "
            "window, then a drain; /api/v1/status drops a replica only once it is silent)"
        )
    return Findings("\n".join(lines), summary)


def _not_run(name: str, why: str) -> Findings:
    return Findings(f"### {name}: not run\n\n{why}", [f"{name} (missed): not run: {why}"])


def kill_worker(w1: Workload, artifact: Path, work: Path) -> Findings:
    """KILL_CLIENTS keep-alive clients on W1 through pier up (one worker), SIGKILL of the
    worker after KILL_AFTER_S, load kept KILL_KEEP_S more: what failed, when it served."""
    up = start_up(work, work / "kill-pier-up.log", SERVER_CORE)
    if isinstance(up, str):
        return _not_run("kill -9 of the worker", up)
    request = json_request(w1, "/predict", named=True)
    seconds = KILL_AFTER_S + KILL_KEEP_S
    try:
        problem = serve_model(up, w1.model.name, artifact, tensor_specs(w1.model), ONE_WORKER,
                              request)  # fmt: skip
        if problem:
            return _not_run("kill -9 of the worker", problem)
        victim, how = _the_worker(up)
        if victim is None:
            return _not_run("kill -9 of the worker", how)
        load = Load(up.inference_url, request, KILL_CLIENTS, seconds, LOAD_CORE, CLIENT_TIMEOUT_S)
        with Watch(up, w1.model.name) as watch:
            load.start()
            _wait_answered(watch, up)
            time.sleep(KILL_AFTER_S)
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()
            t0, samples = load.finish()
    finally:
        up.stop()
    return _kill_findings(samples, t0, killed_at, victim, how, watch)


def _wait_answered(watch: Watch, up: PierUp, within_s: float = 60.0) -> None:
    """Until the worker has answered the load: the kill then falls under load."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline and up.process.poll() is None:
        seen = list(watch.replicas.values())
        if seen and served(seen[0].url, watch.model) > 1:
            return
        time.sleep(0.05)  # polling interval of a wait with a deadline


def _the_worker(up: PierUp) -> tuple[int | None, str]:
    """The only worker's pid: the one /api/v1/status names ("kind:PID"), if it is a worker
    of this tree; else the one `python -m inference` in the tree."""
    pids = worker_pids(up.process.pid)
    for replica in up.status()["replicas"]:
        tail = str(replica["id"]).rsplit(":", 1)[-1]
        if tail.isdigit() and int(tail) in pids:
            return int(tail), f"replica {replica['id']} in /api/v1/status"
    if len(pids) == 1:
        return pids[0], "the one `python -m inference` in pier up's tree"
    return None, f"no single worker to kill: {len(pids)} worker processes"


def _kill_findings(
    samples: list[Sample], t0: float, killed_at: float, victim: int, how: str, watch: Watch
) -> Findings:
    after = sorted(s.ended for s in samples if s.ok and s.ended > killed_at + 0.05)
    served_s = f"{after[0] - killed_at:.1f}" if after else "never"
    respawn = next(
        (t for t, _, pids in watch.timeline if t > killed_at and set(pids) - {victim}), None
    )
    respawn_s = f"{respawn - killed_at:.1f}" if respawn else "-"
    failed = sum(not s.ok for s in samples)
    lines = [
        f"### kill -9 of the only worker under load, through pier up's public port "
        f"({KILL_CLIENTS} keep-alive clients on W1, {CLIENT_TIMEOUT_S:.0f} s timeout; the "
        f"worker, pid {victim} ({how}), killed {killed_at - t0:.1f} s in; load for "
        f"{KILL_AFTER_S + KILL_KEEP_S:.0f} s)",
        "",
        "| requests | failed | failures | a worker process again after s "
        "| first answer after the kill, s |",
        "|---:|---:|---|---:|---:|",
        f"| {len(samples):,} | {failed} | {_failures(samples)} | {respawn_s} | {served_s} |",
    ]
    verdict = "met" if failed <= KILL_CLIENTS else "missed"
    return Findings(
        "\n".join(lines),
        [
            f"kill -9 of the worker ({verdict}): {failed} of {len(samples):,} requests failed "
            f"(target: at most the {KILL_CLIENTS} the worker held); the replacement answered "
            f"{served_s} s after the kill"
        ],
    )


def platform_scenarios(w1: Workload, artifact: Path, work: Path) -> list[Findings]:
    """Both scenarios; one that breaks is reported as not run, with why, and the run goes on."""
    found = []
    for name, run in (
        ("keep-alive spike", lambda: keepalive_spike(work)),
        ("kill -9 of the worker", lambda: kill_worker(w1, artifact, work)),
    ):
        try:
            found.append(run())
        except (RuntimeError, OSError, httpx.HTTPError, KeyError) as e:
            found.append(_not_run(name, f"{type(e).__name__}: {e}"))
    return found
