"""Whether a version's declared pre- and post-processing fit its tensors: checked at push, so
a mismatch is refused there rather than at the first image."""

from __future__ import annotations

from collections.abc import Sequence

from inference.processing.image import ImageSteps
from inference.schemas import TensorSpec

FLOATS = ("float32", "float64", "float16", "bfloat16")


def image_steps(spec: TensorSpec) -> ImageSteps:
    """The decoding steps an input declares; only for a spec with preprocess."""
    assert spec.preprocess is not None
    image = spec.preprocess.image
    return ImageSteps(image.resize, image.crop, image.mean, image.std)


def _image_problem(spec: TensorSpec) -> str | None:
    assert spec.preprocess is not None
    crop = spec.preprocess.image.crop
    side = crop if crop is not None else -1
    fits = (
        spec.dtype == "float32"
        and len(spec.shape) == 4
        and spec.shape[:2] == [-1, 3]
        and all(d in (-1, side) for d in spec.shape[2:])
    )
    if fits:
        return None
    return (
        f"input {spec.name}: an image input is float32 shaped [-1, 3, {side}, {side}] "
        f"(RGB, channels first{', the crop' if crop else ''}), got {spec.describe()}"
    )


def _classify_problem(spec: TensorSpec) -> str | None:
    assert spec.postprocess is not None
    if spec.dtype not in FLOATS or len(spec.shape) != 2 or spec.shape[0] != -1:
        return (
            f"output {spec.name}: classify reads scores shaped [-1, classes] of a float "
            f"dtype, got {spec.describe()}"
        )
    labels = len(spec.postprocess.classify.labels)
    classes = spec.shape[1]
    if classes != -1 and labels != classes:
        return f"output {spec.name}: {labels} labels for {classes} classes; give one per class"
    return None


def problems(inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec]) -> list[str]:
    """What is wrong with the declared steps, in words; empty when they fit."""
    found = [_image_problem(s) for s in inputs if s.preprocess is not None]
    found += [_classify_problem(s) for s in outputs if s.postprocess is not None]
    found += [f"input {s.name}: postprocess is for outputs" for s in inputs if s.postprocess]
    found += [f"output {s.name}: preprocess is for inputs" for s in outputs if s.preprocess]
    return [p for p in found if p is not None]
