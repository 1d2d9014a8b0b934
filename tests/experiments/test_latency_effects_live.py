"""Latency verdicts from real traffic: two versions that cost the same, and one that does a
fifth more work, each split 50/50 and asked 3,000 times through the local platform."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from control_plane.settings import PierSettings
from tests.support import artifacts
from tests.support.controlplane import push
from tests.support.platform import LocalPlatform, local_platform
from tests.support.servers import wait_until

pytestmark = pytest.mark.e2e

ROUNDS = 128  # about 15 ms of work a request on this machine's cores: a fifth more is ~3 ms
REQUESTS = 3000
ROW = [5.1, 3.5, 1.4, 0.2]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    home, work = tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("work")
    settings = PierSettings(home=home, database_url=f"sqlite:///{home / 'pier.db'}")
    with local_platform(settings) as stack:
        with stack.client() as c:
            versions = {"equal": (ROUNDS, ROUNDS), "slower": (ROUNDS, ROUNDS * 6 // 5)}
            for model, (v1, v2) in versions.items():
                for label, rounds in (("v1", v1), ("v2", v2)):
                    made = artifacts.slow(work / f"{model}-{label}.pt", rounds=rounds)
                    assert push(c, made, name=model, version=label).status_code == 201
                c.put(
                    f"/api/v1/models/{model}/deployment", json={"weights": {"v1": 50, "v2": 50}}
                ).raise_for_status()
        yield stack


def _drive(stack: LocalPlatform, model: str) -> dict[str, list[float]]:
    """REQUESTS predictions over two clients, split by their keys: per version, the
    round trips (ms) the clients measured."""
    answered: dict[str, list[float]] = {}
    lock = threading.Lock()

    def client(first: int) -> None:
        with httpx.Client(base_url=stack.inference_url, timeout=30) as c:
            for i in range(first, REQUESTS, 2):
                began = time.perf_counter()
                r = c.post("/predict", json={"model": model, "inputs": [ROW], "key": f"k{i}"})
                took = 1000 * (time.perf_counter() - began)
                assert r.status_code == 200, r.text
                with lock:
                    answered.setdefault(r.json()["version"], []).append(took)

    wait_until(lambda: _serves_both(stack, model), timeout=90)
    time.sleep(2.5)  # the experiment counts whole seconds after the split's own
    threads = [threading.Thread(target=client, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answered


def _serves_both(stack: LocalPlatform, model: str) -> bool:
    seen = set()
    for v in ("v1", "v2"):
        body = {"model": model, "inputs": [ROW], "version": v}
        if httpx.post(f"{stack.inference_url}/predict", json=body, timeout=30).status_code == 200:
            seen.add(v)
    return seen == {"v1", "v2"}


def _experiment(
    stack: LocalPlatform, model: str, answered: dict[str, list[float]]
) -> dict[str, Any]:
    def counted() -> dict[str, Any] | None:
        with stack.client() as c:
            e: dict[str, Any] = c.get(f"/api/v1/models/{model}/experiment").json()
        seen = {v["version"]: v["requests"] for v in e["versions"]}
        return e if all(seen.get(v, 0) >= len(n) for v, n in answered.items()) else None

    e = wait_until(counted, timeout=60, interval=0.5)
    (c,) = e["comparisons"]
    (latency,) = [x for x in c["effects"] if x["measure"] == "latency"]
    clients = {v: f"{len(t)} at median {statistics.median(t):.2f} ms" for v, t in answered.items()}
    print(
        f"{model}: clients saw {clients}; median {latency['challenger']:.2f} vs "
        f"{latency['baseline']:.2f} ms, {latency['diff']:+.2f} ms "
        f"[{latency['low']:+.2f}, {latency['high']:+.2f}], "
        f"p = {latency['p_value']:.2g}, threshold {latency['threshold']:.2f} ms; "
        f"verdict: {c['verdict']}"
    )
    return e


def test_two_versions_of_equal_latency_differ_in_nothing_meaningful(
    stack: LocalPlatform,
) -> None:
    answered = _drive(stack, "equal")
    counts = [len(t) for t in answered.values()]
    assert sum(counts) == REQUESTS and min(counts) > REQUESTS // 4
    (c,) = _experiment(stack, "equal", answered)["comparisons"]
    assert c["verdict"].startswith("no meaningful difference between v2 and v1: latency p50 ")
    (latency,) = [x for x in c["effects"] if x["measure"] == "latency"]
    assert latency["reading"] == "negligible"
    assert -latency["threshold"] < latency["low"] < latency["high"] < latency["threshold"]


def test_a_version_a_fifth_slower_is_found_slower_with_its_interval(
    stack: LocalPlatform,
) -> None:
    answered = _drive(stack, "slower")
    (c,) = _experiment(stack, "slower", answered)["comparisons"]
    (latency,) = [x for x in c["effects"] if x["measure"] == "latency"]
    assert latency["reading"] == "worse", c["verdict"]
    assert latency["low"] > latency["threshold"] * 0.5 and latency["diff"] > latency["threshold"]
    assert c["verdict"].startswith("v2 is slower than v1: p50 ")
    d = 2 if max(latency["baseline"], latency["challenger"]) < 10 else 1
    interval = f"{latency['diff']:+.{d}f} ms [{latency['low']:+.{d}f}, {latency['high']:+.{d}f}]"
    assert interval in c["verdict"], c["verdict"]
    # The service's interval agrees with what the clients saw, within a millisecond.
    seen = statistics.median(answered["v2"]) - statistics.median(answered["v1"])
    assert latency["low"] - 1 <= seen <= latency["high"] + 1, seen
