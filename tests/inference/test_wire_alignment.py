"""Binary tensors start wherever the JSON header before them ends: read at every offset, they
keep their values and their checks (inference/tensors.py reads unaligned ones from a copy)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inference.errors import InvalidInput
from inference.schemas import TensorSpec
from inference.tensors import from_wire, to_wire

VALUES = np.array([[0.5, -1.25, 3.0e38, 7.0], [1e-30, 2.0, -0.0, 42.0]])


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "bfloat16"])
@pytest.mark.parametrize("offset", range(8))
def test_values_read_at_any_offset_are_the_values_sent(dtype: str, offset: int) -> None:
    spec = TensorSpec(name="x", dtype=dtype, shape=[-1, 4])
    if dtype == "bfloat16":
        sent = torch.tensor(VALUES, dtype=torch.bfloat16).float().numpy()
    elif dtype == "float16":
        sent = np.array([[0.5, -1.25, 6e4, 7.0], [1e-3, 2.0, -0.0, 42.0]], dtype=np.float16)
    elif dtype == "int64":
        sent = np.array([[1, -2, 2**62, 7], [0, 3, -(2**62), 42]], dtype=np.int64)
    else:
        sent = VALUES.astype(dtype)
    body = b"h" * offset + to_wire(dtype, sent) + b"tail"
    got = from_wire(spec, memoryview(body), [2, 4], offset)
    assert got.flags.aligned
    np.testing.assert_array_equal(got, sent)


@pytest.mark.parametrize("offset", [0, 1, 3, 5])
def test_a_nan_is_refused_at_any_offset(offset: int) -> None:
    spec = TensorSpec(name="x", dtype="float32", shape=[-1, 4])
    sent = np.array([[0.5, np.nan, 1.0, 2.0]], dtype=np.float32)
    body = b"h" * offset + to_wire("float32", sent)
    with pytest.raises(InvalidInput, match="expected finite float32 values"):
        from_wire(spec, body, [1, 4], offset)
