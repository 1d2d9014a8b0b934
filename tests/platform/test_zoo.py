"""The model zoo end to end: each architecture saved every way users save it (trace, script,
freeze, export), pushed, deployed on the local platform, and asked over every protocol. The
answers must equal, bit for bit, what the same artifact answers when loaded in this process."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
import tritonclient.http as triton

from control_plane.settings import PierSettings
from tests.support import zoo
from tests.support.platform import LocalPlatform, local_platform
from tests.support.servers import wait_until

ROWS = 3
CASES = [(s, m) for s in zoo.ZOO for m in zoo.METHODS]
V2_TYPES = {
    torch.float32: "FP32",
    torch.float64: "FP64",
    torch.float16: "FP16",
    torch.bfloat16: "BF16",
    torch.int64: "INT64",
    torch.bool: "BOOL",
}


@dataclass(frozen=True)
class Served:
    platform: LocalPlatform
    artifacts: dict[str, Path]


def _name(species: zoo.Species, method: str) -> str:
    return f"{species.name}-{method}"


def _push_rest(client: httpx.Client, species: zoo.Species, method: str, artifact: Path) -> None:
    stored = client.post("/api/v1/artifacts", content=artifact.read_bytes())
    assert stored.status_code in (200, 201), stored.text
    body = {
        "version": "v1",
        "sha256": stored.json()["sha256"],
        "inputs": species.inputs,
        "outputs": species.outputs,
    }
    created = client.post(f"/api/v1/models/{_name(species, method)}/versions", json=body)
    assert created.status_code == 201, created.text


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("home")
    work = tmp_path_factory.mktemp("zoo")
    artifacts: dict[str, Path] = {}
    with warnings.catch_warnings():  # tracing warns about data-dependent branches
        warnings.simplefilter("ignore")
        for species, method in CASES:
            suffix = "pt2" if method == "export" else "pt"
            path = work / f"{_name(species, method)}.{suffix}"
            zoo.save(species, method, path)
            artifacts[_name(species, method)] = path
    settings = PierSettings(home=home, database_url=f"sqlite:///{home / 'pier.db'}")
    # scalable: workers sharing the public port, as `make run` serves port 8080
    platform_cm = local_platform(settings, workdir=work, scalable=True)
    with platform_cm as platform, platform.client() as client:
        for species, method in CASES:
            artifact = artifacts[_name(species, method)]
            # Traced archives through both doors a user has: the CLI and the REST API.
            if method == "trace" and zoo.ZOO.index(species) % 2 == 0:
                pushed = platform.pier(
                    "push", str(zoo.manifest(work, species, method, artifact)), timeout_s=300
                )
                assert pushed.returncode == 0, pushed.stdout + pushed.stderr
            else:
                _push_rest(client, species, method, artifact)
            deployed = client.post(
                f"/api/v1/models/{_name(species, method)}/deploy", json={"version": "v1"}
            )
            assert deployed.status_code == 200, deployed.text
        yield Served(platform, artifacts)


def _reference(path: Path, species: zoo.Species) -> list[torch.Tensor]:
    """What the artifact answers when loaded here, in the outputs' order."""
    if path.suffix == ".pt2":
        module = torch.export.load(str(path)).module()
    else:
        module = torch.jit.load(str(path)).eval()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the worker runs it: kernels split work by thread count
    try:
        with torch.inference_mode():
            result = module(*species.example(ROWS))
    finally:
        torch.set_num_threads(threads)
    if isinstance(result, dict):
        return [result[str(s["name"])] for s in species.outputs]
    return list(result) if isinstance(result, tuple | list) else [result]


def _wire(t: torch.Tensor) -> np.ndarray:
    """A tensor as the service carries it in numpy: bfloat16 values in float32."""
    return t.float().numpy() if t.dtype == torch.bfloat16 else t.numpy()


def _assert_equal(
    species: zoo.Species, got: dict[str, np.ndarray], want: list[torch.Tensor]
) -> None:
    for spec, expected in zip(species.outputs, want, strict=True):
        name = str(spec["name"])
        np.testing.assert_array_equal(got[name], _wire(expected), err_msg=name)


