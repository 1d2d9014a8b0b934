"""Declared pre- and post-processing on the wire: encoded images in (a raw body, base64 in
JSON, BYTES in v2), decoded off the event loop; classifier scores out as top labels."""

from __future__ import annotations

import asyncio
import binascii
from collections.abc import Mapping, Sequence

import numpy as np

from inference.errors import InvalidInput, TooManyRows
from inference.models.loaded import LoadedVersion
from inference.processing.classify import top_k
from inference.processing.image import decode_image
from inference.processing.specs import image_steps
from inference.schemas import TensorSpec
from inference.tensors import coerce

ROW_FORM = '{"b64": "<base64 of a JPEG, PNG or WebP file>"}'


def is_image(content_type: str | None) -> bool:
    """Any image/* body takes the image path, so an unsupported format is named as such."""
    return (content_type or "").split(";", 1)[0].strip().lower().startswith("image/")


def body_input(loaded: LoadedVersion) -> TensorSpec:
    """The input a raw image body feeds: the model's only input, declared as an image."""
    specs = loaded.spec.inputs
    if len(specs) != 1 or specs[0].preprocess is None:
        names = [s.name for s in specs]
        raise InvalidInput(
            f"an image body feeds a model whose one input declares preprocess: image; "
            f"{loaded.model} {loaded.version} has inputs {names}: send JSON"
        )
    return specs[0]


def _row(spec: TensorSpec, index: int, value: object) -> bytes:
    if isinstance(value, Mapping) and set(value) == {"b64"}:
        value = value["b64"]
    if not isinstance(value, str | bytes):
        raise InvalidInput(f"{spec.name}[{index}]: expected {ROW_FORM}")
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError) as e:
        raise InvalidInput(
            f"{spec.name}[{index}]: invalid base64 ({e}); expected {ROW_FORM}"
        ) from e


def rows_from_json(spec: TensorSpec, value: object) -> list[bytes]:
    """One encoded image per row: ``[{"b64": ...}, ...]`` (a bare base64 string per row too)."""
    if isinstance(value, Mapping | str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise InvalidInput(f"{spec.name}: expected a list of {ROW_FORM}, one per row")
    return [_row(spec, i, v) for i, v in enumerate(value)]


def _decode_all(spec: TensorSpec, rows: Sequence[bytes]) -> np.ndarray:
    steps = image_steps(spec)
    images = []
    for i, data in enumerate(rows):
        try:
            images.append(decode_image(data, steps))
        except InvalidInput as e:
            raise InvalidInput(f"{spec.name}[{i}]: {e.message}") from e
    shapes = {image.shape for image in images}
    if len(shapes) > 1:
        raise InvalidInput(
            f"{spec.name}: the images of one request decode to different sizes {sorted(shapes)}; "
            "declare a crop, or send one image per request"
        )
    return coerce(spec, np.stack(images))


def _decode_inputs(
    specs: Sequence[TensorSpec], encoded: Mapping[str, Sequence[bytes]]
) -> dict[str, np.ndarray]:
    return {s.name: _decode_all(s, encoded[s.name]) for s in specs if s.name in encoded}


async def decode(
    loaded: LoadedVersion, encoded: Mapping[str, Sequence[bytes]], max_rows: int
) -> dict[str, np.ndarray]:
    """Each image input's encoded rows as its batch, in one hop off the event loop; the rows
    are counted before any is decoded. Every door (raw body, JSON, v2 BYTES) comes here."""
    for name, rows in encoded.items():
        if len(rows) > max_rows:
            raise TooManyRows(
                f"{name}: expected at most {max_rows} rows per request, got {len(rows)}"
            )
    return await asyncio.to_thread(_decode_inputs, loaded.spec.inputs, encoded)


def json_rows(loaded: LoadedVersion, values: Mapping[str, object]) -> dict[str, list[bytes]]:
    """The encoded rows of each image input of a JSON request."""
    return {s.name: rows_from_json(s, values[s.name]) for s in loaded.spec.inputs if s.preprocess}


def answered(specs: Sequence[TensorSpec], outputs: Mapping[str, np.ndarray]) -> dict[str, object]:
    """The outputs as /predict answers them: a classify output as each row's top labels."""
    answer: dict[str, object] = {}
    for spec in specs:
        array = outputs[spec.name]
        if spec.postprocess is None:
            answer[spec.name] = array
        else:
            c = spec.postprocess.classify
            answer[spec.name] = top_k(array, c.labels, c.top_k, c.softmax)
    return answer


def v2_classes(spec: TensorSpec, array: np.ndarray) -> np.ndarray:
    """Triton's classification form, "score:index:label", [rows, top_k] BYTES."""
    assert spec.postprocess is not None
    c = spec.postprocess.classify
    rows = top_k(array, c.labels, c.top_k, c.softmax, index=True)
    texts = [[f"{e['score']}:{e['index']}:{e['label']}" for e in row] for row in rows]
    return np.array(texts, dtype=object)
