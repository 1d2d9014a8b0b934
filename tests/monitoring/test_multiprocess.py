"""Several worker processes per replica (PROMETHEUS_MULTIPROC_DIR): whichever worker
answers, /metrics and the JSON summary hold every worker's figures.

Two `python -m inference` processes share the directory, as uvicorn or gunicorn workers
of one replica would; each listens on its own port so the test can address each one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from control_plane.metrics.scraper import CounterScrape, Target
from tests.inference.models import Artifact
from tests.monitoring.support import predict, predicted_class, stock, value
from tests.support.replica import run_replica
from tests.support.servers import wait_until


@pytest.fixture(scope="module")
def workers(
    tmp_path_factory: pytest.TempPathFactory, artifacts: dict[str, Artifact]
) -> Iterator[list[str]]:
    shared = tmp_path_factory.mktemp("multiproc")
    with ExitStack() as stack:
        replicas = []
        for i in range(2):
            cache = stock(tmp_path_factory.mktemp(f"cache{i}"), artifacts)
            env = {"PROMETHEUS_MULTIPROC_DIR": str(shared), "PIER_INFERENCE_CACHE_DIR": str(cache)}
            log = Path(cache) / "worker.log"
            replicas.append(stack.enter_context(run_replica(env, log_path=log, ready_timeout=None)))
        for replica in replicas:  # both start at once; then wait for each
            replica.wait_ready(90)
        yield [replica.url for replica in replicas]


def test_prometheus_text_sums_every_worker(workers: list[str]) -> None:
    for url, n in zip(workers, (10, 15), strict=True):
        with httpx.Client(base_url=url, timeout=30) as c:
            for _ in range(n):
                predict(c, model="house")
    for url in workers:
        text = httpx.get(f"{url}/metrics").text
        assert value(text, "pier_requests_total", model="house", code="200") == 25
        assert value(text, "pier_request_duration_seconds_count", model="house") == 25
        assert value(text, "pier_worker_processes") == 2
        assert value(text, "pier_model_loaded", model="house", version="r1") == 1
        assert value(text, "process_resident_memory_bytes") > 2 * 20 * 2**20
        assert value(text, "process_cpu_seconds_total") > 0


def test_json_summary_and_feedback_merge_every_worker(workers: list[str]) -> None:
    a, b = workers
    with httpx.Client(base_url=a, timeout=30) as c:
        for _ in range(4):
            body = predict(c, version="v2")
            r = c.post(
                "/feedback",
                json={"prediction_id": body["prediction_id"], "label": predicted_class(body)},
            )
            assert r.status_code == 200, r.text
    with httpx.Client(base_url=b, timeout=30) as c:
        for _ in range(3):
            predict(c, version="v2")

    def merged() -> dict | None:
        body = httpx.get(f"{b}/metrics", headers={"Accept": "application/json"}).json()
        rows = [m for m in body["models"] if (m["model"], m["version"]) == ("iris", "v2")]
        done = body["workers"] == 2 and rows and rows[0]["requests"] == 7
        return rows[0] if done and rows[0]["labelled"] == 4 else None

    row = wait_until(merged, timeout=15, interval=0.2)
    assert row["accuracy"] == 1.0
    books = httpx.get(f"{b}/feedback/aggregates").json()["books"]
    assert len(books) == 2
    assert sum(x["labelled"] for book in books for x in book["buckets"]) == 4


def test_a_new_replica_with_several_workers_is_counted_from_its_first_scrape(
    tmp_path: Path, artifacts: dict[str, Artifact]
) -> None:
    """Its /metrics says when the replica started, so a scraper that was running before
    counts the requests it served before the first scrape instead of leaving them out."""
    scraper_started = time.time()
    cache = stock(tmp_path / "cache", artifacts)
    env = {"PIER_INFERENCE_WORKERS": "2", "PIER_INFERENCE_CACHE_DIR": str(cache)}
    with run_replica(env, log_path=tmp_path / "replica.log") as replica:
        # Ready once both workers are: new connections land on either, so ten in a row.
        wait_until(lambda: _ready_ten_times(replica.url), timeout=60)
        text = httpx.get(f"{replica.url}/metrics").text
        assert scraper_started <= value(text, "process_start_time_seconds") <= time.time()
        with httpx.Client(base_url=replica.url, timeout=30) as c:
            for _ in range(12):
                predict(c, model="house")
            scrape = CounterScrape(started_at=scraper_started)
            target = Target(name="r", url=replica.url, models=frozenset({"house"}))
            now = time.time()
            scrape.scrape(c, [target], now)
    total = scrape.rollup.tier_for(60).total(("house", "r1"), int(now) - 5, int(now) + 5)
    assert total.requests == 12


def _ready_ten_times(url: str) -> bool:
    return all(httpx.get(f"{url}/v2/health/ready").status_code == 200 for _ in range(10))