def _ready(served: Served, name: str) -> None:
    """Wait until the worker has loaded the deployed version (it loads on the routing change)."""
    url = f"{served.platform.inference_url}/v2/models/{name}/ready"
    wait_until(lambda: httpx.get(url, timeout=10).status_code == 200, timeout=120)


@pytest.mark.parametrize(("species", "method"), CASES, ids=[_name(s, m) for s, m in CASES])
def test_every_protocol_answers_what_the_artifact_answers(
    served: Served, species: zoo.Species, method: str
) -> None:
    name = _name(species, method)
    _ready(served, name)
    example = species.example(ROWS)
    want = _reference(served.artifacts[name], species)
    in_names = [str(s["name"]) for s in species.inputs]
    out_names = [str(s["name"]) for s in species.outputs]
    base = served.platform.inference_url
    with httpx.Client(base_url=base, timeout=30) as c:
        # /predict, JSON
        inputs = {n: _wire(t).tolist() for n, t in zip(in_names, example, strict=True)}
        r = c.post("/predict", json={"model": name, "inputs": inputs})
        assert r.status_code == 200, r.text
        outputs = r.json()["outputs"]
        if len(out_names) == 1:
            outputs = {out_names[0]: outputs}
        got = {
            n: np.asarray(outputs[n], dtype=_wire(w).dtype)
            for n, w in zip(out_names, want, strict=True)
        }
        _assert_equal(species, got, want)

        # Open Inference Protocol v2, JSON data
        v2_inputs = [
            {
                "name": n,
                "datatype": V2_TYPES[t.dtype],
                "shape": list(t.shape),
                "data": _wire(t).reshape(-1).tolist(),
            }
            for n, t in zip(in_names, example, strict=True)
        ]
        r = c.post(f"/v2/models/{name}/infer", json={"inputs": v2_inputs})
        assert r.status_code == 200, r.text
        by_name = {o["name"]: o for o in r.json()["outputs"]}
        got = {
            n: np.asarray(by_name[n]["data"], dtype=_wire(w).dtype).reshape(by_name[n]["shape"])
            for n, w in zip(out_names, want, strict=True)
        }
        _assert_equal(species, got, want)

        # compact form: one input's raw bytes; the answer as raw bytes too with one output
        if len(in_names) == 1 and example[0].dtype != torch.bfloat16:
            headers = {
                "Content-Type": "application/x-pier-tensor",
                "X-Pier-Model": name,
                "X-Pier-Shape": ",".join(str(d) for d in example[0].shape),
            }
            if len(out_names) == 1:
                headers["Accept"] = "application/x-pier-tensor"
            r = c.post("/predict", content=example[0].numpy().tobytes(), headers=headers)
            assert r.status_code == 200, r.text
            if len(out_names) == 1:
                shape = [int(d) for d in r.headers["x-pier-shape"].split(",")]
                got = {out_names[0]: np.frombuffer(r.content, dtype=_wire(want[0]).dtype)}
                got[out_names[0]] = got[out_names[0]].reshape(shape)
            else:
                got = {n: np.asarray(v) for n, v in r.json()["outputs"].items()}
                got = {
                    n: got[n].astype(_wire(w).dtype) for n, w in zip(out_names, want, strict=True)
                }
            _assert_equal(species, got, want)

    # Open Inference Protocol v2, binary tensors, through Triton's own client
    client = triton.InferenceServerClient(base.removeprefix("http://"))
    try:
        requests = []
        for n, t in zip(in_names, example, strict=True):
            item = triton.InferInput(n, list(t.shape), V2_TYPES[t.dtype])
            item.set_data_from_numpy(_wire(t), binary_data=True)
            requests.append(item)
        wanted = [triton.InferRequestedOutput(n, binary_data=True) for n in out_names]
        result = client.infer(name, requests, outputs=wanted)
        # BF16 arrives as ml_dtypes.bfloat16, which float32 holds exactly
        got = {n: np.asarray(result.as_numpy(n)) for n in out_names}
        got = {n: a.astype(np.float32) if a.dtype.kind == "V" else a for n, a in got.items()}
        _assert_equal(species, got, want)
    finally:
        client.close()
