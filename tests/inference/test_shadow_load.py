"""A slow shadow at 100 % adds no latency to the caller: the same open-loop load against
two `python -m inference` processes, one serving v1 alone, the other v1 with every request
mirrored to a slow shadow (about 20 ms per call, 10 times the live model). Prints the
caller's p50/p99 with the shadow off and on, and what the shadow did.

With 2 cores the replica and the load generator are pinned to different cores (taskset),
and the shadow's thread shares the replica's core: the figure includes that CPU contention.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from inference.schemas import ModelRoute, RoutingTable
from tests.inference.conftest import stock_cache
from tests.inference.models import FEATURES, PROBABILITIES, Artifact, Classifier, save_torchscript
from tests.inference.test_shadow import metric
from tests.support import artifacts as support
from tests.support.replica import Replica, run_replica

RATE = int(os.environ.get("PIER_SHADOW_LOAD_RATE", "300"))
SECONDS = float(os.environ.get("PIER_SHADOW_LOAD_SECONDS", "10"))


def _cores() -> tuple[str | None, list[str]]:
    """The replica's taskset CPU list (all cores but the last) and the load's taskset
    prefix (the last)."""
    n = os.cpu_count() or 1
    if n < 2 or shutil.which("taskset") is None:
        return None, []
    load = n - 1 if n <= 4 else n - 2
    return f"0-{load - 1}", ["taskset", "-c", f"{load}-{n - 1}"]


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Replica]]:
    root = tmp_path_factory.mktemp("shadow-load")
    live = Artifact(save_torchscript(Classifier(1), root / "v1.pt"), "torchscript", FEATURES,
                    PROBABILITIES)  # fmt: skip
    slow = Artifact(support.slow(root / "slow.pt", rounds=60), "torchscript", FEATURES,
                    PROBABILITIES)  # fmt: skip
    cpus, _ = _cores()
    with ExitStack() as stack:
        started: dict[str, Replica] = {}
        for name, shadow in (("off", {}), ("on", {"slow": 100})):
            cache = root / name
            cache.mkdir()
            table = RoutingTable(
                revision=1,
                models=[
                    ModelRoute(
                        name="iris",
                        weights={"v1": 100},
                        versions=[live.spec("v1"), slow.spec("slow")],
                        shadow=shadow,
                    )
                ],
            )
            stock_cache(cache, {"v1": live, "slow": slow}, table)
            replica = run_replica(
                {"PIER_INFERENCE_CACHE_DIR": str(cache)},
                log_path=cache / "replica.log",
                cpus=cpus,
                ready_timeout=None,
            )
            started[name] = stack.enter_context(replica)
        for r in started.values():  # both start at once; then wait for each
            r.wait_ready(90)
        yield started


def _load(url: str) -> dict[str, float]:
    _, pin = _cores()
    out = subprocess.run(
        [*pin, sys.executable, "-m", "tests.monitoring.load", url, "--rate", str(RATE),
         "--seconds", str(SECONDS), "--connections", "16"],
        capture_output=True, text=True, timeout=SECONDS + 60, check=True,
    )  # fmt: skip
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def test_a_slow_shadow_at_100_percent_adds_no_latency_under_load(
    replicas: dict[str, Replica],
) -> None:
    for r in replicas.values():  # warm the connections' first requests out of the figures
        _load_warm(r.url)
    off = _load(replicas["off"].url)
    on = _load(replicas["on"].url)
    text = httpx.get(f"{replicas['on'].url}/metrics").text
    shadow = {
        res: metric(text, "pier_shadow_requests_total", version="slow", result=res)
        for res in ("ok", "error", "dropped")
    }
    p50 = metric(text, "pier_request_duration_seconds_sum", version="slow") / max(
        1.0, metric(text, "pier_request_duration_seconds_count", version="slow")
    )
    print(
        f"\ncaller at {RATE} rps for {SECONDS:.0f} s, taskset {_cores()}:\n"
        f"  shadow off: {off['ok']:.0f} ok, {off['rps']} rps, p50 {off['p50_ms']} ms, "
        f"p99 {off['p99_ms']} ms\n"
        f"  shadow on:  {on['ok']:.0f} ok, {on['rps']} rps, p50 {on['p50_ms']} ms, "
        f"p99 {on['p99_ms']} ms\n"
        f"  shadow (slow, mean {p50 * 1000:.1f} ms a call): {shadow}"
    )
    assert off["failed"] == 0 and on["failed"] == 0
    assert shadow["ok"] > 0 and shadow["error"] == 0
    # Generous: the shadow's CPU shares the machine; its latency must not reach the caller.
    assert on["p50_ms"] <= 2 * off["p50_ms"] + 5
    assert on["p99_ms"] <= 3 * off["p99_ms"] + 20


def _load_warm(url: str) -> None:
    with httpx.Client(base_url=url, timeout=30) as c:
        for _ in range(20):
            c.post("/predict", json={"model": "iris", "inputs": [[5.1, 3.5, 1.4, 0.2]]})
