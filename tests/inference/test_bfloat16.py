"""bfloat16 tensors: carried as float32 inside the service, two bytes each on the binary wire,
and handed to the model as bfloat16; every step exact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from inference.models.check import check
from inference.models.loader import detect_format, load_model
from inference.schemas import TensorSpec
from inference.tensors import from_wire, to_wire, wire_itemsize

SPEC = TensorSpec(name="x", dtype="bfloat16", shape=[-1, 4])


class Halve(nn.Module):
    """bfloat16 in, bfloat16 out: a model trained and saved in bfloat16."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0.5 + 1


def _values() -> torch.Tensor:
    return (torch.randn(3, 4, generator=torch.Generator().manual_seed(3)) * 100).to(torch.bfloat16)


def test_the_wire_carries_torch_s_own_bytes() -> None:
    values = _values()
    wire = values.view(torch.int16).numpy().astype("<i2").tobytes()
    assert wire_itemsize("bfloat16") == 2
    carried = from_wire(SPEC, wire, [3, 4])
    assert carried.dtype == np.float32
    np.testing.assert_array_equal(carried, values.float().numpy())
    assert to_wire("bfloat16", carried) == wire


def test_a_bfloat16_model_is_accepted_and_answers_exactly(tmp_path: Path) -> None:
    path = tmp_path / "halve.pt"
    torch.jit.save(torch.jit.script(Halve()), str(path))
    specs = json.dumps([SPEC.model_dump()])
    out = json.dumps([{"name": "y", "dtype": "bfloat16", "shape": [-1, 4]}])
    assert check(path, specs, out) == {"ok": True, "format": "torchscript"}
    model = load_model(
        path, detect_format(path), [SPEC], [TensorSpec.model_validate_json(out[1:-1])]
    )
    values = _values()
    got = model.run({"x": values.float().numpy()})["y"]
    np.testing.assert_array_equal(got, Halve()(values).float().numpy())
