"""PIER_INFERENCE_WORKERS: `python -m inference` with 2 worker processes serves on one
port, and /metrics sums what both workers served (python -m inference makes the
PROMETHEUS_MULTIPROC_DIR itself when it is unset), under uvicorn (spawned workers) and
granian (forked workers: PIER_INFERENCE_SERVER)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from tests.inference.conftest import standard_table, stock_cache
from tests.inference.models import Artifact
from tests.support.replica import Replica, run_replica
from tests.support.servers import wait_until

ROW = [[5.1, 3.5, 1.4, 0.2]]


@pytest.fixture(scope="module", params=["uvicorn", "granian"])
def replica(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    artifacts: dict[str, Artifact],
) -> Iterator[Replica]:
    cache = tmp_path_factory.mktemp("cache")
    stock_cache(cache, artifacts, standard_table(artifacts))
    env = {
        "PIER_INFERENCE_WORKERS": "2",
        "PIER_INFERENCE_SERVER": request.param,
        "PIER_INFERENCE_CACHE_DIR": str(cache),
    }
    with run_replica(env, log_path=cache / "replica.log", ready_timeout=180) as r:
        yield r


def multiproc_dir(log: str) -> Path:
    found = re.search(r"2 workers share metrics through (\S+)", log)
    assert found, log
    return Path(found.group(1))


def requests_by_worker(directory: Path, scratch: Path) -> dict[str, float]:
    """pier_requests_total for iris as each worker wrote it: one worker's file at a time."""
    counts: dict[str, float] = {}
    for db in directory.glob("counter_*.db"):
        pid = db.stem.rsplit("_", 1)[-1]
        alone = scratch / pid
        alone.mkdir(exist_ok=True)
        shutil.copy(db, alone / db.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))
        counts[pid] = sum(
            sample.value
            for family in registry.collect()
            for sample in family.samples
            if sample.name == "pier_requests_total" and sample.labels.get("model") == "iris"
        )
    return counts


def value(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.split("{", 1)[0].split(" ", 1)[0] != name:
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def predict_once(url: str) -> int:
    # A fresh connection each call, so the kernel hands calls to either worker.
    return httpx.post(
        f"{url}/predict", json={"model": "iris", "inputs": ROW}, timeout=30
    ).status_code


def test_two_workers_serve_one_port_and_report_summed_metrics(
    replica: Replica, tmp_path: Path
) -> None:
    directory = multiproc_dir(replica.log())
    sent = 0
    with ThreadPoolExecutor(8) as pool:

        def burst() -> list[int]:
            nonlocal sent
            codes = list(pool.map(lambda _: predict_once(replica.url), range(40)))
            # A worker not ready yet answers 503 under no model: only answers count for iris.
            sent += codes.count(200)
            return codes

        # Readiness answers for whichever worker took the probe: wait until both serve.
        wait_until(lambda: burst() == [200] * 40, timeout=60, interval=0)

        def both_served() -> dict[str, float] | None:
            assert burst() == [200] * 40
            counts = requests_by_worker(directory, tmp_path)
            return counts if len(counts) == 2 and all(counts.values()) else None

        wait_until(both_served, timeout=60, interval=0)

    def all_counted() -> dict[str, float] | None:
        # A worker counts a request as its response goes out: the last few of the final
        # burst may land a moment after their clients have the answer.
        counts = requests_by_worker(directory, tmp_path)
        return counts if sum(counts.values()) == sent else None

    counts = wait_until(all_counted, timeout=10, interval=0.2)
    text = httpx.get(f"{replica.url}/metrics", timeout=10).text
    print(f"{sent} requests; by worker: {counts}")
    assert sum(counts.values()) == sent
    assert value(text, "pier_requests_total", model="iris") == sent
    assert value(text, "pier_worker_processes") == 2
