"""Open Inference Protocol (v2) REST, with the binary tensor data extension."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

import numpy as np
import orjson
from fastapi import APIRouter, Request, Response

from inference.dataplane import Outcome
from inference.errors import InferenceError, InvalidInput, MalformedBody, NotReady
from inference.http import images
from inference.http.native import Answer, dumps
from inference.http.v2_request import InferHeader, InferInput, read_header
from inference.models.loaded import LoadedVersion
from inference.schemas import (
    V2_DATATYPES,
    TensorSpec,
    V2ModelMetadata,
    V2ServerMetadata,
)
from inference.state import ServiceState, state_of
from inference.tensors import coerce, from_wire, to_wire, wire_itemsize

router = APIRouter(prefix="/v2")

HEADER_LENGTH = "Inference-Header-Content-Length"
PLATFORMS = {"torchscript": "pytorch_torchscript", "torch_export": "pytorch_export"}


def _server_version() -> str:
    try:
        return package_version("pier")
    except PackageNotFoundError:
        return "0.1.0"


def _json(body: object, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json")


@router.get("", response_model=V2ServerMetadata)
async def server_metadata() -> Response:
    return _json(
        {"name": "pier", "version": _server_version(), "extensions": ["binary_tensor_data"]}
    )


@router.get("/health/live")
async def live() -> Response:
    return _json({"live": True})


@router.get("/health/ready")
async def ready(request: Request) -> Response:
    """200 once a routing table is applied with every version it names loaded and warm."""
    if not state_of(request).registry.ready:
        raise NotReady("no routing table applied yet", retry_after_s=1)
    return _json({"ready": True})


def _metadata(loaded: LoadedVersion, versions: list[str]) -> dict[str, object]:
    def tensors(specs: list[TensorSpec]) -> list[dict[str, object]]:
        return [{"name": s.name, **_wire_form(s)} for s in specs]

    return {
        "name": loaded.model,
        "versions": versions,
        "platform": PLATFORMS[loaded.spec.format],
        "inputs": tensors(loaded.spec.inputs),
        "outputs": tensors(loaded.spec.outputs),
    }


def _described(request: Request, model: str, version: str | None) -> LoadedVersion:
    """The version a metadata or ready call is about: the pinned one, else the
    most-weighted one (or the first listed when none takes traffic)."""
    plane = state_of(request).plane
    serving = plane.serving_model(model)
    if version is None:
        weights = serving.route.weights
        ranked = sorted(serving.versions, key=lambda v: (-weights.get(v, 0), v))
        version = ranked[0]
    return plane.resolve(model, version, None)


@router.get("/models/{model}", response_model=V2ModelMetadata)
async def model_metadata(request: Request, model: str) -> Response:
    loaded = _described(request, model, None)
    versions = sorted(state_of(request).plane.serving_model(model).versions)
    return _json(_metadata(loaded, versions))


@router.get("/models/{model}/versions/{version}", response_model=V2ModelMetadata)
async def version_metadata(request: Request, model: str, version: str) -> Response:
    return _json(_metadata(_described(request, model, version), [version]))


@router.get("/models/{model}/ready")
async def model_ready(request: Request, model: str) -> Response:
    loaded = _described(request, model, None)
    return _json({"name": model, "ready": True, "version": loaded.version})


@router.get("/models/{model}/versions/{version}/ready")
async def version_ready(request: Request, model: str, version: str) -> Response:
    _described(request, model, version)
    return _json({"name": model, "ready": True, "version": version})


def _split_body(raw: bytes, header_length: str | None) -> tuple[InferHeader, memoryview]:
    """The JSON header and the binary tensor data after it (a view: no copy of the body)."""
    view = memoryview(raw)
    if header_length is None:
        head, binary = view, view[len(raw) :]
    else:
        try:
            length = int(header_length)
        except ValueError:
            length = -1
        if not 0 <= length <= len(raw):
            raise MalformedBody(
                f"{HEADER_LENGTH}: expected a length within the body's {len(raw)} bytes, "
                f"got {header_length!r}"
            )
        head, binary = view[:length], view[length:]
    try:
        document = orjson.loads(head)
    except orjson.JSONDecodeError as e:
        raise MalformedBody(f"expected a JSON inference request, got invalid JSON: {e}") from e
    return read_header(document), binary


def _wire_form(spec: TensorSpec) -> dict[str, object]:
    """Datatype and shape on the wire: images in and labels out travel as BYTES."""
    if spec.preprocess is not None:
        return {"datatype": "BYTES", "shape": [-1]}
    if spec.postprocess is not None:
        return {"datatype": "BYTES", "shape": [-1, spec.postprocess.classify.top_k]}
    return {"datatype": V2_DATATYPES[spec.dtype], "shape": spec.shape}


def _image_rows(
    spec: TensorSpec, tensor: InferInput, binary: memoryview, offset: int
) -> tuple[list[bytes], int]:
    """An image input's rows: BYTES elements, each a 4-byte little-endian length and bytes."""
    if (
        tensor.datatype != "BYTES"
        or not 1 <= len(tensor.shape) <= 2
        or tensor.shape[1:] not in ([], [1])
    ):
        raise InvalidInput(
            f"{spec.name}: expected datatype BYTES shaped [rows] (one encoded image per row), "
            f"got {tensor.datatype} {tensor.shape}"
        )
    count = tensor.shape[0]
    size = (tensor.parameters or {}).get("binary_data_size")
    if size is None:
        if tensor.data is None:
            raise InvalidInput(f"{spec.name}: expected data or parameters.binary_data_size")
        data = [v[0] if isinstance(v, list) and len(v) == 1 else v for v in tensor.data]
        rows = images.rows_from_json(spec, data)
    else:
        if not isinstance(size, int) or size < 0 or offset + size > len(binary):
            raise InvalidInput(f"{spec.name}: binary_data_size {size} overruns the body")
        rows, end, at = [], offset + size, offset
        while at < end:
            length = int.from_bytes(binary[at : at + 4], "little")
            if at + 4 + length > end:
                raise InvalidInput(f"{spec.name}: BYTES element {len(rows)} overruns its tensor")
            rows.append(bytes(binary[at + 4 : at + 4 + length]))
            at += 4 + length
        offset = end
    if len(rows) != count:
        raise InvalidInput(f"{spec.name}: shape {tensor.shape} but {len(rows)} images")
    return rows, offset


