"""Fault cases about the whole platform: routing changes under load, a killed worker, the
database, Redis or the control plane going away and coming back."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.faults.load import Load, run_for
from bench.faults.report import CaseResult, codes, latency_figures, outcomes
from bench.faults.services import Postgres, Redis, wait_until
from bench.faults.stack import Platform, platform, predict_body
from control_plane.backends.local.orchestrator import LocalOrchestrator

BODY = predict_body()
CANARY = {
    "version": "v2",
    "steps": [10, 50, 100],
    "interval_s": 1,
    # The case is about lost requests during steps, not verdicts: lenient latency gate.
    "gates": {"min_requests": 20, "max_p99_ratio": 20},
    "reason": "fault suite",
}


def _load(p: Platform, rate: float) -> Load:
    return Load(p.inference_port, rate, lambda i: BODY, connections=64)


def _failed(load: Load) -> int:
    return len(load.result.failed())


def _canary_status(p: Platform) -> dict[str, object]:
    found: list[dict[str, object]] = p.call("GET", "/models/iris/canaries?limit=1").json()
    return found[0]


def _landing(p: Platform, version: str) -> float:
    """Seconds until the replica answers every request with `version`."""
    return wait_until(lambda: p.serves(version, tries=5), 30)


def routing_changes(*, rate: float = 500.0, settle_s: float = 1.5) -> CaseResult:
    """Deploy, rollback, a weight change and a canary's steps at `rate` requests a second:
    every request answered 200, every change landed on the replica."""
    landed: dict[str, float] = {}
    with platform() as p, _load(p, rate) as load:
        run_for(load, settle_s)

        def deploy(version: str) -> Callable[[], object]:
            return lambda: p.call("POST", "/models/iris/deploy", json={"version": version})

        split = {"weights": {"v1": 70, "v2": 30}}
        changes: list[tuple[str, Callable[[], object], str | None]] = [
            ("deploy", deploy("v2"), "v2"),
            ("rollback", lambda: p.call("POST", "/models/iris/rollback", json={}), "v1"),
            ("weights", lambda: p.call("PUT", "/models/iris/deployment", json=split), None),
            ("deploy back", deploy("v1"), "v1"),
        ]
        for name, change, expect in changes:
            change()
            if expect is not None:
                landed[name] = _landing(p, expect)
            run_for(load, settle_s)
        p.call("POST", "/models/iris/canaries", json=CANARY)
        final = wait_until(lambda: _canary_status(p)["status"] not in ("running", "paused"), 60)
        canary = _canary_status(p)
        run_for(load, settle_s)
        load.stop()
    res = load.result
    versions = Counter(s.version for s in res.samples if s.status == 200)
    return CaseResult(
        f"deploy, rollback, weights, canary at {rate:.0f} rps",
        res.requests,
        len(res.failed()),
        {
            **latency_figures(res),
            "answered by": ", ".join(f"{v} {n}" for v, n in sorted(versions.items())),
            "canary": f"{canary['status']} in {final:.1f} s ({canary['last_reason']})"[:120],
            "switch seen after": f"at most {max(landed.values(), default=0):.2f} s",
        },
        {
            "no failed request": not res.failed(),
            "every switch landed": len(landed) == 3,
            "canary finished": canary["status"] in ("promoted", "completed", "rolled_back"),
        },
    )


def _signal_a_worker(
    pool: LocalOrchestrator, load: Load, sig: int, workers: int
) -> tuple[float, float, int, float]:
    """Signal one pool worker under load and wait until the supervisor has restarted it and
    every worker is ready again: when it was sent, seconds to full service, restarts, and
    when the process was gone (a killed process still takes requests until then)."""
    run_for(load, 1.5)
    victim = pool.pid
    assert victim is not None
    sent_at = time.monotonic()
    os.kill(victim, sig)
    dead_at = sent_at + wait_until(lambda: _dead(victim), 30, interval=0.001)
    wait_until(lambda: sum(r.restarts for r in pool.replicas()) >= 1, 60)
    wait_until(lambda: pool.ready_count() == workers, 120)
    restarts = sum(r.restarts for r in pool.replicas())
    return sent_at, time.monotonic() - sent_at, restarts, dead_at


def _dead(pid: int) -> bool:
    """Its sockets are closed: no thread of it holds a descriptor any more. The leader's own
    /proc/PID/fd empties first, while its other threads still hold the shared table."""
    try:
        threads = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return True
    for thread in threads:
        try:
            if any((thread / "fd").iterdir()):
                return False
        except OSError:
            continue  # that thread is gone
    return True


def kill_worker(*, rate: float = 200.0, workers: int = 2) -> CaseResult:
    """kill -9 of one inference worker of the local pool under load. The other worker keeps
    accepting on the shared port and the supervisor restarts the dead one: failed requests
    are at most those the dead worker held; full service is the restarted worker ready."""
    with platform(workers=workers) as p, _load(p, rate) as load:
        assert p.pool is not None
        # The supervisor notices the death, restarts the worker, which rejoins once ready.
        killed_at, full, restarts, dead_at = _signal_a_worker(p.pool, load, signal.SIGKILL, workers)
        run_for(load, 1.0)
        load.stop()
    res = load.result
    # Held by the dying worker at most: in flight at the kill, or sent before it was gone.
    in_flight = [s for s in res.samples if s.sent < dead_at and s.done > killed_at]
    failed = res.failed()
    return CaseResult(
        f"kill -9 of one of {workers} inference workers",
        res.requests,
        len(failed),
        {
            **latency_figures(res),
            "in flight from the kill until the process was gone (all workers)": str(len(in_flight)),
            "process gone after": f"{(dead_at - killed_at) * 1000:.0f} ms",
            "failed": codes(outcomes(failed)),
            "restarts": str(restarts),
            "full service after": f"{full:.1f} s",
        },
        {
            "failed <= in flight": len(failed) <= len(in_flight),
            "worker restarted": restarts >= 1,
        },
    )


def sigterm_worker(*, rate: float = 200.0, workers: int = 2) -> CaseResult:
    """SIGTERM to one inference worker of the local pool under load, from outside (as an
    operator or the OS would send it). The worker stops accepting on the shared port and
    answers what it holds with `connection: close`, so its clients move to the other
    worker; the supervisor restarts it. Nothing may fail: neither the requests it held nor
    those that arrived while it drained."""
    with platform(workers=workers) as p, _load(p, rate) as load:
        assert p.pool is not None
        pool = p.pool
        term_at, full, restarts, _ = _signal_a_worker(pool, load, signal.SIGTERM, workers)
        restarted = pool.ready_count() == workers and restarts >= 1
        run_for(load, 1.0)
        load.stop()
    res = load.result
    in_flight = [s for s in res.samples if s.sent < term_at < s.done]
    during = [s for s in res.samples if term_at <= s.sent <= term_at + full]
    failed = res.failed()
    return CaseResult(
        f"SIGTERM of one of {workers} pool workers",
        res.requests,
        len(failed),
        {
            **latency_figures(res),
            "in flight at SIGTERM (all workers)": str(len(in_flight)),
            "sent while it drained and restarted": str(len(during)),
            "failed": codes(outcomes(failed)),
            "back to full strength after": f"{full:.1f} s",
        },
        {"no request failed": not failed, "worker restarted": restarted},
    )


def _full_service_after(load: Load, since: float, timeout: float = 30.0) -> float | None:
    """Seconds from `since` to the start of the first whole second of 200s after it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        samples = [s for s in load.result.samples if s.sent >= since]
        bad = [s.sent for s in samples if s.status != 200]
        last_bad = max(bad, default=since)
        if any(s.sent >= last_bad + 1.0 for s in samples):
            return last_bad - since
        time.sleep(0.2)
    return None


