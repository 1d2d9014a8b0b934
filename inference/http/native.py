"""The native REST API: POST /predict, GET /models, GET /healthz (metrics and feedback:
inference/http/monitoring.py)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import orjson
from fastapi import APIRouter, Request, Response

from inference.dataplane import Outcome
from inference.errors import InferenceError, InvalidInput, MalformedBody
from inference.http import compact, images
from inference.models.loaded import LoadedVersion
from inference.schemas import ModelsResponse, PredictRequest, PredictResponse
from inference.state import ServiceState, state_of
from inference.tensors import from_json

router = APIRouter()


@dataclass(frozen=True)
class PredictCall:
    model: str
    inputs: object
    version: str | None
    key: str | None


def _optional_str(body: dict[str, object], field: str) -> str | None:
    value = body.get(field)
    if value is None or isinstance(value, str):
        return value
    raise InvalidInput(f"{field}: expected a string, got {type(value).__name__}")


def parse_predict(raw: bytes, header_key: str | None) -> PredictCall:
    """The /predict body, parsed with orjson and checked field by field."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise MalformedBody(
            f"expected a JSON object (NaN and Infinity are not JSON numbers), got invalid JSON: {e}"
        ) from e
    if not isinstance(body, dict):
        raise MalformedBody(f"expected a JSON object, got {type(body).__name__}")
    missing = [f for f in ("model", "inputs") if f not in body]
    if missing:
        raise InvalidInput(f"missing required fields {missing}; expected model and inputs")
    model = body["model"]
    if not isinstance(model, str):
        raise InvalidInput(f"model: expected a string, got {type(model).__name__}")
    key = _optional_str(body, "key") or header_key
    return PredictCall(
        model=model, inputs=body["inputs"], version=_optional_str(body, "version"), key=key
    )


def json_values(loaded: LoadedVersion, inputs: object) -> dict[str, object]:
    """The request's value for each input, by name; a model with one input takes it bare."""
    specs = loaded.spec.inputs
    names = [s.name for s in specs]
    named = isinstance(inputs, dict) and set(inputs) == set(names)
    bare = not isinstance(inputs, dict) or specs[0].preprocess is not None  # {"b64": ...}
    if len(specs) == 1 and not named and bare:
        return {names[0]: inputs}
    if not isinstance(inputs, dict):
        raise InvalidInput(f"inputs: expected an object with {names}, got {type(inputs).__name__}")
    missing = [n for n in names if n not in inputs]
    extra = sorted(set(inputs) - set(names))
    if missing or extra:
        raise InvalidInput(f"inputs: expected {names}, missing {missing}, unexpected {extra}")
    return inputs


def tensor_inputs(loaded: LoadedVersion, values: Mapping[str, object]) -> dict[str, np.ndarray]:
    """Every input but the image ones (inference/http/images.py), checked against its spec."""
    return {s.name: from_json(s, values[s.name]) for s in loaded.spec.inputs if not s.preprocess}


def _numpy_default(value: object) -> object:
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(value: object) -> bytes:
    return orjson.dumps(value, default=_numpy_default, option=orjson.OPT_SERIALIZE_NUMPY)


@dataclass(frozen=True, slots=True)
class Answer:
    """A /predict answer, whichever way it is sent (inference/http/lane.py or the route)."""

    body: bytes
    media_type: str
    headers: dict[str, str]