def _bytes_blob(texts: np.ndarray) -> bytes:
    parts = [t.encode() for t in texts.reshape(-1)]
    return b"".join(len(p).to_bytes(4, "little") + p for p in parts)


def _input_array(
    spec: TensorSpec, tensor: InferInput, binary: memoryview, offset: int
) -> tuple[np.ndarray, int]:
    expected_datatype = V2_DATATYPES[spec.dtype]
    if tensor.datatype != expected_datatype:
        raise InvalidInput(
            f"{spec.name}: expected datatype {expected_datatype}, got {tensor.datatype}"
        )
    if any(d < 0 for d in tensor.shape):
        raise InvalidInput(f"{spec.name}: expected a concrete shape, got {tensor.shape}")
    count = math.prod(tensor.shape)
    size = (tensor.parameters or {}).get("binary_data_size")
    if size is not None:
        itemsize = wire_itemsize(spec.dtype)
        if not isinstance(size, int) or size != count * itemsize:
            raise InvalidInput(
                f"{spec.name}: expected binary_data_size {count * itemsize} for shape "
                f"{tensor.shape} {tensor.datatype}, got {size}"
            )
        if offset + size > len(binary):
            raise InvalidInput(
                f"{spec.name}: expected {size} bytes of binary data, got {len(binary) - offset}"
            )
        return from_wire(spec, binary, tensor.shape, offset), offset + size
    if tensor.data is None:
        raise InvalidInput(f"{spec.name}: expected data or parameters.binary_data_size")
    try:
        flat = np.asarray(tensor.data)
    except ValueError as e:
        raise InvalidInput(f"{spec.name}: expected a flat or rectangular data array") from e
    if flat.size != count:
        raise InvalidInput(
            f"{spec.name}: expected {count} values for shape {tensor.shape}, got {flat.size}"
        )
    return coerce(spec, flat.reshape(tensor.shape)), offset