@dataclass
class ApiProbe:
    """Calls read and write routes of the control plane every `interval_s`, recording
    every status and whether 5xx answers carried Retry-After."""

    p: Platform
    interval_s: float = 0.1
    codes: Counter[str] = field(default_factory=Counter)
    bare_503: int = 0
    timeline: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _run(self) -> None:
        calls = [
            ("GET", "/api/v1/models", None),
            ("GET", "/api/v1/models/iris/deployment", None),
            ("GET", "/api/v1/routing", None),
            ("GET", "/api/v1/status", None),
            ("PUT", "/api/v1/models/iris/deployment", {"weights": {"v1": 100}}),
        ]
        i = 0
        with self.p.client(timeout=10) as c:
            while not self._stop.wait(self.interval_s):
                method, path, body = calls[i % len(calls)]
                i += 1
                try:
                    r = c.request(method, path, json=body)
                    code = r.status_code
                    if code == 503 and "retry-after" not in r.headers:
                        self.bare_503 += 1
                except httpx.HTTPError:
                    code = 0
                self.codes[str(code)] += 1
                self.timeline.append((time.monotonic(), code))

    def __enter__(self) -> ApiProbe:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def ok_since(self, since: float) -> bool:
        return any(t >= since and code == 200 for t, code in self.timeline)


