"""The fault cases' models: real TorchScript archives, good ones and ones that misbehave on
the rows whose first feature exceeds 6 (raise, or hang for seconds)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from tests.support.artifacts import MLP, flaky, slow, torchscript

__all__ = ["flaky", "good", "hanging", "slow"]


def good(path: Path, seed: int = 0) -> Path:
    return torchscript(path, seed=seed)


class _Hang(nn.Module):
    """On a row whose feature 0 exceeds `limit`, spins on matrix products for `rounds`
    rounds (seconds of one core) before answering: a model stuck on part of its input."""

    def __init__(self, limit: float, rounds: int) -> None:
        super().__init__()
        self.limit = limit
        self.rounds = rounds
        self.inner = MLP(seed=13)
        self.work: torch.Tensor
        self.register_buffer("work", torch.randn(128, 128) / 128)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.inner(x)
        if bool((x[:, 0] > self.limit).any()):
            acc = self.work
            for _ in range(self.rounds):
                acc = torch.tanh(acc @ self.work)
            out = out + 0.0 * acc.sum()
        return out


def hanging(path: Path, rounds: int = 60_000, limit: float = 6.0) -> Path:
    torch.jit.save(torch.jit.script(_Hang(limit, rounds).eval()), str(path))
    return path
