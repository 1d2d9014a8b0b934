"""Real architectures with random weights, saved the ways PyTorch users save them: traced
(with and without its example inputs), scripted, frozen, and torch.export programs with a
dynamic batch. Each entry knows its pier.yaml specs and an example batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

METHODS = ("trace", "trace-bare", "script", "freeze", "export")


class ResNetish(nn.Module):
    """Two residual blocks with batch norm over a 3x32x32 image, ten classes."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(16, 16, 3, padding=1),
                nn.BatchNorm2d(16),
                nn.ReLU(),
                nn.Conv2d(16, 16, 3, padding=1),
                nn.BatchNorm2d(16),
            )
            for _ in range(2)
        )
        self.head = nn.Linear(16, 10)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.stem(image)
        for block in self.blocks:
            x = torch.relu(x + block(x))
        return self.head(x.mean(dim=(2, 3)))


class MobileNetish(nn.Module):
    """Depthwise-separable convolutions with ReLU6 and an inverted residual, five classes."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU6(),
            nn.Conv2d(8, 8, 3, padding=1, groups=8),
            nn.BatchNorm2d(8),
            nn.ReLU6(),
            nn.Conv2d(8, 16, 1),
            nn.BatchNorm2d(16),
        )
        self.expand = nn.Sequential(
            nn.Conv2d(16, 32, 1),
            nn.ReLU6(),
            nn.Conv2d(32, 32, 3, padding=1, groups=32),
            nn.ReLU6(),
            nn.Conv2d(32, 16, 1),
        )
        self.head = nn.Linear(16, 5)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.features(image)
        x = x + self.expand(x)
        return self.head(nn.functional.adaptive_avg_pool2d(x, 1).flatten(1))


class Encoder(nn.Module):
    """A two-layer transformer encoder over int64 tokens with a padding mask (True = pad)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(100, 32)
        layer = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(32, 3)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.encoder(self.embed(tokens), src_key_padding_mask=mask)
        keep = (~mask).unsqueeze(-1).to(x.dtype)
        return self.head((x * keep).sum(1) / keep.sum(1).clamp(min=1.0))


class Recurrent(nn.Module):
    """An LSTM over a sequence of 6 features, answering from its last hidden state."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(6, 16, num_layers=2, batch_first=True)
        self.head = nn.Linear(16, 2)

    def forward(self, series: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(series)
        return self.head(out[:, -1])


class TwoHeads(nn.Module):
    """One trunk, two heads answering a dict: class scores and a float64 risk."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(8, 16), nn.ReLU())
        self.classes = nn.Linear(16, 4)
        self.risk = nn.Linear(16, 1)

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.trunk(features)
        return {
            "scores": torch.softmax(self.classes(h), dim=-1),
            "risk": torch.sigmoid(self.risk(h)).to(torch.float64),
        }


class Regressor(nn.Module):
    """float16 features in, a tuple out: a float32 prediction and a bfloat16 spread."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(5, 12), nn.Tanh(), nn.Linear(12, 2))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(features.to(torch.float32))
        return out[:, 0], out[:, 1:].abs().to(torch.bfloat16)


@dataclass(frozen=True)
class Species:
    """A zoo architecture: how to build it, its specs and an example batch of `rows`."""

    name: str
    build: Callable[[], nn.Module]
    inputs: list[dict[str, object]]
    outputs: list[dict[str, object]]
    example: Callable[[int], tuple[torch.Tensor, ...]]

    def module(self, seed: int = 0) -> nn.Module:
        torch.manual_seed(seed)
        model = self.build().eval()
        with torch.no_grad():  # batch norm statistics that are not the identity
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.5, 0.5)
                    m.running_var.uniform_(0.5, 2.0)
        return model


def _tokens(rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(rows)
    tokens = torch.randint(1, 100, (rows, 12), generator=g)
    lengths = torch.randint(3, 13, (rows,), generator=g)
    mask = torch.arange(12).unsqueeze(0) >= lengths.unsqueeze(1)
    return tokens.masked_fill(mask, 0), mask


def _randn(*shape: int, dtype: torch.dtype = torch.float32) -> Callable[[int], tuple[torch.Tensor]]:
    def make(rows: int) -> tuple[torch.Tensor]:
        g = torch.Generator().manual_seed(rows)
        return (torch.randn(rows, *shape, generator=g).to(dtype),)

    return make


def _spec(name: str, dtype: str, *shape: int) -> dict[str, object]:
    return {"name": name, "dtype": dtype, "shape": [-1, *shape]}


ZOO = [
    Species(
        "resnet",
        ResNetish,
        [_spec("image", "float32", 3, 32, 32)],
        [_spec("logits", "float32", 10)],
        _randn(3, 32, 32),
    ),
    Species(
        "mobilenet",
        MobileNetish,
        [_spec("image", "float32", 3, 32, 32)],
        [_spec("logits", "float32", 5)],
        _randn(3, 32, 32),
    ),
    Species(
        "encoder",
        Encoder,
        [_spec("tokens", "int64", 12), _spec("mask", "bool", 12)],
        [_spec("logits", "float32", 3)],
        _tokens,
    ),
    Species(
        "lstm",
        Recurrent,
        [_spec("series", "float32", 10, 6)],
        [_spec("logits", "float32", 2)],
        _randn(10, 6),
    ),
    Species(
        "twoheads",
        TwoHeads,
        [_spec("features", "float32", 8)],
        [_spec("scores", "float32", 4), _spec("risk", "float64", 1)],
        _randn(8),
    ),
    Species(
        "regressor",
        Regressor,
        [_spec("features", "float16", 5)],
        [_spec("value", "float32"), _spec("spread", "bfloat16", 1)],
        _randn(5, dtype=torch.float16),
    ),
]


def save(species: Species, method: str, path: Path, seed: int = 0) -> nn.Module:
    """Save `species` made by `method` at `path`; return the module that made it."""
    model = species.module(seed)
    example = species.example(2)
    if method == "export":
        batch = torch.export.Dim("batch", min=1, max=1024)
        names = [str(s["name"]) for s in species.inputs]
        dynamic = {name: {0: batch} for name in names}
        program = torch.export.export(model, example, dynamic_shapes=dynamic)
        torch.export.save(program, str(path))
        return model
    if method == "script":
        saved = torch.jit.script(model)
    elif method == "freeze":
        saved = torch.jit.freeze(torch.jit.script(model))
    else:
        store = method == "trace"
        # The encoder's fast path differs between calls, so the trace check would fail.
        saved = torch.jit.trace(
            model, example, strict=False, check_trace=False, _store_inputs=store
        )
    torch.jit.save(saved, str(path))
    return model


def expected(model: nn.Module, species: Species, rows: int) -> list[torch.Tensor]:
    """The module's own answers to the example batch, as a list in the outputs' order."""
    with torch.inference_mode():
        result = model(*species.example(rows))
    if isinstance(result, dict):
        return [result[str(s["name"])] for s in species.outputs]
    if isinstance(result, tuple):
        return list(result)
    return [result]


def manifest(dir_: Path, species: Species, method: str, artifact: Path) -> Path:
    """A pier.yaml for this artifact, named after the species and the method."""
    import yaml

    doc = {
        "model": {
            "name": f"{species.name}-{method}",
            "version": "v1",
            "artifact": artifact.name,
            "inputs": species.inputs,
            "outputs": species.outputs,
            "resources": {"cpu": "500m", "memory": "1Gi"},
        }
    }
    path = dir_ / f"{species.name}-{method}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
