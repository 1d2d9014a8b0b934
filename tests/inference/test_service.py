"""The real service over HTTP: predictions, routing, introspection."""

from __future__ import annotations

import uuid
from collections import Counter

import httpx
import pytest

from tests.inference.server import ServerThread

ROW = [5.1, 3.5, 1.4, 0.2]


def test_predict_single_input(client: httpx.Client) -> None:
    response = client.post(
        "/predict", json={"model": "iris", "inputs": [ROW, ROW], "version": "v1"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "iris"
    assert body["version"] == "v1"
    assert response.headers["X-Pier-Version"] == "v1"
    assert len(body["outputs"]) == 2
    assert all(len(row) == 3 and abs(sum(row) - 1) < 1e-5 for row in body["outputs"])
    assert uuid.UUID(hex=body["prediction_id"]).version == 7  # time-ordered: see feedback


def test_predict_export_program(client: httpx.Client) -> None:
    response = client.post("/predict", json={"model": "iris", "inputs": [ROW], "version": "e1"})
    assert response.status_code == 200, response.text
    assert response.json()["version"] == "e1"


def test_versions_give_different_outputs(client: httpx.Client) -> None:
    outs = {
        v: client.post("/predict", json={"model": "iris", "inputs": [ROW], "version": v}).json()[
            "outputs"
        ]
        for v in ("v1", "v2")
    }
    assert outs["v1"] != outs["v2"]


def test_several_inputs_and_outputs(client: httpx.Client) -> None:
    response = client.post(
        "/predict",
        json={"model": "pair", "inputs": {"a": [[1.0, -2.0], [3.0, 4.0]], "b": [[1], [2]]}},
    )
    assert response.status_code == 200, response.text
    assert response.json()["outputs"] == {"total": [[0.0], [9.0]], "count": [1, 2]}


def test_weights_are_followed_without_a_key(client: httpx.Client) -> None:
    served = Counter(
        client.post("/predict", json={"model": "iris", "inputs": [ROW]}).json()["version"]
        for _ in range(300)
    )
    assert set(served) <= {"v1", "v2"}
    assert 200 <= served["v1"] <= 295, served


def test_a_key_is_sticky_in_the_body_and_the_header(client: httpx.Client) -> None:
    for key in (f"user-{i}" for i in range(20)):
        by_body = {
            client.post("/predict", json={"model": "iris", "inputs": [ROW], "key": key}).json()[
                "version"
            ]
            for _ in range(5)
        }
        by_header = {
            client.post(
                "/predict", json={"model": "iris", "inputs": [ROW]}, headers={"X-Pier-Key": key}
            ).json()["version"]
            for _ in range(5)
        }
        assert len(by_body) == 1
        assert by_body == by_header


def test_models_lists_what_is_served(client: httpx.Client, artifacts: dict) -> None:
    body = client.get("/models").json()
    assert body["ready"] is True
    assert body["revision"] == 1
    iris = next(m for m in body["models"] if m["name"] == "iris")
    assert iris["weights"] == {"v1": 90, "v2": 10}
    versions = {v["version"]: v for v in iris["versions"]}
    assert set(versions) == {"v1", "v2", "e1"}
    assert versions["e1"]["format"] == "torch_export"
    assert versions["v1"]["sha256"] == artifacts["v1"].spec("v1").sha256
    assert versions["v1"]["inputs"] == [{"name": "features", "dtype": "float32", "shape": [-1, 4]}]


def test_metrics_prometheus_text(client: httpx.Client) -> None:
    client.post("/predict", json={"model": "iris", "inputs": [ROW], "version": "v2"})
    client.post("/predict", json={"model": "nope", "inputs": [ROW]})
    text = client.get("/metrics").text
    assert 'pier_requests_total{code="200",model="iris",version="v2"}' in text
    assert 'pier_request_errors_total{model="_unknown",type="model_not_found",version=""}' in text
    assert 'pier_request_duration_seconds_bucket{le="0.001",model="iris",version="v2"}' in text
    assert 'pier_model_loaded{model="iris",version="e1"} 1.0' in text


def test_metrics_json_summary(client: httpx.Client) -> None:
    for _ in range(5):
        client.post("/predict", json={"model": "pair", "inputs": {"a": [[1, 2]], "b": [[1]]}})
    client.post("/predict", json={"model": "pair", "inputs": {"a": [[1, 2, 3]], "b": [[1]]}})
    response = client.get("/metrics?window=300", headers={"Accept": "application/json"})
    assert response.status_code == 200
    body = response.json()
    assert body["window_s"] == 300
    pair = next(m for m in body["models"] if m["model"] == "pair")
    assert pair["requests"] >= 6
    assert pair["errors"] >= 1
    assert 0 < pair["error_rate"] < 1
    assert 0 < pair["p50_ms"] <= pair["p95_ms"] <= pair["p99_ms"]
    assert pair["rps"] == pytest.approx(pair["requests"] / 300)


@pytest.mark.parametrize("window", ["0", "301", "abc"])
def test_metrics_window_is_bounded(client: httpx.Client, window: str) -> None:
    response = client.get(f"/metrics?window={window}", headers={"Accept": "application/json"})
    assert response.status_code == 422
    assert "window" in response.json()["error"]["message"]


def test_health(client: httpx.Client, service: ServerThread) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/v2/health/live").status_code == 200
    assert client.get("/v2/health/ready").status_code == 200
