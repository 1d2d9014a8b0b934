"""What one replica exports on GET /metrics: names, labels, and what they count."""

from __future__ import annotations

import httpx

from control_plane.metrics.scraper import CounterScrape, Target
from tests.monitoring.conftest import StartReplica
from tests.monitoring.support import ROW, predict, samples, value

# Every label a pier_* series may carry: all from bounded sets.
BOUNDED_LABELS = {"model", "version", "code", "type", "le", "result"}


def test_metric_names_and_labels(client: httpx.Client) -> None:
    predict(client, rows=3)
    client.post("/predict", json={"model": "iris", "inputs": [[1.0, 2.0]]})  # wrong shape
    client.post("/predict", json={"model": "nope", "inputs": [ROW]})

    text = client.get("/metrics").text
    found = samples(text)
    names = {n for n, _, _ in found}
    for name in (
        "pier_requests_total",
        "pier_request_errors_total",
        "pier_request_duration_seconds_bucket",
        "pier_request_duration_seconds_sum",
        "pier_request_duration_seconds_count",
        "pier_request_queue_seconds_bucket",
        "pier_model_inference_seconds_bucket",
        "pier_batch_size_bucket",
        "pier_inflight_requests",
        "pier_model_loaded",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
    ):
        assert name in names, name
    for name, labels, _ in found:
        if name.startswith("pier_"):
            assert set(labels) <= BOUNDED_LABELS, (name, labels)

    assert value(text, "pier_requests_total", model="iris", version="v1", code="200") >= 1
    assert value(text, "pier_requests_total", model="iris", version="v1", code="422") >= 1
    assert (
        value(text, "pier_request_errors_total", model="iris", version="v1", type="invalid_input")
        >= 1
    )
    assert value(text, "pier_request_errors_total", model="_unknown", type="model_not_found") >= 1
    assert value(text, "pier_model_loaded", model="iris", version="v2") == 1
    assert value(text, "pier_inflight_requests") == 0
    assert value(text, "process_resident_memory_bytes") > 10 * 1024 * 1024


def test_latency_buckets_span_sub_millisecond_to_seconds(client: httpx.Client) -> None:
    predict(client)
    bounds = {
        float(labels["le"])
        for name, labels, _ in samples(client.get("/metrics").text)
        if name == "pier_request_duration_seconds_bucket"
    }
    assert min(bounds) <= 0.0001
    assert len([b for b in bounds if b < 0.001]) >= 3
    assert 10.0 in bounds and float("inf") in bounds


def test_batch_size_observes_rows_per_model_call(client: httpx.Client) -> None:
    def count(le: str) -> float:
        return value(
            client.get("/metrics").text, "pier_batch_size_bucket", model="iris", version="v2", le=le
        )

    before_2, before_4 = count("2.0"), count("4.0")
    predict(client, rows=3, version="v2")
    assert count("2.0") == before_2
    assert count("4.0") == before_4 + 1


def test_queue_and_model_time_are_separate_and_within_the_request(client: httpx.Client) -> None:
    for _ in range(20):
        predict(client, model="house")
    text = client.get("/metrics").text
    labels = {"model": "house", "version": "r1"}
    total = value(text, "pier_request_duration_seconds_sum", **labels)
    queued = value(text, "pier_request_queue_seconds_sum", **labels)
    in_model = value(text, "pier_model_inference_seconds_sum", **labels)
    assert value(text, "pier_model_inference_seconds_count", **labels) == 20
    assert 0 < in_model < total
    assert 0 <= queued < total


def test_json_summary_per_version(client: httpx.Client) -> None:
    for _ in range(4):
        predict(client, version="v2")
    client.post("/predict", json={"model": "iris", "version": "v2", "inputs": [[1.0]]})
    r = client.get("/metrics?window=60", headers={"Accept": "application/json"})
    assert r.status_code == 200
    body = r.json()
    assert body["window_s"] == 60 and body["workers"] == 1
    v2 = next(m for m in body["models"] if (m["model"], m["version"]) == ("iris", "v2"))
    assert v2["requests"] >= 5 and v2["errors"] >= 1
    assert v2["errors_by_type"]["invalid_input"] >= 1
    assert 0 < v2["p50_ms"] <= v2["p95_ms"] <= v2["p99_ms"]
    assert {"accuracy", "labelled", "mae", "rmse"} <= set(v2)
    assert body["prediction_store"]["kind"] == "local"


def test_metrics_can_be_turned_off(start_replica: StartReplica) -> None:
    server = start_replica(metrics_enabled=False)
    with httpx.Client(base_url=server.url, timeout=30) as c:
        predict(c)
        r = c.get("/metrics")
        assert r.status_code == 404
        assert "PIER_INFERENCE_METRICS_ENABLED" in r.json()["error"]["message"]


def test_a_replica_missing_from_one_scrape_is_not_counted_twice(
    start_replica: StartReplica,
) -> None:
    """A routing change or a late health report drops a replica from the targets for a
    scrape; when it is back, only its new requests count, not its whole past again."""
    server = start_replica()
    target = Target(name="r1", url=server.url, models=frozenset({"iris"}))
    scrape = CounterScrape(started_at=0.0)  # the replica started after "us"
    t = 1_800_000_000.0
    with httpx.Client(base_url=server.url, timeout=30) as c:
        predict(c)
        scrape.scrape(c, [target], t)
        for _ in range(20):
            predict(c)
        scrape.scrape(c, [], t + 5)  # out of the targets once
        for _ in range(10):
            predict(c)
        scrape.scrape(c, [target], t + 10)
    total = scrape.rollup.tier_for(60).total(("iris", "v1"), int(t) - 30, int(t) + 30)
    assert total.requests == 31
