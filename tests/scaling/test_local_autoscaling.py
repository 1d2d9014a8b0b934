"""A load spike on the local orchestrator, end to end.

The real control plane API (PostgreSQL), the local orchestrator's real `python -m inference`
workers sharing the public port, serving a torch model whose forward pass costs a few ms,
and the local autoscaler reading the model's scaling settings (min 1, max 3 but never more
than the cores, target 2 requests in flight per worker, no scale-up window, a 10 s
scale-down window, a pass every second). A second model is deployed and idle, with the
default settings (CPU, 300 s down-window): its policy must judge only its own load. A
bounded keep-alive load on 127.0.0.1: a quiet start, a spike of 8 concurrent clients for
about 30 s, then one client again. Every request is counted; none may fail.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from control_plane.backends.local.autoscaler import available_cores
from control_plane.settings import PierSettings
from tests.scaling.load import (
    SPIKE_CLIENTS,
    WORKER_ENV,
    Load,
    p99_ms,
    quantile_ms,
    spike_scaling,
)
from tests.support import artifacts
from tests.support.controlplane import push
from tests.support.pg import temporary_database
from tests.support.platform import LocalPlatform, local_platform
from tests.support.servers import wait_until

pytestmark = pytest.mark.e2e

SPIKE_S = 30.0
SCALING = spike_scaling(scale_down_window_s=10)
TOP = min(3, available_cores())  # no worker beyond the cores: it would only slow the others


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    home = tmp_path_factory.mktemp("home")

    def deploy(c: httpx.Client) -> None:
        model = artifacts.slow(home / "slow.pt", rounds=12)
        assert push(c, model, name="iris", version="v1").status_code == 201
        c.post("/api/v1/models/iris/deploy", json={"version": "v1"}).raise_for_status()
        r = c.put("/api/v1/models/iris/scaling", json={"scaling": SCALING})
        assert r.status_code == 200, r.text
        other = artifacts.torchscript(home / "idle.pt", seed=3)
        assert push(c, other, name="idle", version="v1").status_code == 201
        c.post("/api/v1/models/idle/deploy", json={"version": "v1"}).raise_for_status()

    try:
        with temporary_database() as db_url:
            settings = PierSettings(home=home, database_url=db_url, replica_stale_s=3)
            with local_platform(
                settings,
                scalable=True,
                autoscale_every_s=1.0,
                inference_env=WORKER_ENV,
                prepare=deploy,
            ) as stack:
                yield stack
    finally:
        log = home / "inference.log"
        print(f"\ninference log tail:\n{log.read_text()[-1500:] if log.exists() else ''}")


def serving_replicas(stack: LocalPlatform) -> set[str]:
    """Replica URLs the control plane sees serving iris (as the model page counts them)."""
    headers = {"Authorization": f"Bearer {stack.tokens.admin}"}
    status = httpx.get(f"{stack.api_url}/api/v1/status", headers=headers, timeout=10).json()
    (iris,) = [m for m in status["models"] if m["model"] == "iris"]
    return {r["url"] for r in iris["replicas"]}


def all_workers(urls: set[str]) -> set[str] | None:
    return urls if len(urls) == TOP else None


def test_a_spike_scales_up_then_down_and_no_request_fails(stack: LocalPlatform) -> None:
    orch = stack.orchestrator
    load = Load(stack.inference_url, clients=1)
    counts: list[tuple[float, int, int]] = []  # (t, wanted, ready)
    watching = threading.Event()

    def watch() -> None:
        while not watching.wait(0.25):
            counts.append((time.monotonic(), orch.size, orch.ready_count()))

    watcher = threading.Thread(target=watch, daemon=True)
    t0 = time.monotonic()
    load.start()
    watcher.start()
    seen_urls: set[str] = set()
    try:
        time.sleep(5)  # a quiet start: one client
        assert orch.size == 1, "scaled up without a spike"
        spike_at = time.monotonic()
        load.clients = SPIKE_CLIENTS
        wait_until(lambda: orch.ready_count() >= 2, timeout=SPIKE_S)
        up_at = time.monotonic()
        full = wait_until(lambda: orch.ready_count() == TOP, timeout=SPIKE_S)
        full_at = time.monotonic() if full else up_at
        seen_urls = wait_until(lambda: all_workers(serving_replicas(stack)), timeout=15)
        time.sleep(max(0.0, spike_at + SPIKE_S - time.monotonic()))
        calm_at = time.monotonic()
        load.clients = 1
        wait_until(lambda: orch.size == 1 and orch.ready_count() == 1, timeout=45)
        down_at = time.monotonic()
        time.sleep(3)
    finally:
        load.finish()
        watching.set()
        watcher.join(timeout=5)
    end = time.monotonic()

    failures = [s for s in load.samples if not s.ok]
    before = [s for s in load.samples if s.started < spike_at]
    spike_start = [s for s in load.samples if spike_at <= s.started < up_at]
    spike_scaled = [s for s in load.samples if full_at + 1 <= s.started < calm_at]
    after = [s for s in load.samples if down_at <= s.started]
    timeline: list[tuple[float, int, int]] = []
    for t, wanted, ready in counts:
        if not timeline or timeline[-1][1:] != (wanted, ready):
            timeline.append((round(t - t0, 1), wanted, ready))
    print(
        f"\nrequests: {len(load.samples)}, failed: {len(failures)}"
        f"\ntime to scale up: first extra worker ready {up_at - spike_at:.1f} s after the spike"
        f" began, all {TOP} ready after {full_at - spike_at:.1f} s"
        f"\nscale down: back to 1 worker {down_at - calm_at:.1f} s after the load fell"
        f" (scale-down window 10 s)"
        f"\np99 before the spike: {p99_ms(before):.1f} ms (p50 {quantile_ms(before, 0.5):.1f} ms,"
        f" {len(before)} requests, 1 client)"
        f"\np99 at spike start, 1 worker: {p99_ms(spike_start):.1f} ms"
        f" (p50 {quantile_ms(spike_start, 0.5):.1f} ms, {len(spike_start)} requests)"
        f"\np99 during the spike, {TOP} workers: {p99_ms(spike_scaled):.1f} ms"
        f" (p50 {quantile_ms(spike_scaled, 0.5):.1f} ms, {len(spike_scaled)} requests)"
        f"\np99 after, 1 worker: {p99_ms(after):.1f} ms ({len(after)} requests)"
        f"\nworkers over time (s since start, wanted, ready): {timeline}"
        f"\nreplicas the control plane saw serving: {sorted(seen_urls)}"
        f"\nrun took {end - t0:.0f} s"
    )
    assert failures == [], [f.detail for f in failures[:5]]
    assert all(r.restarts == 0 for r in orch.replicas())
    assert len(seen_urls) == TOP
    assert stack.inference_url not in seen_urls  # each worker is its own replica
    # The service holds through the spike. Whether p99 with three workers beats p99 with one
    # is printed above, not asserted: on two cores shared with other jobs, one stall of the
    # machine decides a p99 over a few hundred requests.
    assert p99_ms(spike_scaled) < 3000


def test_every_change_is_audited_with_the_policys_reason(stack: LocalPlatform) -> None:
    headers = {"Authorization": f"Bearer {stack.tokens.admin}"}
    events = httpx.get(
        f"{stack.api_url}/api/v1/audit",
        params={"model": "iris", "actor": "autoscaler"},
        headers=headers,
        timeout=10,
    ).json()
    changes = [(e["before"]["replicas"], e["after"]["replicas"]) for e in reversed(events)]
    print(f"\nautoscaler events: {[(e['at'], e['reason']) for e in reversed(events)]}")
    assert changes[0][0] == 1 and changes[-1][1] == 1
    assert max(after for _, after in changes) == TOP
    ups = [e for e in events if e["after"]["replicas"] > e["before"]["replicas"]]
    downs = [e for e in events if e["after"]["replicas"] < e["before"]["replicas"]]
    holds = [e for e in events if e["after"]["replicas"] == e["before"]["replicas"]]
    assert ups and downs
    if TOP < 3:  # the policy asked for 3 and the audit log says why it got fewer
        reasons = [e["reason"] for e in ups + holds]
        assert any("cores this machine gives them" in r for r in reasons), reasons
    assert all(e["action"] == "scaling.replicas" for e in events)
    assert all("inflight" in e["reason"] and "vs target 2" in e["reason"] for e in events)
    assert all(e["reason"].startswith("scale up") for e in ups)
    assert all(e["reason"].startswith("scale down") for e in downs)


def test_a_settings_change_moves_the_workers_and_is_audited(stack: LocalPlatform) -> None:
    headers = {"Authorization": f"Bearer {stack.tokens.admin}"}
    url = f"{stack.api_url}/api/v1/models/iris/scaling"
    with httpx.Client(headers=headers, timeout=30) as c:
        r = c.put(url, json={"scaling": {**SCALING, "min_replicas": 2}, "reason": "more room"})
        assert r.status_code == 200, r.text
        wait_until(lambda: stack.orchestrator.ready_count() == 2, timeout=60)
        r = c.put(url, json={"scaling": SCALING, "reason": "back to one"})
        assert r.status_code == 200, r.text
        events = c.get(
            f"{stack.api_url}/api/v1/audit", params={"model": "iris", "actor": "autoscaler"}
        ).json()
    # Moving to the new minimum is the policy's decision too, with its reason (the move back
    # down may already follow it: the load was low all along).
    reasons = [e["reason"] for e in events]
    assert "scale 1 -> 2: outside [2, 3], moved to min_replicas" in reasons[:2], reasons[:2]


def test_a_worker_that_crashes_under_load_loses_only_what_it_held(stack: LocalPlatform) -> None:
    orch = stack.orchestrator
    headers = {"Authorization": f"Bearer {stack.tokens.admin}"}
    url = f"{stack.api_url}/api/v1/models/iris/scaling"
    with httpx.Client(headers=headers, timeout=30) as c:
        c.put(url, json={"scaling": {**SCALING, "min_replicas": 2}}).raise_for_status()
    wait_until(lambda: orch.ready_count() == 2, timeout=60)
    load = Load(stack.inference_url, clients=4)
    load.start()
    try:
        time.sleep(3)
        victim = orch.replicas()[-1]
        os.kill(int(victim.id.split(":")[1]), signal.SIGKILL)
        killed_at = time.monotonic()
        wait_until(
            lambda: orch.ready_count() == 2 and any(r.restarts == 1 for r in orch.replicas()),
            timeout=60,
        )
        back_s = time.monotonic() - killed_at
        time.sleep(2)
    finally:
        samples = load.finish()
        with httpx.Client(headers=headers, timeout=30) as c:
            c.put(url, json={"scaling": SCALING}).raise_for_status()
    failures = [s for s in samples if not s.ok]
    print(
        f"\nworker killed under load: {len(samples)} requests, {len(failures)} failed;"
        f" restarted and ready again after {back_s:.1f} s"
    )
    # Four clients, one request each at a time: the killed worker held at most four.
    assert len(failures) <= 4, [f.detail for f in failures]
    assert all(s.ok for s in samples if s.started > killed_at + 1)
