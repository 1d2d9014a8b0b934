"""Small real torch models saved the way users save them, for the tests."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from inference.schemas import TensorSpec, VersionSpec

FEATURES = [TensorSpec(name="features", dtype="float32", shape=[-1, 4])]
PROBABILITIES = [TensorSpec(name="probabilities", dtype="float32", shape=[-1, 3])]


class Classifier(torch.nn.Module):
    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.linear = torch.nn.Linear(4, 3)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.linear(features), dim=-1)


class TwoInTwoOut(torch.nn.Module):
    """Inputs a: float32 [-1, 2], b: int64 [-1, 1].

    Outputs total: float32 [-1, 1], count: int64 [-1].
    """

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        total = a.sum(dim=1, keepdim=True) + b.to(torch.float32)
        count = (a > 0).sum(dim=1)
        return total, count


TWO_IN = [
    TensorSpec(name="a", dtype="float32", shape=[-1, 2]),
    TensorSpec(name="b", dtype="int64", shape=[-1, 1]),
]
TWO_OUT = [
    TensorSpec(name="total", dtype="float32", shape=[-1, 1]),
    TensorSpec(name="count", dtype="int64", shape=[-1]),
]


def save_torchscript(module: torch.nn.Module, path: Path) -> Path:
    torch.jit.script(module.eval()).save(str(path))
    return path


def save_export(module: torch.nn.Module, path: Path) -> Path:
    batch = torch.export.Dim("batch", min=1, max=1_000_000)
    program = torch.export.export(
        module.eval(), (torch.zeros(2, 4),), dynamic_shapes={"features": {0: batch}}
    )
    torch.export.save(program, str(path))
    return path


@dataclass(frozen=True)
class Artifact:
    path: Path
    format: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]

    def spec(self, version: str) -> VersionSpec:
        data = self.path.read_bytes()
        return VersionSpec(
            version=version,
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            format=self.format,  # type: ignore[arg-type]
            inputs=self.inputs,
            outputs=self.outputs,
        )
