"""The compact form of /predict: one tensor's raw little-endian bytes as the body, its shape
and dtype in X-Pier-* headers, so large inputs skip JSON; with ``Accept:
application/x-pier-tensor`` the single output comes back the same way."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from inference.errors import InvalidInput, MalformedBody
from inference.models.loaded import LoadedVersion
from inference.schemas import TensorSpec
from inference.tensors import NUMPY_DTYPES, from_wire, to_wire, wire_itemsize

MEDIA_TYPE = "application/x-pier-tensor"
ALIASES = (MEDIA_TYPE, "application/octet-stream")
MODEL, VERSION, SHAPE, DTYPE = (
    "X-Pier-Model",
    "X-Pier-Model-Version",
    "X-Pier-Shape",
    "X-Pier-Dtype",
)
MAX_DIMS = 32


@dataclass(frozen=True)
class CompactCall:
    model: str
    version: str | None
    shape: tuple[int, ...]
    dtype: str | None


def _media(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def is_compact(content_type: str | None) -> bool:
    return _media(content_type) in ALIASES


def wants_compact(accept: str | None) -> bool:
    """True when Accept names the tensor form ahead of (or without) JSON."""
    for part in (accept or "").split(","):
        media = _media(part)
        if media in ALIASES:
            return True
        if media in ("application/json", "*/*", "application/*"):
            return False
    return False


def _shape(raw: str | None) -> tuple[int, ...]:
    if raw is None:
        raise InvalidInput(
            f"{SHAPE}: expected the input's shape as comma-separated integers, e.g. 1,3,64,64"
        )
    try:
        dims = tuple(int(d) for d in raw.split(","))
    except ValueError:
        dims = (-1,)
    if not 1 <= len(dims) <= MAX_DIMS or any(d < 0 for d in dims):
        raise InvalidInput(
            f"{SHAPE}: expected 1 to {MAX_DIMS} non-negative comma-separated integers, got {raw!r}"
        )
    return dims


def parse_headers(headers: Mapping[str, str], image: bool = False) -> CompactCall:
    """The call the headers make; an image body (inference/http/images.py) has no shape."""
    model = headers.get(MODEL)
    if not model:
        raise InvalidInput(f"{MODEL}: expected the name of the model to call")
    dtype = headers.get(DTYPE)
    if dtype is not None and dtype not in NUMPY_DTYPES:
        raise InvalidInput(f"{DTYPE}: expected one of {sorted(NUMPY_DTYPES)}, got {dtype!r}")
    shape = () if image else _shape(headers.get(SHAPE))
    return CompactCall(model=model, version=headers.get(VERSION), shape=shape, dtype=dtype)


def _single(specs: list[TensorSpec], what: str, loaded: LoadedVersion, hint: str) -> TensorSpec:
    if len(specs) != 1:
        names = [s.name for s in specs]
        raise InvalidInput(
            f"the compact form carries one {what}; {loaded.model} {loaded.version} has "
            f"{len(specs)} {what}s {names}: {hint}"
        )
    return specs[0]


def input_array(loaded: LoadedVersion, call: CompactCall, body: bytes) -> dict[str, np.ndarray]:
    """The body as the model's single input, checked like JSON inputs are."""
    spec = _single(loaded.spec.inputs, "input", loaded, "send JSON, or /v2 binary tensors")
    if call.dtype is not None and call.dtype != spec.dtype:
        raise InvalidInput(f"{spec.name}: expected dtype {spec.dtype}, got {call.dtype}")
    expected = math.prod(call.shape) * wire_itemsize(spec.dtype)
    if len(body) != expected:
        raise MalformedBody(
            f"{spec.name}: expected {expected} bytes for shape "
            f"{list(call.shape)} {spec.dtype}, got {len(body)}"
        )
    return {spec.name: from_wire(spec, body, call.shape)}


@dataclass(frozen=True)
class TensorAnswer:
    body: bytes
    headers: dict[str, str]


def output_spec(loaded: LoadedVersion) -> TensorSpec:
    spec = _single(loaded.spec.outputs, "output", loaded, "ask for application/json (Accept)")
    if spec.postprocess is not None:
        raise InvalidInput(
            f"{spec.name} answers labels, which the compact form cannot carry: "
            "ask for application/json (Accept)"
        )
    return spec


def output_bytes(loaded: LoadedVersion, outputs: Mapping[str, np.ndarray]) -> TensorAnswer:
    spec = output_spec(loaded)
    array = outputs[spec.name]
    return TensorAnswer(
        to_wire(spec.dtype, array),
        {SHAPE: ",".join(str(d) for d in array.shape), DTYPE: spec.dtype},
    )


OPENAPI_BODY = {
    "schema": {"type": "string", "format": "binary"},
    "description": (
        "The compact form: the model's single input as raw little-endian bytes; headers "
        "X-Pier-Model, X-Pier-Shape (e.g. 1,3,64,64), optional X-Pier-Dtype, "
        "X-Pier-Model-Version and X-Pier-Key. application/octet-stream is taken too."
    ),
}

OPENAPI_ANSWER = {
    "schema": {"type": "string", "format": "binary"},
    "description": (
        "Sent when Accept asks for application/x-pier-tensor: the single output's raw "
        "little-endian bytes, with X-Pier-Shape, X-Pier-Dtype, X-Pier-Version and "
        "X-Pier-Prediction-Id headers."
    ),
}
