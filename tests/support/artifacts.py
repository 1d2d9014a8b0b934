"""Real torch models saved in the formats Pier accepts, and in formats it must refuse."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self, n_in: int = 4, hidden: int = 8, n_out: int = 3, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x), dim=-1)


def torchscript(path: Path, *, seed: int = 0, n_in: int = 4, n_out: int = 3) -> Path:
    model = MLP(n_in=n_in, n_out=n_out, seed=seed).eval()
    torch.jit.save(torch.jit.script(model), str(path))
    return path


def traced(path: Path, *, seed: int = 0) -> Path:
    """torch.jit.trace then save, as most TorchScript is made: the archive keeps the example
    inputs (traced_inputs.pkl)."""
    model = MLP(seed=seed).eval()
    torch.jit.save(torch.jit.trace(model, torch.randn(2, 4)), str(path))
    return path


def exported(path: Path, *, seed: int = 1) -> Path:
    model = MLP(seed=seed).eval()
    batch = torch.export.Dim("batch", min=1, max=4096)
    program = torch.export.export(model, (torch.zeros(2, 4),), dynamic_shapes=({0: batch},))
    torch.export.save(program, str(path))
    return path


class _Trap:
    """Unpickling this creates `path`: proof that a loader ran pickled code."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.path), "w"))


def pickled_module(path: Path, trap: Path) -> Path:
    """A plain torch.save(model) zip whose data.pkl would create `trap` when loaded."""
    torch.save({"model": MLP(), "trap": _Trap(trap)}, str(path))
    return path


def raw_pickle(path: Path, trap: Path) -> Path:
    """A bare pickle renamed .pt that would create `trap` when loaded."""
    path.write_bytes(pickle.dumps(_Trap(trap)))
    return path


IRIS_INPUTS = [{"name": "features", "dtype": "float32", "shape": [-1, 4]}]
IRIS_OUTPUTS = [{"name": "probabilities", "dtype": "float32", "shape": [-1, 3]}]


def manifest(dir_: Path, artifact: Path, name: str = "iris", version: str | None = None) -> Path:
    lines = ["model:", f'  name: "{name}"']
    if version is not None:
        lines.append(f'  version: "{version}"')
    lines += [
        '  framework: "pytorch"',
        f'  artifact: "{artifact.name}"',
        '  inputs:  [{name: "features", dtype: "float32", shape: [-1, 4]}]',
        '  outputs: [{name: "probabilities", dtype: "float32", shape: [-1, 3]}]',
        '  resources: {cpu: "500m", memory: "1Gi"}',
        "  metrics: {accuracy: 0.9}",
    ]
    path = dir_ / f"{name}-{version or 'auto'}-{artifact.stem}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


class _Flaky(nn.Module):
    """Raises on any row whose first feature exceeds `limit`: a model with a bug on part of
    its input space."""

    def __init__(self, limit: float) -> None:
        super().__init__()
        self.limit = limit
        self.inner = MLP(seed=11)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if bool((x[:, 0] > self.limit).any()):
            raise RuntimeError("feature 0 out of the range this version was trained on")
        return self.inner(x)


class _Slow(nn.Module):
    """Correct answers, but burns CPU first: a version that regressed latency."""

    def __init__(self, rounds: int) -> None:
        super().__init__()
        self.rounds = rounds
        self.inner = MLP(seed=12)
        self.register_buffer("work", torch.randn(192, 192))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        acc = self.work
        for _ in range(self.rounds):
            acc = torch.tanh(acc @ self.work)
        return self.inner(x) + 0.0 * acc.sum()


class _Crowded(nn.Module):
    """Correct answers, but every row of a call works with every other row, one pair at a
    time: a call's cost grows with the square of its rows, so past a few rows a bigger
    batch costs more a row, not less."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = MLP(seed=13)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        acc = torch.zeros(1)
        for i in range(x.shape[0]):
            for j in range(x.shape[0]):
                acc = acc + torch.tanh(x[i, 0] * x[j, 0]) + torch.sin(x[i, 1] - x[j, 1])
        return self.inner(x) + 0.0 * acc


def crowded(path: Path) -> Path:
    torch.jit.save(torch.jit.script(_Crowded().eval()), str(path))
    return path


def flaky(path: Path, limit: float = 6.0) -> Path:
    torch.jit.save(torch.jit.script(_Flaky(limit).eval()), str(path))
    return path


def slow(path: Path, rounds: int = 40) -> Path:
    torch.jit.save(torch.jit.script(_Slow(rounds).eval()), str(path))
    return path


class _Cuts(nn.Module):
    """Classifies a row by where its first feature falls among increasing cut points:
    class i when exactly i cuts lie below it. Shifting a cut makes a version less accurate
    on a known share of the inputs; cuts above every input make it answer class 0 always."""

    def __init__(self, cuts: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("cuts", torch.tensor(cuts, dtype=torch.float32))
        self.n_out = len(cuts) + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cls = (x[:, :1] > self.cuts.unsqueeze(0)).sum(dim=1)
        return nn.functional.one_hot(cls, self.n_out).to(torch.float32)


def cut_classifier(path: Path, cuts: tuple[float, ...] = (1.0, 2.0)) -> Path:
    """A 3-class classifier by cut points on feature 0 (see _Cuts), as TorchScript."""
    torch.jit.save(torch.jit.script(_Cuts(cuts).eval()), str(path))
    return path