def _inputs(
    loaded: LoadedVersion, request: InferHeader, binary: memoryview
) -> tuple[dict[str, np.ndarray], dict[str, list[bytes]]]:
    """The inputs' arrays, and the encoded rows of image inputs, still to be decoded."""
    given = {t.name: t for t in request.inputs}
    names = [s.name for s in loaded.spec.inputs]
    if sorted(given) != sorted(names) or len(given) != len(request.inputs):
        raise InvalidInput(f"inputs: expected {names}, got {[t.name for t in request.inputs]}")
    by_name = {s.name: s for s in loaded.spec.inputs}
    arrays: dict[str, np.ndarray] = {}
    encoded: dict[str, list[bytes]] = {}
    offset = 0
    # Binary blobs follow the JSON header in the order the inputs are listed.
    for tensor in request.inputs:
        spec = by_name[tensor.name]
        if spec.preprocess is None:
            arrays[tensor.name], offset = _input_array(spec, tensor, binary, offset)
        else:
            encoded[tensor.name], offset = _image_rows(spec, tensor, binary, offset)
    if offset != len(binary):
        raise InvalidInput(f"expected {offset} bytes of binary input data, got {len(binary)}")
    return arrays, encoded


def _wants_binary(request: InferHeader) -> dict[str, bool | None]:
    default = bool((request.parameters or {}).get("binary_data_output", False))
    if request.outputs is None:
        return {"*": default}
    wanted: dict[str, bool | None] = {}
    for output in request.outputs:
        choice = (output.parameters or {}).get("binary_data")
        wanted[output.name] = default if choice is None else bool(choice)
    return wanted


async def answer_infer(
    state: ServiceState,
    headers: Mapping[str, str],
    raw: bytes,
    model: str,
    version: str | None,
) -> Answer:
    """One infer call of the protocol. Requests are answered by inference/http/lane.py
    before FastAPI routes them; the routes below are what OpenAPI shows, and answer the same."""
    plane = state.plane
    started = time.perf_counter()
    outcome = Outcome()
    try:
        infer, binary = _split_body(raw, headers.get(HEADER_LENGTH))
        loaded = plane.resolve(model, version, headers.get("x-pier-key"))
        outcome.model, outcome.version = loaded.model, loaded.version
        wanted = _wants_binary(infer)
        if infer.outputs is not None:
            known = {s.name for s in loaded.spec.outputs}
            unknown = sorted(set(wanted) - known)
            if unknown:
                raise InvalidInput(f"outputs: expected some of {sorted(known)}, got {unknown}")
        batch, encoded = _inputs(loaded, infer, binary)
        if encoded:
            batch |= await images.decode(loaded, encoded, plane.max_rows)
        outputs = await plane.run(loaded, batch)
    except InferenceError as error:
        plane.record_error(outcome, error, started, v2=True)
        raise
    tensors: list[dict[str, object]] = []
    blobs: list[bytes] = []
    for spec in loaded.spec.outputs:
        if "*" not in wanted and spec.name not in wanted:
            continue
        array = outputs[spec.name]
        labels = spec.postprocess is not None
        if labels:
            array = images.v2_classes(spec, array)
        entry: dict[str, object] = {
            "name": spec.name,
            "datatype": "BYTES" if labels else V2_DATATYPES[spec.dtype],
            "shape": list(array.shape),
        }
        if wanted.get(spec.name, wanted.get("*")):
            blob = _bytes_blob(array) if labels else to_wire(spec.dtype, array)
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = array.reshape(-1)
        tensors.append(entry)
    header: dict[str, object] = {
        "model_name": loaded.model,
        "model_version": loaded.version,
        "outputs": tensors,
    }
    if infer.id is not None:
        header["id"] = infer.id
    plane.record(outcome, 200, started)
    head = dumps(header)
    if not blobs:
        return Answer(head, "application/json", {})
    return Answer(
        head + b"".join(blobs), "application/octet-stream", {HEADER_LENGTH: str(len(head))}
    )


async def _infer(request: Request, model: str, version: str | None) -> Response:
    answer = await answer_infer(
        state_of(request), request.headers, await request.body(), model, version
    )
    return Response(answer.body, media_type=answer.media_type, headers=answer.headers)


@router.post("/models/{model}/infer")
async def infer(request: Request, model: str) -> Response:
    return await _infer(request, model, None)


@router.post("/models/{model}/versions/{version}/infer")
async def infer_version(request: Request, model: str, version: str) -> Response:
    return await _infer(request, model, version)