async def answer_predict(state: ServiceState, headers: Mapping[str, str], raw: bytes) -> Answer:
    """JSON in and out; or the compact form (inference/http/compact.py) either way."""
    plane = state.plane
    started = time.perf_counter()
    outcome = Outcome()
    try:
        tensor_call = None
        content_type = headers.get("content-type")
        image_body = images.is_image(content_type)
        if compact.is_compact(content_type) or image_body:
            tensor_call = compact.parse_headers(headers, image_body)
            call = PredictCall(
                tensor_call.model, None, tensor_call.version, headers.get("x-pier-key")
            )
        else:
            call = parse_predict(raw, headers.get("x-pier-key"))
        loaded = plane.resolve(call.model, call.version, call.key)
        outcome.model, outcome.version = loaded.model, loaded.version
        if image_body:
            raw_rows = {images.body_input(loaded).name: [raw]}
            batch = await images.decode(loaded, raw_rows, plane.max_rows)
        elif tensor_call is None:
            values = json_values(loaded, call.inputs)
            batch = tensor_inputs(loaded, values)
            if loaded.images:  # no await on the common path
                batch |= await images.decode(
                    loaded, images.json_rows(loaded, values), plane.max_rows
                )
        else:
            batch = compact.input_array(loaded, tensor_call, raw)
        binary_answer = compact.wants_compact(headers.get("accept"))
        if binary_answer:
            compact.output_spec(loaded)  # refuse a multi-output model before running it
        outputs = await plane.run(loaded, batch)
    except InferenceError as error:
        plane.record_error(outcome, error, started)
        raise
    prediction_id = state.truth.record(loaded, outputs)
    plane.record(outcome, 200, started)
    if binary_answer:
        answer = compact.output_bytes(loaded, outputs)
        return Answer(
            answer.body,
            compact.MEDIA_TYPE,
            {
                **answer.headers,
                "X-Pier-Version": loaded.version,
                "X-Pier-Prediction-Id": prediction_id,
            },
        )
    specs = loaded.spec.outputs
    if loaded.labels:
        outputs = images.answered(specs, outputs)  # type: ignore[assignment]
    payload = {
        "model": loaded.model,
        "version": loaded.version,
        "outputs": outputs[specs[0].name] if len(specs) == 1 else outputs,
        "prediction_id": prediction_id,
    }
    return Answer(dumps(payload), "application/json", {"X-Pier-Version": loaded.version})


@router.post(
    "/predict",
    response_model=PredictResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": PredictRequest.model_json_schema()},
                compact.MEDIA_TYPE: compact.OPENAPI_BODY,
            },
        },
        "responses": {"200": {"content": {compact.MEDIA_TYPE: compact.OPENAPI_ANSWER}}},
    },
)
async def predict(request: Request) -> Response:
    """What OpenAPI shows of /predict. Requests are answered by inference/http/lane.py
    before FastAPI routes them; should one reach this route, it gets the same answer."""
    answer = await answer_predict(state_of(request), request.headers, await request.body())
    return Response(answer.body, media_type=answer.media_type, headers=answer.headers)


@router.get("/models", response_model=ModelsResponse)
async def models(request: Request) -> Response:
    state = state_of(request)
    snapshot = state.registry.active
    served = []
    for name, model in sorted(snapshot.models.items()) if snapshot else []:
        served.append(
            {
                "name": name,
                "weights": model.route.weights,
                "versions": [
                    {
                        "version": v.spec.version,
                        "sha256": v.spec.sha256,
                        "format": v.spec.format,
                        "inputs": [s.model_dump(exclude_none=True) for s in v.spec.inputs],
                        "outputs": [s.model_dump(exclude_none=True) for s in v.spec.outputs],
                    }
                    for v in model.versions.values()
                ],
            }
        )
    body = {
        "revision": snapshot.table.revision if snapshot else None,
        "ready": state.registry.ready,
        "models": served,
    }
    return Response(dumps(body), media_type="application/json")


@router.get("/healthz")
async def healthz(request: Request) -> Response:
    """Liveness: the process answers. Readiness is /v2/health/ready."""
    state = state_of(request)
    body = {
        "status": "ok",
        "ready": state.registry.ready,
        "revision": state.poller.revision,
        "loaded": state.registry.loaded_names(),
        "device": str(state.registry.device),
        "last_error": state.registry.last_error or None,
        "last_poll_error": state.poller.last_poll_error or None,
    }
    return Response(dumps(body), media_type="application/json")
