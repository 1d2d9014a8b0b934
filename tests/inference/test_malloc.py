"""A worker keeps the memory a model call frees for the next call (inference/execution/malloc.py):
a convolutional model at 32 images a call, once warm, faults in next to no pages a call.
glibc's defaults hand the activations back to the kernel and fault them in again."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest

from bench.workloads import MODELS, save_torchscript
from inference.schemas import ModelRoute, RoutingTable, TensorSpec
from tests.inference.conftest import stock_cache
from tests.inference.models import Artifact
from tests.support.replica import run_replica

IMAGES = 32
WARM_CALLS, MEASURED_CALLS = 5, 20


@pytest.fixture(scope="module")
def convnet(tmp_path_factory: pytest.TempPathFactory) -> Artifact:
    """The bench's W2 model: two strided convolutions on a 3x64x64 image."""
    cnn = MODELS["cnn"]
    path = save_torchscript(cnn, tmp_path_factory.mktemp("convnet") / "cnn.pt")
    return Artifact(
        path,
        "torchscript",
        [TensorSpec(name=cnn.input_name, dtype="float32", shape=[-1, *cnn.input_shape])],
        [TensorSpec(name=cnn.output_name, dtype="float32", shape=[-1, 10])],
    )


def minor_faults(pid: int) -> int:
    """Pages the process has faulted in without reading a disk (proc(5): minflt)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[7])


def infer_body() -> tuple[bytes, dict[str, str]]:
    images = np.random.default_rng(0).random((IMAGES, 3, 64, 64), dtype=np.float32)
    blob = images.astype("<f4").tobytes()
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": MODELS["cnn"].input_name,
                    "shape": list(images.shape),
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": len(blob)},
                }
            ]
        }
    ).encode()
    return header + blob, {"Inference-Header-Content-Length": str(len(header))}


def faults_a_call(cache: Path, artifact: Artifact) -> float:
    """Page faults of a replica (`python -m inference`) a request of 32 images, once warm."""
    table = RoutingTable(
        revision=1,
        models=[ModelRoute(name="conv", weights={"v1": 100}, versions=[artifact.spec("v1")])],
    )
    stock_cache(cache, {"conv": artifact}, table)
    body, headers = infer_body()
    env = {"PIER_INFERENCE_CACHE_DIR": str(cache)}
    with (
        run_replica(env, log_path=cache / "replica.log", ready_timeout=180) as replica,
        httpx.Client(base_url=replica.url, timeout=60) as client,
    ):

        def call() -> None:
            r = client.post("/v2/models/conv/infer", content=body, headers=headers)
            assert r.status_code == 200, r.text
            assert r.json()["outputs"][0]["shape"] == [IMAGES, 10]

        for _ in range(WARM_CALLS):
            call()
        before = minor_faults(replica.pid)
        for _ in range(MEASURED_CALLS):
            call()
        return (minor_faults(replica.pid) - before) / MEASURED_CALLS


def test_a_warm_worker_does_not_fault_its_calls_memory_in_again(
    tmp_path: Path, convnet: Artifact
) -> None:
    # PIER_INFERENCE_KEEP_FREED_MEMORY=false is not measured: with glibc's defaults a
    # process faults in hundreds of pages a call or next to none, by chance.
    faults = faults_a_call(tmp_path / "keep", convnet)
    print(f"\npage faults a call of {IMAGES} images: {faults:.0f}")
    assert faults < 100
