"""Train the iris example: a 4 -> hidden -> 3 MLP with a softmax output, on CPU in seconds.

    python examples/iris/train.py                    # v1: TorchScript archive model.pt
    python examples/iris/train.py --seed 7 --hidden 32 --export --out examples/iris/v2/model.pt2

The model takes raw measurements (cm) and standardises them itself, so a caller sends
the four numbers as measured. It prints the accuracy on a held-out, stratified 20 %
of the rows; that number goes into pier.yaml's `metrics.accuracy`.

The weights are reproducible; the archive bytes are not (TorchScript writes a random
serialization id), so a re-trained model.pt is a new version to Pier, as it should be.
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve().parent
SPECIES = ("setosa", "versicolor", "virginica")


class IrisMLP(nn.Module):
    def __init__(self, hidden: int, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.layers = nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 3))

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers((features - self.mean) / self.std)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(features), dim=-1)


def load(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    x = torch.tensor(
        [
            [float(r[k]) for k in ("sepal_length", "sepal_width", "petal_length", "petal_width")]
            for r in rows
        ],
        dtype=torch.float32,
    )
    y = torch.tensor([SPECIES.index(r["species"]) for r in rows], dtype=torch.long)
    return x, y


def split(y: torch.Tensor, seed: int, test_share: float = 0.2) -> tuple[list[int], list[int]]:
    """Stratified: the same share of every species is held out."""
    rng = random.Random(seed)
    train: list[int] = []
    test: list[int] = []
    for label in range(len(SPECIES)):
        idx = [i for i in range(len(y)) if int(y[i]) == label]
        rng.shuffle(idx)
        cut = round(len(idx) * test_share)
        test += idx[:cut]
        train += idx[cut:]
    return sorted(train), sorted(test)


def train(seed: int, hidden: int, epochs: int) -> tuple[IrisMLP, float]:
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    x, y = load(HERE / "iris.csv")
    train_idx, test_idx = split(y, seed)
    x_train, y_train = x[train_idx], y[train_idx]
    model = IrisMLP(hidden, x_train.mean(dim=0), x_train.std(dim=0))
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):  # full batch: 120 rows
        optimiser.zero_grad()
        loss_fn(model.logits(x_train), y_train).backward()
        optimiser.step()
    model.eval()
    with torch.no_grad():
        predicted = model(x[test_idx]).argmax(dim=-1)
    accuracy = float((predicted == y[test_idx]).float().mean())
    return model, accuracy


def export(model: IrisMLP, out: Path, as_program: bool) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if as_program:
        example = (torch.zeros(8, 4),)
        batch = {"features": {0: torch.export.Dim.DYNAMIC}}
        program = torch.export.export(model, example, dynamic_shapes=batch)
        torch.export.save(program, out)
    else:
        torch.jit.script(model).save(str(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument(
        "--export", action="store_true", help="save a torch.export program (.pt2), not TorchScript"
    )
    parser.add_argument("--out", type=Path, default=HERE / "model.pt")
    args = parser.parse_args()
    model, accuracy = train(args.seed, args.hidden, args.epochs)
    export(model, args.out, args.export)
    print(f"accuracy: {accuracy:.4f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
