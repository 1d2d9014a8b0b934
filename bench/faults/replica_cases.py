"""Fault cases about one replica alone: overload past its capacity, models that raise or
hang on some inputs, SIGTERM under load."""

from __future__ import annotations

import signal
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.faults import models
from bench.faults.load import Load, percentile, run_for
from bench.faults.report import CaseResult, codes, latency_figures, ms
from bench.faults.services import answers, wait_until
from bench.faults.stack import GOOD_ROW, POISON_ROW, predict_body, replica
from bench.procstats import TreeWatcher

REFUSALS = frozenset({429, 503})


def overload(
    *, probe_s: float = 3.0, seconds: float = 6.0, factor: float = 2.0, limit: int = 64
) -> CaseResult:
    """Capacity first (what the replica answers with 200 when pushed hard), then `factor`
    times that rate: admitted requests keep a bounded p99, the rest get 503/429 with
    Retry-After at once, memory stays flat."""
    body = predict_body()
    with tempfile.TemporaryDirectory(prefix="pier-faults-") as tmp:
        artifact = models.good(Path(tmp) / "iris.pt")
        with replica({"iris": artifact}, max_in_flight=limit) as r:
            # Warm up, then push with more connections than the replica admits.
            with Load(r.port, 200, lambda i: body, connections=8) as warm:
                run_for(warm, 1.0)
            probe = Load(r.port, 20_000, lambda i: body, connections=96, duration_s=probe_s)
            with probe:
                run_for(probe, probe_s)
            capacity = len(probe.result.latencies_ms()) / probe_s
            rate = factor * capacity
            load = Load(r.port, rate, lambda i: body, connections=512, duration_s=seconds)
            with TreeWatcher(r.process.pid) as watch, load:
                run_for(load, seconds)
            res = load.result
    by_status = res.statuses()
    refused = [s for s in res.samples if s.status in REFUSALS]
    unexplained = [s for s in res.samples if s.status != 200 and s.status not in REFUSALS]
    bare = [s for s in refused if not s.retry_after]
    refusal_ms = sorted((s.done - s.sent) * 1000 for s in refused)
    # The first half holds the transient of 512 connections opening at once; the second
    # is the steady state, where an admitted request waits behind at most `limit` others,
    # served at the accepted rate: about limit / accepted seconds, however long it lasts.
    # (Refusing is not free: each refusal costs the worker an HTTP parse and an answer, so
    # the accepted rate under overload is below the capacity measured without it.)
    middle = res.started + seconds / 2
    halves = [
        percentile(sorted((s.done - s.sent) * 1000 for s in res.samples
                          if s.status == 200 and (s.sent >= middle) == late), 0.99)
        for late in (False, True)
    ]  # fmt: skip
    accepted_rps = by_status.get("200", 0) / max(seconds, 1e-9)
    bound_ms = 2000 * limit / max(accepted_rps, 1) + 500
    peak_mib = watch.peak_rss_bytes / 2**20
    return CaseResult(
        "overload at 2x capacity",
        res.requests,
        len(unexplained) + len(bare),
        {
            "capacity": f"{capacity:.0f}/s",
            **latency_figures(res),
            "accepted": f"{accepted_rps:.0f}/s ({accepted_rps / max(capacity, 1):.0%} of capacity)",
            "refused 503/429": str(len(refused)),
            "refusal p99": ms(percentile(refusal_ms, 0.99)),
            "in-flight limit": str(limit),
            "accepted p99 1st/2nd half": f"{ms(halves[0])} / {ms(halves[1])}",
            "peak RSS": f"{peak_mib:.0f} MiB",
        },
        {
            "only 200 or 503/429": not unexplained,
            "every refusal has Retry-After": not bare,
            "some refused (load beyond capacity)": bool(refused),
            f"steady accepted p99 < {bound_ms:.0f} ms (2 x limit/accepted + 0.5 s)": halves[1]
            is not None
            and halves[1] < bound_ms,
            "peak RSS < 1 GiB": peak_mib < 1024,
        },
    )