def _outage_case(
    name: str, *, down: Callable[[], None], up: Callable[[], None], p: Platform, rate: float,
    outage_s: float,
) -> CaseResult:  # fmt: skip
    with _load(p, rate) as load:
        with ApiProbe(p) as probe:
            run_for(load, 1.0)
            down()
            down_at = time.monotonic()
            run_for(load, outage_s)
            during = Counter(probe.codes)
            up()
            up_at = time.monotonic()
            recovered = wait_until(lambda: probe.ok_since(up_at + 0.05), 60)
            run_for(load, 0.5)
        # A change made after recovery lands on the replica: the platform works again.
        p.call("POST", "/models/iris/deploy", json={"version": "v2"})
        landed = wait_until(lambda: p.serves("v2", tries=3), 30)
        run_for(load, 1.0)
        load.stop()
    res = load.result
    api_5xx = {c: n for c, n in probe.codes.items() if c.startswith("5") and c != "503"}
    return CaseResult(
        name,
        res.requests,
        len(res.failed()),
        {
            **latency_figures(res),
            "outage": f"{up_at - down_at:.1f} s",
            "control plane answers": codes(probe.codes),
            "503 during": str(during.get("503", 0)),
            "API back after restart": f"{recovered:.1f} s",
            "deploy after recovery landed in": f"{landed:.1f} s",
        },
        {
            "/predict failures 0": not res.failed(),
            "control plane never 500": not api_5xx and "0" not in probe.codes,
            "every 503 has Retry-After": probe.bare_503 == 0,
            "recovers without restart": recovered < 60,
        },
    )


def postgres_outage(*, rate: float = 200.0, outage_s: float = 4.0) -> CaseResult:
    """A private PostgreSQL under the control plane, stopped for `outage_s` and started."""
    with Postgres() as pg, platform(database_url=pg.url) as p:
        return _outage_case(
            "PostgreSQL stopped and restarted", down=pg.stop, up=pg.start, p=p, rate=rate,
            outage_s=outage_s,
        )  # fmt: skip


def redis_outage(*, rate: float = 200.0, outage_s: float = 4.0) -> CaseResult:
    """A private Redis under the control plane and the replica (routing announcements, the
    prediction store), stopped for `outage_s` and started."""
    with Redis() as redis, platform(redis_url=redis.url) as p:
        return _outage_case(
            "Redis stopped and restarted", down=redis.stop, up=redis.start, p=p, rate=rate,
            outage_s=outage_s,
        )  # fmt: skip


def control_plane_killed(*, rate: float = 200.0, down_s: float = 3.0) -> CaseResult:
    """kill -9 of the control plane during a canary: /predict unaffected; restarted, it picks
    the canary up where SQL says it stands and finishes it."""
    canary = {**CANARY, "interval_s": 2}
    with platform() as p, _load(p, rate) as load:
        run_for(load, 1.0)
        p.call("POST", "/models/iris/canaries", json=canary)
        wait_until(lambda: p.serves("v1", tries=1), 10)
        before = _canary_status(p)
        killed_at = time.monotonic()
        os.kill(p.cp.pid, signal.SIGKILL)
        p.cp.wait(timeout=10)
        run_for(load, down_s)
        down_failed = sum(1 for s in load.result.samples if s.sent >= killed_at and s.status != 200)
        api_back = p.restart_control_plane()
        finished = wait_until(lambda: _canary_status(p)["status"] not in ("running", "paused"), 60)
        after = _canary_status(p)
        run_for(load, 1.0)
        load.stop()
    res = load.result
    return CaseResult(
        "control plane killed during a canary",
        res.requests,
        len(res.failed()),
        {
            **latency_figures(res),
            "/predict failed while down": str(down_failed),
            "canary at kill": f"{before['status']} step {before['step']} ({before['weight']} %)",
            "API back after": f"{api_back:.1f} s",
            "canary then": f"{after['status']} {finished:.1f} s after restart",
        },
        {
            "/predict failures 0": not res.failed(),
            "canary resumed and finished": after["status"] != before["status"]
            or after["step"] != before["step"],
        },
    )
