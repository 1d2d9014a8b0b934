"""The local pool's public port, as `pier up` serves it: one listening socket that the pool
holds and every `python -m inference` worker serves, with real torch models on disk and
no control plane (the workers serve the routing table their cache holds)."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from control_plane.backends.local.load import read_totals
from control_plane.backends.local.orchestrator import LocalOrchestrator
from control_plane.backends.local.pool import WorkerPool
from inference.models.cache import ArtifactStore
from inference.schemas import ModelRoute, RoutingTable, TensorSpec, VersionSpec
from tests.scaling.load import ROW, Load
from tests.support import artifacts
from tests.support.servers import free_port, wait_until

pytestmark = pytest.mark.e2e

FEATURES = [TensorSpec(name="features", dtype="float32", shape=[-1, 4])]
PROBABILITIES = [TensorSpec(name="probabilities", dtype="float32", shape=[-1, 3])]


def stock(cache: Path, model: Path) -> None:
    store = ArtifactStore(cache)
    spec = VersionSpec(
        version="v1",
        sha256=store.put_file(model),
        size=model.stat().st_size,
        format="torchscript",
        inputs=FEATURES,
        outputs=PROBABILITIES,
    )
    route = ModelRoute(name="iris", weights={"v1": 100}, versions=[spec])
    store.save_routing(RoutingTable(revision=1, models=[route]))


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOrchestrator]:
    home = tmp_path_factory.mktemp("pool")
    # A forward pass of a few ms: requests are in flight long enough to be caught there.
    stock(home / "cache", artifacts.slow(home / "slow.pt", rounds=12))
    url = f"http://127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "PIER_INFERENCE_CACHE_DIR": str(home / "cache"),
        "PIER_INFERENCE_CONTROL_PLANE_URL": "",
        "PIER_INFERENCE_MAX_BATCH_ROWS": "1",
        "PIER_INFERENCE_MAX_IN_FLIGHT": "16",
    }
    orch = LocalOrchestrator(env=env, url=url, log_path=home / "inference.log", scalable=True)
    orch.start()
    try:
        wait_until(lambda: orch.ready_count() == 1, timeout=120)
        yield orch
    finally:
        orch.stop()
        print(f"\ninference log tail:\n{(home / 'inference.log').read_text()[-1500:]}")


def served(orch: LocalOrchestrator) -> dict[str, float]:
    """Prediction requests each live worker has answered, by its private URL."""
    out = {}
    for r in orch.replicas():
        try:
            text = httpx.get(f"{r.url}/metrics", timeout=5).text
        except httpx.HTTPError:
            continue
        out[r.url] = sum(t.requests for t in read_totals(text).values())
    return out


def test_answers_and_errors_reach_the_client_unchanged(pool: LocalOrchestrator) -> None:
    with httpx.Client(base_url=pool.url, timeout=30) as c:
        r = c.post("/predict", json={"model": "iris", "inputs": [ROW]})
        assert r.status_code == 200 and r.headers["x-pier-version"] == "v1"
        r = c.post("/predict", json={"model": "iris", "inputs": [[1.0, 2.0]]})
        assert r.status_code == 422 and "features" in r.text
        r = c.post("/predict", json={"model": "nope", "inputs": [ROW]})
        assert r.status_code == 404
        big = b'{"model": "iris", "inputs": [' + b"0," * (25 * 1024 * 1024) + b"0]}"
        r = c.post("/predict", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413, r.text

        def chunks() -> Iterator[bytes]:
            for _ in range(50):
                yield b" " * (1024 * 1024)

        r = c.post("/predict", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413, r.text


def test_the_port_being_taken_is_an_error_at_start(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        url = f"http://127.0.0.1:{taken.getsockname()[1]}"
        orch = LocalOrchestrator(env=dict(os.environ), url=url, log_path=tmp_path / "log")
        with pytest.raises(OSError):
            orch.start()


def test_scaling_spreads_keep_alive_clients_and_loses_nothing(pool: LocalOrchestrator) -> None:
    load = Load(pool.url, clients=8)
    load.start()
    try:
        time.sleep(2)
        before = served(pool)
        pool.scale_to(2)
        wait_until(lambda: pool.ready_count() == 2, timeout=120)
        ready_at = time.monotonic()
        new = wait_until(lambda: set(served(pool)) - set(before) or None, timeout=10)
        # The newcomer takes a fair share of the clients already connected within seconds.
        wait_until(lambda: served(pool).get(next(iter(new)), 0) >= 50, timeout=5)
        took_s = time.monotonic() - ready_at
        start = served(pool)
        time.sleep(3)
        end = served(pool)
        counts = {url: end[url] - start.get(url, 0) for url in end}
        pool.scale_to(1)
        wait_until(lambda: len(pool.replicas()) == 1, timeout=60)
        time.sleep(1)
    finally:
        samples = load.finish()
    failures = [s for s in samples if not s.ok]
    print(
        f"\n{len(samples)} requests, {len(failures)} failed; the new worker had answered 50 "
        f"{took_s:.1f} s after it was ready; answered per worker in the next 3 s: {counts}"
    )
    assert failures == [], [f.detail for f in failures[:5]]
    assert min(counts.values()) > 0.2 * max(counts.values()), counts


def test_a_killed_worker_loses_only_what_it_held(pool: LocalOrchestrator) -> None:
    assert pool.ready_count() == 1
    load = Load(pool.url, clients=4)
    load.start()
    try:
        time.sleep(2)
        pid = pool.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        wait_until(lambda: pool.ready_count() == 1 and pool.pid != pid, timeout=120)
        back_at = time.monotonic()
        time.sleep(2)
    finally:
        samples = load.finish()
    failures = [s for s in samples if not s.ok]
    waited = [s for s in samples if s.ok and killed_at < s.started < back_at - 0.5]
    print(
        f"\nkill -9 of the only worker under 4 clients: {len(samples)} requests, "
        f"{len(failures)} failed, {len(waited)} sent while no worker served waited "
        f"and were answered; the replacement served after {back_at - killed_at:.1f} s"
    )
    assert len(failures) <= 4, [f.detail for f in failures]
    assert waited, "no request was sent while the worker was down"
    assert pool.replicas()[0].restarts == 1


def test_no_worker_for_long_is_a_503_with_retry_after(tmp_path: Path) -> None:
    # A device that torch cannot use stops every worker at boot: none will ever serve.
    env = {
        **os.environ,
        "PIER_INFERENCE_CACHE_DIR": str(tmp_path),
        "PIER_INFERENCE_DEVICE": "cuda:7",
    }
    port = free_port()
    pool = WorkerPool(
        env=env,
        log_path=tmp_path / "inference.log",
        host="127.0.0.1",
        public_port=port,
        unavailable_after_s=2.0,
    )
    pool.start()
    try:
        with httpx.Client(timeout=30) as c:
            t0 = time.monotonic()
            r = c.post(f"http://127.0.0.1:{port}/predict", json={"model": "iris", "inputs": [ROW]})
            waited = time.monotonic() - t0
    finally:
        pool.stop()
    print(f"\nno worker: {r.status_code} after {waited:.1f} s: {r.text}")
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert r.json()["error"]["type"] == "unavailable"
    assert 1.0 < waited < 20
