"""Where a replica runs its models: PIER_INFERENCE_DEVICE (auto, cpu, cuda, cuda:N).

The CPU cases run everywhere; the CUDA cases need a GPU and a CUDA build of torch, and
are skipped without them (`python -m bench.cuda` measures the same service on a GPU).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from pydantic import ValidationError

from inference.app import create_app
from inference.schemas import ModelRoute, RoutingTable
from inference.settings import InferenceSettings
from tests.inference.conftest import ready, settings_for, standard_table, state, stock_cache
from tests.inference.models import Artifact
from tests.inference.server import ServerThread, wait_for
from tests.support.replica import ReplicaFailed, run_replica

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
HAS_CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="no CUDA device here")


def _serve(cache: Path, device: str) -> ServerThread:
    server = ServerThread(create_app(settings_for(cache, device=device))).start()
    wait_for(lambda: ready(server.url), timeout_s=60)
    return server


@pytest.fixture(scope="module")
def stocked(tmp_path_factory: pytest.TempPathFactory, artifacts: dict[str, Artifact]) -> Path:
    cache = tmp_path_factory.mktemp("device-cache")
    stock_cache(cache, artifacts, standard_table(artifacts))
    return cache


@pytest.fixture(scope="module")
def on_cpu(stocked: Path) -> Iterator[ServerThread]:
    server = _serve(stocked, "cpu")
    yield server
    server.stop()


def _outputs(url: str, version: str) -> np.ndarray:
    answer = httpx.post(
        f"{url}/predict", json={"model": "iris", "inputs": ROWS, "version": version}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return np.asarray(answer.json()["outputs"], dtype=np.float64)


def test_auto_picks_the_gpu_when_torch_sees_one_and_the_cpu_otherwise(stocked: Path) -> None:
    server = _serve(stocked, "auto")
    try:
        health = httpx.get(f"{server.url}/healthz").json()
        assert health["device"] == ("cuda:0" if HAS_CUDA else "cpu")
        # Served, and by the same model as on the CPU (TorchScript and torch.export alike).
        for version in ("v1", "e1"):
            assert _outputs(server.url, version).shape == (3, 3)
    finally:
        server.stop()


def test_the_default_device_is_auto() -> None:
    assert InferenceSettings().device == "auto"


@pytest.mark.parametrize("name", ["gpu", "cuda:", "cuda:x", "mps", "CPU", "cuda0"])
def test_a_device_name_pier_does_not_know_is_refused_with_the_names_it_takes(name: str) -> None:
    with pytest.raises(ValidationError, match=r"auto\|cpu\|cuda"):
        InferenceSettings(device=name)


@pytest.mark.skipif(HAS_CUDA, reason="a GPU is here: the replica would start")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_a_gpu_torch_cannot_use_stops_the_replica_at_boot_with_the_reason(
    tmp_path: Path, device: str
) -> None:
    """A replica given a GPU it cannot use would serve at a fraction of the rate it was
    sized for: it must not start, and must say why (not fall back to the CPU quietly)."""
    env = {"PIER_INFERENCE_DEVICE": device, "PIER_INFERENCE_CACHE_DIR": str(tmp_path / "cache")}
    stderr = tmp_path / "replica.log"
    with (
        pytest.raises(ReplicaFailed, match="replica exited") as done,
        run_replica(env, log_path=stderr, stdout_path=tmp_path / "stdout", ready_timeout=120),
    ):
        pass
    assert done.value.returncode != 0
    assert f"device '{device}': torch sees no CUDA device" in stderr.read_text()
    assert "use a CUDA build of torch" in stderr.read_text()


@needs_cuda
@pytest.mark.parametrize("version", ["v1", "e1"])  # TorchScript, torch.export
def test_a_model_served_on_the_gpu_answers_as_on_the_cpu(
    stocked: Path, on_cpu: ServerThread, version: str
) -> None:
    server = _serve(stocked, "cuda")
    try:
        assert httpx.get(f"{server.url}/healthz").json()["device"] == "cuda:0"
        np.testing.assert_allclose(
            _outputs(server.url, version), _outputs(on_cpu.url, version), rtol=1e-3, atol=1e-4
        )
    finally:
        server.stop()


@needs_cuda
def test_a_gpu_replica_loads_a_new_version_onto_the_gpu(
    tmp_path: Path, artifacts: dict[str, Artifact]
) -> None:
    """A version that arrives with a new routing table is loaded where the replica runs:
    it answers, and the GPU holds more memory than before it came."""
    cache = tmp_path / "cache"
    first = RoutingTable(
        revision=1,
        models=[
            ModelRoute(name="iris", weights={"v1": 100}, versions=[artifacts["v1"].spec("v1")])
        ],
    )
    stock_cache(cache, artifacts, first)
    server = _serve(cache, "cuda")
    try:
        before = torch.cuda.memory_allocated(0)
        server.call(state(server).poller.apply(standard_table(artifacts, revision=2)))
        assert "iris@v2" in httpx.get(f"{server.url}/healthz").json()["loaded"]
        assert _outputs(server.url, "v2").shape == (3, 3)
        assert torch.cuda.memory_allocated(0) > before
    finally:
        server.stop()