def bad_models(
    *, seconds: float = 8.0, rate: float = 50.0, hang_rounds: int = 200_000, timeout_s: float = 2.0
) -> CaseResult:
    """A model that raises on some rows and one that hangs on some rows, beside a good model,
    under steady traffic to all three, with a request timeout of `timeout_s`. 200,000 hang
    rounds: long enough that no host answers the hanging input within the 2 s timeout."""
    bodies = {
        "good": predict_body("iris"),
        "flaky-ok": predict_body("flaky", GOOD_ROW),
        "flaky-raise": predict_body("flaky", POISON_ROW),
        "hang-ok": predict_body("hang", GOOD_ROW),
        "hang-stuck": predict_body("hang", POISON_ROW),
    }
    # Every 10th request raises; one, 2 s in, hangs (seconds of a core).
    hang_at = int(rate * 2)

    def kind(i: int) -> str:
        if i == hang_at:
            return "hang-stuck"
        if i % 10 == 3:
            return "flaky-raise"
        return ("good", "flaky-ok", "hang-ok")[i % 3]

    ready_codes: list[int] = []
    with tempfile.TemporaryDirectory(prefix="pier-faults-") as tmp:
        root = Path(tmp)
        artifacts = {
            "iris": models.good(root / "iris.pt"),
            "flaky": models.flaky(root / "flaky.pt"),
            "hang": models.hanging(root / "hang.pt", rounds=hang_rounds),
        }
        # Not pinned: a hung call spins on one core, as a stuck model would.
        with replica(artifacts, cpus="", request_timeout_s=timeout_s) as r:
            load = Load(r.port, rate, lambda i: bodies[kind(i)], connections=64)
            with load:
                run_for(load, seconds, tick=lambda _: ready_codes.append(
                    answers(f"{r.url}/v2/health/ready", timeout=1)
                ))  # fmt: skip
            res = load.result
            after = answers(f"{r.url}/v2/health/ready")
            # Hung calls finish in the background; the replica then serves the hang model.
            recovered = wait_until(lambda: answers_predict(r.url, bodies["hang-ok"]), 60)
    outcome: dict[str, dict[str, int]] = {}
    for s in res.samples:
        key = str(s.status) if s.status else s.failure
        outcome.setdefault(kind(s.index), {}).setdefault(key, 0)
        outcome[kind(s.index)][key] += 1
    good_kinds = ("good", "flaky-ok", "hang-ok")
    good_total = sum(sum(outcome.get(k, {}).values()) for k in good_kinds)
    good_failed = sum(n for k in good_kinds for c, n in outcome.get(k, {}).items() if c != "200")
    raised = outcome.get("flaky-raise", {})
    stuck = outcome.get("hang-stuck", {})
    collateral = {c: n for k in good_kinds for c, n in outcome.get(k, {}).items() if c != "200"}
    return CaseResult(
        "model raises / hangs",
        res.requests,
        good_failed,
        {
            "raising inputs": codes(raised),
            "hanging inputs": codes(stuck),
            "other requests failed": codes(collateral) if collateral else "0",
            "readiness during": codes(_count(ready_codes)),
            "hang model serves again after": f"{recovered:.1f} s",
        },
        {
            "raising inputs get 500 model_error": set(raised) == {"500"},
            "hanging inputs get 504": set(stuck) == {"504"} and sum(stuck.values()) > 0,
            # Requests gathered into a hung call share its fate: at most a few per hang.
            "other requests fail <= 1 %": good_failed <= 0.01 * good_total,
            "readiness 200 throughout": set(ready_codes) == {200} and after == 200,
        },
    )


def answers_predict(url: str, body: bytes) -> bool:
    return httpx.post(f"{url}/predict", content=body, timeout=5).status_code == 200


def _count(values: list[int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return out


def sigterm(
    *, rate: float = 300.0, before_s: float = 2.0, slow_rounds: int = 200, held_s: float = 0.003
) -> CaseResult:
    """SIGTERM to a replica under load: every request it was holding completes with 200.

    A lone replica then stops listening (uvicorn's graceful shutdown): requests sent after
    that are refused, which in a fleet the other workers sharing the port (local pool) or the
    Service (Kubernetes, readiness then preStop) take instead. They are counted apart."""
    body = predict_body()
    with tempfile.TemporaryDirectory(prefix="pier-faults-") as tmp:
        # 200 rounds: tens of milliseconds a call, longer than the time between requests, so
        # that the replica is holding some at any time, on a fast host too.
        artifact = models.slow(Path(tmp) / "slow.pt", rounds=slow_rounds)
        with replica({"iris": artifact}) as r:
            load = Load(r.port, rate, lambda i: body, connections=64)
            exited = threading.Event()
            with load:
                run_for(load, before_s)
                # Signal while a request has waited `held_s` for its answer: it has reached
                # the replica, not only left the client.
                wait_until(lambda: load.oldest_pending_s() >= held_s, 5.0, 0.001)
                term_at = time.monotonic()
                r.process.signal(signal.SIGTERM)
                code = r.process.wait(timeout=60)
                exit_at = time.monotonic()
                exited.set()
                run_for(load, 0.5)
            res = load.result
    held = [s for s in res.samples if s.sent < term_at < s.done]
    held_failed = [s for s in held if s.status != 200]
    before = [s for s in res.samples if s.done <= term_at]
    after = [s for s in res.samples if s.sent >= term_at]
    after_ok = sum(1 for s in after if s.status == 200)
    return CaseResult(
        "SIGTERM of a worker",
        res.requests,
        len(held_failed) + sum(1 for s in before if s.status != 200),
        {
            "in flight at SIGTERM": str(len(held)),
            "of them completed": str(len(held) - len(held_failed)),
            "drain took": f"{exit_at - term_at:.2f} s",
            "exit status": str(code),
            "sent after SIGTERM": f"{len(after)} ({after_ok} answered, rest refused: port closed)",
        },
        {
            "requests in flight at SIGTERM": bool(held),
            "every in-flight request completed": not held_failed,
            "no failure before SIGTERM": all(s.status == 200 for s in before),
        },
    )
