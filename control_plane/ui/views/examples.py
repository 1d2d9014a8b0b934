"""Example requests for a version, made from its tensor specs: the JSON to try, and the same
call with curl, Python `requests` and `tritonclient`, ready to copy."""

from __future__ import annotations

import json
from collections.abc import Sequence

from control_plane.schemas import TensorSpec

V2_TYPES = {
    "float32": "FP32",
    "float64": "FP64",
    "float16": "FP16",
    "bfloat16": "BF16",
    "int64": "INT64",
    "int32": "INT32",
    "int16": "INT16",
    "int8": "INT8",
    "uint8": "UINT8",
    "bool": "BOOL",
}


def _shape(spec: TensorSpec) -> list[int]:
    """One row: the batch dimension 1, other free dimensions 1 too."""
    return [1 if d == -1 else d for d in spec.shape]


def _zeros(shape: Sequence[int], dtype: str) -> object:
    zero: object = False if dtype == "bool" else (0 if dtype.startswith(("int", "uint")) else 0.0)
    for d in reversed(shape):
        zero = [zero] * d
    return zero


def takes_image(specs: Sequence[TensorSpec]) -> bool:
    return len(specs) == 1 and specs[0].preprocess is not None


def sample_inputs(specs: Sequence[TensorSpec]) -> str:
    """The `inputs` of a one-row request, as JSON to edit."""
    if takes_image(specs):
        return json.dumps([{"b64": "<base64 of a JPEG, PNG or WebP file>"}])
    values = {s.name: _zeros(_shape(s), s.dtype) for s in specs}
    if len(specs) == 1:
        return json.dumps(values[specs[0].name])
    return json.dumps(values, indent=2)


def _curl(url: str, model: str, version: str, specs: Sequence[TensorSpec]) -> str:
    if takes_image(specs):
        return (
            f"curl -s {url}/predict -H 'X-Pier-Model: {model}' "
            f"-H 'X-Pier-Model-Version: {version}' \\\n"
            "     -H 'Content-Type: image/jpeg' --data-binary @image.jpg"
        )
    body = json.dumps(
        {"model": model, "version": version, "inputs": json.loads(sample_inputs(specs))}
    )
    return f"curl -s {url}/predict -H 'Content-Type: application/json' \\\n     -d '{body}'"


def _requests(url: str, model: str, version: str, specs: Sequence[TensorSpec]) -> str:
    if takes_image(specs):
        return (
            "import requests\n\n"
            "with open('image.jpg', 'rb') as f:\n"
            f"    r = requests.post('{url}/predict', data=f.read(), headers={{\n"
            f"        'Content-Type': 'image/jpeg', 'X-Pier-Model': '{model}',\n"
            f"        'X-Pier-Model-Version': '{version}'}})\n"
            "print(r.json()['outputs'])"
        )
    inputs = json.loads(sample_inputs(specs))
    return (
        "import requests\n\n"
        f"r = requests.post('{url}/predict', json={{\n"
        f"    'model': '{model}', 'version': '{version}',\n"
        f"    'inputs': {inputs!r}}})\n"
        "print(r.json()['outputs'])"
    )


def _triton_input(spec: TensorSpec) -> str:
    if spec.preprocess is not None:
        return (
            f"item = httpclient.InferInput('{spec.name}', [1], 'BYTES')\n"
            "item.set_data_from_numpy(np.array([open('image.jpg', 'rb').read()], dtype=object))\n"
        )
    dtype = "ml_dtypes.bfloat16" if spec.dtype == "bfloat16" else f"np.{spec.dtype}"
    return (
        f"item = httpclient.InferInput('{spec.name}', {_shape(spec)}, '{V2_TYPES[spec.dtype]}')\n"
        f"item.set_data_from_numpy(np.zeros({_shape(spec)}, dtype={dtype}))\n"
    )


def _tritonclient(url: str, model: str, version: str, specs: Sequence[TensorSpec]) -> str:
    host = url.split("://", 1)[-1]
    bf16 = any(s.dtype == "bfloat16" and s.preprocess is None for s in specs)
    feed = "".join(_triton_input(s) + "items.append(item)\n" for s in specs)
    return (
        ("import ml_dtypes\n" if bf16 else "") + "import numpy as np\n"
        "import tritonclient.http as httpclient\n\n"
        f"client = httpclient.InferenceServerClient('{host}')\n"
        "items = []\n"
        f"{feed}"
        f"result = client.infer('{model}', items, model_version='{version}')\n"
        "print(result.get_response()['outputs'])"
    )


def examples(url: str, model: str, version: str, specs: Sequence[TensorSpec]) -> dict[str, str]:
    """The same one-row call three ways, keyed by the client's name."""
    return {
        "curl": _curl(url, model, version, specs),
        "Python requests": _requests(url, model, version, specs),
        "tritonclient": _tritonclient(url, model, version, specs),
    }


def feedback_curl(url: str) -> str:
    """Ground truth for one prediction, by the id /predict answered with."""
    body = '{"prediction_id": "<prediction_id from /predict>", "label": 0}'
    return f"curl -s {url}/feedback -H 'Content-Type: application/json' \\\n     -d '{body}'"
