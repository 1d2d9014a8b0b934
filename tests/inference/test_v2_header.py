"""The v2 infer header is read without pydantic when every field has the protocol's type;
whatever the header, the request read is the one pydantic's model would give, and a bad
header is refused with pydantic's explanation."""

from __future__ import annotations

import pytest

from inference.errors import InvalidInput
from inference.http.v2_request import (
    InferHeader,
    InferInput,
    InferOutput,
    _plain_header,
    read_header,
)
from inference.schemas import V2InferRequest

TENSOR = {"name": "x", "datatype": "FP32", "shape": [1, 4]}

ACCEPTED = [
    {"inputs": [{**TENSOR, "data": [1, 2, 3, 4]}]},
    {"inputs": [{**TENSOR, "parameters": {"binary_data_size": 16}}]},
    {
        "id": "req-7",
        "inputs": [{**TENSOR, "data": [1, 2, 3, 4]}, {**TENSOR, "name": "y"}],
        "outputs": [{"name": "logits", "parameters": {"binary_data": True}}, {"name": "p"}],
        "parameters": {"binary_data_output": True},
    },
    # Unknown fields are ignored, as pydantic's model ignores them.
    {"inputs": [{**TENSOR, "data": [0] * 4, "extra": 1}], "priority": 3},
    # Not the protocol's types, but pydantic's lax mode accepts them: they go its way.
    {"inputs": [{**TENSOR, "shape": [1.0, "4"], "data": [1, 2, 3, 4]}]},
    {"inputs": [{**TENSOR, "data": (1, 2, 3, 4)}]},
    {"inputs": [{**TENSOR, "data": [1, 2, 3, 4]}], "outputs": ({"name": "p"},)},
]

REFUSED = [
    [],
    {"inputs": "x"},
    {"inputs": [{"datatype": "FP32", "shape": [1]}]},
    {"inputs": [{**TENSOR, "shape": ["one"]}]},
    {"inputs": [{**TENSOR, "data": 5}]},
    {"inputs": [{**TENSOR, "parameters": [1]}]},
    {"inputs": [TENSOR], "id": 7},
    {"inputs": [TENSOR], "outputs": [{"parameters": {}}]},
    {"inputs": [TENSOR], "parameters": "binary"},
]


def _as_pydantic_reads(document: object) -> InferHeader:
    checked = V2InferRequest.model_validate(document)
    return InferHeader(
        checked.id,
        [InferInput(t.name, t.datatype, t.shape, t.data, t.parameters) for t in checked.inputs],
        None
        if checked.outputs is None
        else [InferOutput(o.name, o.parameters) for o in checked.outputs],
        checked.parameters,
    )


@pytest.mark.parametrize("document", ACCEPTED)
def test_every_accepted_header_reads_as_pydantic_reads_it(document: object) -> None:
    assert read_header(document) == _as_pydantic_reads(document)


def test_lax_fields_come_out_in_the_protocols_types() -> None:
    header = read_header({"inputs": [{**TENSOR, "shape": [1.0, "4"], "data": (1, 2)}]})
    assert header.inputs[0].shape == [1, 4]
    assert header.inputs[0].data == [1, 2]


@pytest.mark.parametrize("document", REFUSED)
def test_a_bad_header_is_refused_with_what_was_expected(document: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        read_header(document)
    message = str(caught.value)
    assert message.startswith("expected an inference request (inputs: [{name, datatype, shape")
    assert "'loc'" in message  # pydantic's account of which field is wrong


@pytest.mark.parametrize("document", ACCEPTED[:4])
def test_a_header_in_the_protocols_types_is_read_without_pydantic(document: object) -> None:
    assert _plain_header(document) == read_header(document)


@pytest.mark.parametrize("document", ACCEPTED[4:] + REFUSED)
def test_any_other_header_is_left_to_pydantic(document: object) -> None:
    assert _plain_header(document) is None
