"""Open Inference Protocol v2, driven by a client nobody here wrote: tritonclient[http]."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.inference.server import ServerThread

ROWS = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], dtype=np.float32)


@pytest.fixture
def triton_client(service: ServerThread) -> Iterator[triton.InferenceServerClient]:
    client = triton.InferenceServerClient(url=service.url.removeprefix("http://"))
    yield client
    client.close()


def expected(client: httpx.Client, version: str) -> np.ndarray:
    body = {"model": "iris", "inputs": ROWS.tolist(), "version": version}
    return np.array(client.post("/predict", json=body).json()["outputs"], dtype=np.float32)


def test_server_health_and_metadata(triton_client: triton.InferenceServerClient) -> None:
    assert triton_client.is_server_live()
    assert triton_client.is_server_ready()
    metadata = triton_client.get_server_metadata()
    assert metadata["name"] == "pier"
    assert metadata["extensions"] == ["binary_tensor_data"]


def test_model_metadata_and_readiness(triton_client: triton.InferenceServerClient) -> None:
    metadata = triton_client.get_model_metadata("iris")
    assert metadata["name"] == "iris"
    assert metadata["versions"] == ["e1", "v1", "v2"]
    assert metadata["platform"] == "pytorch_torchscript"
    assert metadata["inputs"] == [{"name": "features", "datatype": "FP32", "shape": [-1, 4]}]
    assert metadata["outputs"] == [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]}]
    exported = triton_client.get_model_metadata("iris", model_version="e1")
    assert exported["platform"] == "pytorch_export" and exported["versions"] == ["e1"]
    pair = triton_client.get_model_metadata("pair")
    assert [i["datatype"] for i in pair["inputs"]] == ["FP32", "INT64"]
    assert triton_client.is_model_ready("iris")
    assert triton_client.is_model_ready("iris", model_version="v2")
    assert not triton_client.is_model_ready("iris", model_version="v7")
    assert not triton_client.is_model_ready("wine")


@pytest.mark.parametrize("binary_in", [True, False])
@pytest.mark.parametrize("binary_out", [True, False])
def test_infer_binary_and_json(
    triton_client: triton.InferenceServerClient,
    client: httpx.Client,
    binary_in: bool,
    binary_out: bool,
) -> None:
    features = triton.InferInput("features", list(ROWS.shape), "FP32")
    features.set_data_from_numpy(ROWS, binary_data=binary_in)
    outputs = [triton.InferRequestedOutput("probabilities", binary_data=binary_out)]
    result = triton_client.infer("iris", [features], model_version="v2", outputs=outputs)
    assert result.get_response()["model_version"] == "v2"
    np.testing.assert_allclose(result.as_numpy("probabilities"), expected(client, "v2"), rtol=1e-6)


def test_infer_without_requested_outputs_gets_binary(
    triton_client: triton.InferenceServerClient,
) -> None:
    features = triton.InferInput("features", list(ROWS.shape), "FP32")
    features.set_data_from_numpy(ROWS)
    result = triton_client.infer("iris", [features], model_version="e1")
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (2, 3) and probabilities.dtype == np.float32
    assert result.get_response()["outputs"][0]["parameters"]["binary_data_size"] == 24


def test_unversioned_infer_follows_the_weights(triton_client: triton.InferenceServerClient) -> None:
    features = triton.InferInput("features", list(ROWS.shape), "FP32")
    features.set_data_from_numpy(ROWS)
    served = {
        triton_client.infer("iris", [features]).get_response()["model_version"] for _ in range(80)
    }
    assert served == {"v1", "v2"}


def test_several_inputs_and_int_outputs(triton_client: triton.InferenceServerClient) -> None:
    a = triton.InferInput("a", [2, 2], "FP32")
    a.set_data_from_numpy(np.array([[1, -2], [3, 4]], dtype=np.float32))
    b = triton.InferInput("b", [2, 1], "INT64")
    b.set_data_from_numpy(np.array([[1], [2]], dtype=np.int64), binary_data=False)
    result = triton_client.infer(
        "pair", [a, b], outputs=[triton.InferRequestedOutput("count", binary_data=False)]
    )
    np.testing.assert_array_equal(result.as_numpy("count"), [1, 2])
    assert result.as_numpy("total") is None


def test_errors_use_the_v2_body(
    triton_client: triton.InferenceServerClient, client: httpx.Client
) -> None:
    wrong = triton.InferInput("features", [1, 3], "FP32")
    wrong.set_data_from_numpy(np.zeros((1, 3), dtype=np.float32))
    with pytest.raises(
        InferenceServerException, match=r"expected shape \[-1, 4\] float32, got \[1, 3\]"
    ):
        triton_client.infer("iris", [wrong])
    ints = triton.InferInput("features", [1, 4], "INT32")
    ints.set_data_from_numpy(np.zeros((1, 4), dtype=np.int32))
    with pytest.raises(InferenceServerException, match="expected datatype FP32, got INT32"):
        triton_client.infer("iris", [ints])
    response = client.post("/v2/models/wine/infer", json={"inputs": []})
    assert response.status_code == 404
    assert "served models: iris, pair" in response.json()["error"]
    response = client.post("/v2/models/iris/infer", content=b"{oops")
    assert response.status_code == 400 and "invalid JSON" in response.json()["error"]
    response = client.post(
        "/v2/models/iris/infer",
        json={
            "inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 4], "data": [1, 2]}]
        },
    )
    assert response.status_code == 400 and "expected 4 values" in response.json()["error"]
    response = client.post(
        "/v2/models/iris/versions/v1/infer",
        json={
            "inputs": [
                {"name": "features", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}
            ],
            "outputs": [{"name": "logits"}],
        },
    )
    assert response.status_code == 400 and "logits" in response.json()["error"]
    assert client.get("/v2/models/iris/versions/zz").status_code == 404


def test_plain_json_infer(client: httpx.Client) -> None:
    body = {
        "id": "req-1",
        "inputs": [
            {"name": "features", "datatype": "FP32", "shape": [2, 4], "data": ROWS.ravel().tolist()}
        ],
    }
    response = client.post("/v2/models/iris/versions/v1/infer", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (
        answer["id"] == "req-1"
        and answer["model_name"] == "iris"
        and answer["model_version"] == "v1"
    )
    (output,) = answer["outputs"]
    assert output["shape"] == [2, 3] and output["datatype"] == "FP32"
    np.testing.assert_allclose(
        np.reshape(output["data"], (2, 3)), expected(client, "v1"), rtol=1e-6
    )
