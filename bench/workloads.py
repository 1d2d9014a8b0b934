"""The benchmark's models and request bodies, with fixed seeds so every run sends the same.

W1: an MLP 64->256->256->10, one row a request. W2: a small CNN on a 3x64x64 image, as
JSON, as Open Inference Protocol binary tensors and as /predict's compact form. W3: W1
with 32 rows a request.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

SEED = 0


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(SEED)
        self.net = nn.Sequential(
            nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(SEED)
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


@dataclass(frozen=True)
class ModelDef:
    """A model as every server sees it: one input, one output, names and shapes."""

    name: str
    input_name: str
    input_shape: tuple[int, ...]  # beyond the batch dimension
    output_name: str

    def module(self) -> nn.Module:
        return (MLP() if self.name == "mlp" else CNN()).eval()


MODELS = {
    "mlp": ModelDef("mlp", "features", (64,), "logits"),
    "cnn": ModelDef("cnn", "image", (3, 64, 64), "logits"),
}


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    model: ModelDef
    rows: int
    binary: bool = False  # /v2 binary tensors
    compact: bool = False  # /predict's compact form (raw tensor bytes both ways)


WORKLOADS = [
    Workload("W1", "MLP 64->256->256->10, 1 row per request, JSON", MODELS["mlp"], 1),
    Workload("W2-json", "CNN on 3x64x64, 1 image per request, JSON", MODELS["cnn"], 1),
    Workload(
        "W2-binary",
        "CNN on 3x64x64, 1 image per request, /v2 binary tensors",
        MODELS["cnn"],
        1,
        binary=True,
    ),
    Workload(
        "W2-compact",
        "CNN on 3x64x64, 1 image per request, /predict compact form (raw bytes both ways)",
        MODELS["cnn"],
        1,
        compact=True,
    ),
    Workload("W3", "MLP 64->256->256->10, 32 rows per request, JSON", MODELS["mlp"], 32),
]


def save_torchscript(model: ModelDef, path: Path) -> Path:
    torch.jit.script(model.module()).save(str(path))
    return path


def sample(workload: Workload) -> np.ndarray:
    rng = np.random.default_rng(SEED)
    shape = (workload.rows, *workload.model.input_shape)
    return rng.standard_normal(shape).astype(np.float32).round(4)


@dataclass(frozen=True)
class Request:
    path: str
    body: bytes
    headers: dict[str, str]


def json_request(workload: Workload, path: str, named: bool) -> Request:
    """{"model": ..., "inputs": rows} (Pier's /predict and the floor share this body)."""
    body = {"model": workload.model.name, "inputs": sample(workload).tolist()}
    if not named:
        body = {"inputs": body["inputs"]}
    return Request(path, json.dumps(body).encode(), {"Content-Type": "application/json"})


def v2_binary_request(workload: Workload) -> Request:
    """The Open Inference Protocol binary data extension: JSON header, then raw tensor bytes."""
    data = sample(workload)
    blob = np.ascontiguousarray(data, dtype="<f4").tobytes()
    head = json.dumps(
        {
            "inputs": [
                {
                    "name": workload.model.input_name,
                    "shape": list(data.shape),
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": len(blob)},
                }
            ],
            "outputs": [{"name": workload.model.output_name, "parameters": {"binary_data": True}}],
        }
    ).encode()
    return Request(
        f"/v2/models/{workload.model.name}/infer",
        head + blob,
        {
            "Content-Type": "application/octet-stream",
            "Inference-Header-Content-Length": str(len(head)),
        },
    )


def compact_request(workload: Workload) -> Request:
    """/predict's compact form: the raw little-endian tensor, shape in a header; the
    answer comes back as raw bytes too (Accept)."""
    data = sample(workload)
    return Request(
        "/predict",
        np.ascontiguousarray(data, dtype="<f4").tobytes(),
        {
            "Content-Type": "application/x-pier-tensor",
            "Accept": "application/x-pier-tensor",
            "X-Pier-Model": workload.model.name,
            "X-Pier-Shape": ",".join(str(d) for d in data.shape),
        },
    )


def in_process_rate(
    workload: Workload, seconds: float, batch: int = 1, core: int | None = None
) -> float:
    """Samples a second through the model alone, one thread, `batch` of this workload's
    requests per forward pass (1: forward passes a second of one request)."""
    return in_process_cost(workload, seconds, batch, core)[0]


def in_process_cost(
    workload: Workload, seconds: float, batch: int = 1, core: int | None = None
) -> tuple[float, float]:
    """in_process_rate, and the CPU time a sample took (s): the thread's own time, which
    time the host gives to others (steal, a neighbour on the core) does not inflate. With
    `core`, the calling thread runs on that core alone while it measures (the server's
    core, between load runs: the model's rate where the server's model runs)."""
    torch.set_num_threads(1)
    module = torch.jit.script(workload.model.module())
    one = torch.from_numpy(sample(workload))
    x = one.repeat(batch, *[1] * (one.dim() - 1))
    allowed = os.sched_getaffinity(0)
    if core is not None:
        os.sched_setaffinity(0, {core})  # 0: this thread only, on Linux
    try:
        with torch.inference_mode():
            for _ in range(20):
                module(x)
            count, start, cpu = 0, time.perf_counter(), time.thread_time()
            while time.perf_counter() - start < seconds:
                module(x)
                count += batch
            cpu = time.thread_time() - cpu
            elapsed = time.perf_counter() - start
    finally:
        os.sched_setaffinity(0, allowed)
    return count / elapsed, cpu / count
