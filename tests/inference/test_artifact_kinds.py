"""The push check on every kind of artifact users make: traced archives keep their example
inputs and must pass, a hostile pickle in their place must not run, and a model that can only
answer one batch size is refused at push saying what to change, not at its first request."""

from __future__ import annotations

import json
import pickle
import warnings
import zipfile
from pathlib import Path

import pytest
import torch
from torch import nn

from inference.models.check import check
from tests.support import zoo

X_IN = json.dumps([{"name": "x", "dtype": "float32", "shape": [-1, 4]}])
Y_OUT = json.dumps([{"name": "y", "dtype": "float32", "shape": [-1, 3]}])


class Linear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.l = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.l(x)


class FixedBatch(nn.Module):
    """Flattens with a literal batch size: traces fine, answers batches of 2 only."""

    def __init__(self) -> None:
        super().__init__()
        self.l = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.l(x.reshape(2, -1))


class DictInput(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.l = nn.Linear(4, 3)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.l(batch["x"])


class Touch:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.target), "w"))


def _specs(species: zoo.Species) -> tuple[str, str]:
    return json.dumps(species.inputs), json.dumps(species.outputs)


@pytest.mark.parametrize("method", zoo.METHODS)
@pytest.mark.parametrize("species", zoo.ZOO, ids=[s.name for s in zoo.ZOO])
def test_every_way_of_saving_the_zoo_is_accepted(
    tmp_path: Path, species: zoo.Species, method: str
) -> None:
    path = tmp_path / ("model.pt2" if method == "export" else "model.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zoo.save(species, method, path)
    verdict = check(path, *_specs(species))
    assert verdict["ok"], verdict
    expected = "torch_export" if method == "export" else "torchscript"
    assert verdict["format"] == expected


def test_a_traced_archive_keeps_its_example_inputs(tmp_path: Path) -> None:
    path = tmp_path / "traced.pt"
    torch.jit.save(torch.jit.trace(Linear().eval(), torch.randn(2, 4)), str(path))
    names = zipfile.ZipFile(path).namelist()
    assert any(n.endswith("/traced_inputs.pkl") for n in names)
    assert check(path, X_IN, Y_OUT) == {"ok": True, "format": "torchscript"}


def test_a_hostile_pickle_in_place_of_the_traced_inputs_never_runs(tmp_path: Path) -> None:
    traced = tmp_path / "traced.pt"
    torch.jit.save(torch.jit.trace(Linear().eval(), torch.randn(2, 4)), str(traced))
    trap = tmp_path / "ran"
    forged = tmp_path / "forged.pt"
    with zipfile.ZipFile(traced) as src, zipfile.ZipFile(forged, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("/traced_inputs.pkl"):
                data = pickle.dumps(Touch(trap), protocol=2)
            out.writestr(info, data)
    verdict = check(forged, X_IN, Y_OUT)
    assert not verdict["ok"]
    assert "traced_inputs.pkl would call io.open" in str(verdict["error"])
    assert not trap.exists()


def test_a_traced_model_with_a_literal_batch_size_is_refused_at_push(tmp_path: Path) -> None:
    path = tmp_path / "fixed.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.trace(FixedBatch().eval(), torch.randn(2, 4)), str(path))
    verdict = check(path, X_IN, Y_OUT)
    assert not verdict["ok"]
    error = str(verdict["error"])
    assert "answers a batch of 2 row(s) but fails on 3" in error
    assert "shapes cannot be multiplied" in error  # the cause, without the TorchScript traceback
    assert "Traceback" not in error and "x.reshape(x.shape[0], -1)" in error


@pytest.mark.parametrize(("rows", "dynamic"), [(2, None), (1, {"x": {0: torch.export.Dim.AUTO}})])
def test_an_export_with_a_specialised_batch_is_refused_at_push(
    tmp_path: Path, rows: int, dynamic: object
) -> None:
    path = tmp_path / "static.pt2"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.export.export(
            Linear().eval(), (torch.randn(rows, 4),), dynamic_shapes=dynamic
        )
    torch.export.save(program, str(path))
    verdict = check(path, X_IN, Y_OUT)
    assert not verdict["ok"]
    assert f"answers a batch of {rows} row(s) but fails on 3" in str(verdict["error"])
    assert "torch.export.Dim" in str(verdict["error"])


def test_a_model_that_takes_a_dict_is_refused_saying_how_pier_calls_it(tmp_path: Path) -> None:
    path = tmp_path / "dict.pt"
    torch.jit.save(torch.jit.script(DictInput().eval()), str(path))
    verdict = check(path, X_IN, Y_OUT)
    assert not verdict["ok"]
    assert "Pier calls forward(*inputs) with one tensor per declared input" in str(verdict["error"])


def test_a_bfloat16_output_must_be_declared_as_one(tmp_path: Path) -> None:
    species = next(s for s in zoo.ZOO if s.name == "regressor")
    path = tmp_path / "regressor.pt"
    zoo.save(species, "script", path)
    outputs = [dict(s) for s in species.outputs]
    outputs[1]["dtype"] = "float32"
    verdict = check(path, json.dumps(species.inputs), json.dumps(outputs))
    assert not verdict["ok"]
    assert "output spread: expected [-1, 1] float32, got bfloat16" in str(verdict["error"])
