"""The JSON header of an Open Inference Protocol infer request, read into plain objects: taken
as it is when every field already has the protocol's type, else through pydantic
(V2InferRequest in inference/schemas.py), the reference for what a header may be."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from inference.errors import InvalidInput
from inference.schemas import V2InferRequest


@dataclass(frozen=True, slots=True)
class InferInput:
    name: str
    datatype: str
    shape: list[int]
    data: list[object] | None
    parameters: dict[str, object] | None


@dataclass(frozen=True, slots=True)
class InferOutput:
    name: str
    parameters: dict[str, object] | None


@dataclass(frozen=True, slots=True)
class InferHeader:
    id: str | None
    inputs: list[InferInput]
    outputs: list[InferOutput] | None
    parameters: dict[str, object] | None


def read_header(document: object) -> InferHeader:
    """The request `document` (parsed JSON) describes; InvalidInput when it is not one."""
    plain = _plain_header(document)
    if plain is not None:
        return plain
    try:
        checked = V2InferRequest.model_validate(document)
    except ValidationError as e:
        raise InvalidInput(
            f"expected an inference request (inputs: [{{name, datatype, shape, data}}]), "
            f"got: {e.errors(include_url=False)}"
        ) from e
    return InferHeader(
        id=checked.id,
        inputs=[
            InferInput(t.name, t.datatype, t.shape, t.data, t.parameters) for t in checked.inputs
        ],
        outputs=None
        if checked.outputs is None
        else [InferOutput(o.name, o.parameters) for o in checked.outputs],
        parameters=checked.parameters,
    )


def _optional(value: Any, kind: type) -> bool:
    return value is None or type(value) is kind


def _plain_header(document: object) -> InferHeader | None:
    """The header when every field has the protocol's type exactly; None: ask pydantic."""
    if type(document) is not dict:
        return None
    header_id, parameters = document.get("id"), document.get("parameters")
    raw_inputs, raw_outputs = document.get("inputs"), document.get("outputs")
    if not (_optional(header_id, str) and _optional(parameters, dict)):
        return None
    if type(raw_inputs) is not list or not _optional(raw_outputs, list):
        return None
    inputs = []
    for tensor in raw_inputs:
        if type(tensor) is not dict:
            return None
        name, datatype, shape = tensor.get("name"), tensor.get("datatype"), tensor.get("shape")
        data, tensor_parameters = tensor.get("data"), tensor.get("parameters")
        if type(name) is not str or type(datatype) is not str or type(shape) is not list:
            return None
        if not all(type(d) is int for d in shape):
            return None
        if not (_optional(data, list) and _optional(tensor_parameters, dict)):
            return None
        inputs.append(InferInput(name, datatype, shape, data, tensor_parameters))
    outputs = None
    if raw_outputs is not None:
        outputs = []
        for output in raw_outputs:
            if type(output) is not dict:
                return None
            name, output_parameters = output.get("name"), output.get("parameters")
            if type(name) is not str or not _optional(output_parameters, dict):
                return None
            outputs.append(InferOutput(name, output_parameters))
    return InferHeader(header_id, inputs, outputs, parameters)
