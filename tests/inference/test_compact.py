"""The compact form of /predict: raw tensor bytes in, JSON or raw bytes out, over HTTP
against a real replica serving real TorchScript models."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

ROWS = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], dtype=np.float32)
TENSOR = "application/x-pier-tensor"


def compact_headers(shape: tuple[int, ...], **extra: str) -> dict[str, str]:
    return {
        "Content-Type": TENSOR,
        "X-Pier-Model": "iris",
        "X-Pier-Shape": ",".join(str(d) for d in shape),
        **extra,
    }


def json_outputs(client: httpx.Client, version: str) -> np.ndarray:
    body = {"model": "iris", "inputs": ROWS.tolist(), "version": version}
    answer = client.post("/predict", json=body)
    assert answer.status_code == 200, answer.text
    return np.array(answer.json()["outputs"], dtype=np.float32)


def test_tensor_bytes_in_json_out(client: httpx.Client) -> None:
    answer = client.post(
        "/predict",
        content=ROWS.astype("<f4").tobytes(),
        headers=compact_headers(ROWS.shape, **{"X-Pier-Model-Version": "v2"}),
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["model"] == "iris" and body["version"] == "v2"
    assert body["prediction_id"]
    np.testing.assert_allclose(body["outputs"], json_outputs(client, "v2"), rtol=1e-6)


@pytest.mark.parametrize("content_type", [TENSOR, "application/octet-stream"])
def test_tensor_bytes_in_tensor_bytes_out(client: httpx.Client, content_type: str) -> None:
    headers = compact_headers(ROWS.shape, **{"X-Pier-Model-Version": "v1", "Accept": TENSOR})
    headers["Content-Type"] = content_type
    answer = client.post("/predict", content=ROWS.astype("<f4").tobytes(), headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == TENSOR
    assert answer.headers["x-pier-shape"] == "2,3"
    assert answer.headers["x-pier-dtype"] == "float32"
    assert answer.headers["x-pier-version"] == "v1"
    assert answer.headers["x-pier-prediction-id"]
    got = np.frombuffer(answer.content, dtype="<f4").reshape(2, 3)
    np.testing.assert_allclose(got, json_outputs(client, "v1"), rtol=1e-6)
    assert np.allclose(got.sum(axis=1), 1.0, atol=1e-5)  # softmax rows


def test_json_in_tensor_bytes_out(client: httpx.Client) -> None:
    body = {"model": "iris", "inputs": ROWS.tolist(), "version": "v1"}
    answer = client.post(
        "/predict", json=body, headers={"Accept": f"{TENSOR}, application/json;q=0.5"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-pier-shape"] == "2,3"
    got = np.frombuffer(answer.content, dtype="<f4").reshape(2, 3)
    np.testing.assert_allclose(got, json_outputs(client, "v1"), rtol=1e-6)


def test_json_is_still_the_default_answer(client: httpx.Client) -> None:
    answer = client.post(
        "/predict",
        content=ROWS.astype("<f4").tobytes(),
        headers=compact_headers(ROWS.shape, Accept="application/json, */*"),
    )
    assert answer.status_code == 200
    assert np.array(answer.json()["outputs"]).shape == (2, 3)


def test_key_header_routes_compact_requests_stickily(client: httpx.Client) -> None:
    versions = {
        client.post(
            "/predict",
            content=ROWS.astype("<f4").tobytes(),
            headers=compact_headers(ROWS.shape, **{"X-Pier-Key": "user-42"}),
        ).headers["x-pier-version"]
        for _ in range(20)
    }
    assert len(versions) == 1


def error_of(answer: httpx.Response) -> str:
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["type"] in ("invalid_input", "malformed_body")
    return str(error["message"])


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"X-Pier-Shape": "2,4"}, ROWS.tobytes(), "X-Pier-Model: expected the name"),
        ({"X-Pier-Model": "iris"}, ROWS.tobytes(), "X-Pier-Shape: expected the input's shape"),
        (
            {"X-Pier-Model": "iris", "X-Pier-Shape": "2,four"},
            ROWS.tobytes(),
            "X-Pier-Shape: expected 1 to 32 non-negative",
        ),
        (
            {"X-Pier-Model": "iris", "X-Pier-Shape": "2,4"},
            ROWS.tobytes()[:-4],
            "features: expected 32 bytes for shape [2, 4] float32, got 28",
        ),
        (
            {"X-Pier-Model": "iris", "X-Pier-Shape": "4,2"},
            ROWS.tobytes(),
            "features: expected shape [-1, 4] float32, got [4, 2]",
        ),
        (
            {"X-Pier-Model": "iris", "X-Pier-Shape": "2,4", "X-Pier-Dtype": "float64"},
            ROWS.astype(np.float64).tobytes()[:32],
            "features: expected dtype float32, got float64",
        ),
        (
            {"X-Pier-Model": "iris", "X-Pier-Shape": "2,4", "X-Pier-Dtype": "complex"},
            ROWS.tobytes(),
            "X-Pier-Dtype: expected one of",
        ),
        (
            {"X-Pier-Model": "iris", "X-Pier-Shape": "1,4"},
            np.array([[1, np.nan, 2, 3]], dtype=np.float32).tobytes(),
            "features: expected finite float32 values",
        ),
        (
            {"X-Pier-Model": "pair", "X-Pier-Shape": "1,2"},
            np.zeros((1, 2), dtype=np.float32).tobytes(),
            "the compact form carries one input; pair p1 has 2 inputs ['a', 'b']",
        ),
    ],
    ids=[
        "no-model",
        "no-shape",
        "bad-shape",
        "short-body",
        "wrong-shape",
        "wrong-dtype",
        "unknown-dtype",
        "nan",
        "two-inputs",
    ],
)
def test_bad_compact_requests_get_a_clear_422(
    client: httpx.Client, headers: dict[str, str], body: bytes, expected: str
) -> None:
    answer = client.post("/predict", content=body, headers={"Content-Type": TENSOR, **headers})
    assert expected in error_of(answer)


def test_a_multi_output_model_refuses_a_tensor_answer(client: httpx.Client) -> None:
    body = {"model": "pair", "inputs": {"a": [[1.0, 2.0]], "b": [[3]]}}
    answer = client.post("/predict", json=body, headers={"Accept": TENSOR})
    assert "has 2 outputs ['total', 'count']: ask for application/json" in error_of(answer)


def test_unknown_model_and_too_many_rows(client: httpx.Client) -> None:
    answer = client.post(
        "/predict",
        content=ROWS.tobytes(),
        headers=compact_headers(ROWS.shape, **{"X-Pier-Model": "wine"}),
    )
    assert answer.status_code == 404
    assert "model 'wine' is not served here" in answer.json()["error"]["message"]
    many = np.zeros((65, 4), dtype=np.float32)  # the fixture allows 64 rows a request
    answer = client.post("/predict", content=many.tobytes(), headers=compact_headers(many.shape))
    assert answer.status_code == 413
    assert "at most 64 rows" in answer.json()["error"]["message"]


def test_openapi_documents_the_compact_form(client: httpx.Client) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/predict"]["post"]
    assert set(operation["requestBody"]["content"]) == {"application/json", TENSOR}
    assert "X-Pier-Shape" in operation["requestBody"]["content"][TENSOR]["description"]
    assert TENSOR in operation["responses"]["200"]["content"]
