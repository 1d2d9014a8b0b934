"""``python -m inference.models.check``: accept or refuse an artifact at push
(docs/contract.md). Prints one JSON object on stdout; exit 0 when accepted, 1 when refused."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson
from pydantic import TypeAdapter, ValidationError

from inference.errors import InferenceError, ModelError
from inference.models.loader import (
    LoadedModel,
    configure_threads,
    detect_format,
    load_model,
    warm,
)
from inference.processing.specs import problems
from inference.schemas import TensorSpec

_SPECS = TypeAdapter(list[TensorSpec])
CALLING = (
    "Pier calls forward(*inputs) with one tensor per declared input, in the declared order, "
    "dtype and shape, dimension 0 being the batch, and expects a tensor, a tuple or a dict of "
    "tensors matching the declared outputs: declare the inputs and outputs the model was "
    "made for (docs/models.md)"
)
FIXED_BATCH = (
    "its batch dimension is fixed: export it with dynamic_shapes giving dimension 0 a "
    "torch.export.Dim, from an example batch of 2 or more rows, or trace it with no literal "
    "batch size in forward (x.reshape(x.shape[0], -1), not x.reshape(2, -1))"
)


def check(artifact: Path, inputs_json: str, outputs_json: str) -> dict[str, object]:
    """The verdict as the JSON object the CLI prints."""
    try:
        inputs = _SPECS.validate_json(inputs_json)
        outputs = _SPECS.validate_json(outputs_json)
    except ValidationError as e:
        return {"ok": False, "error": f"invalid tensor specs: {e.errors(include_url=False)}"}
    if not inputs or not outputs:
        return {"ok": False, "error": "expected at least one input and one output spec"}
    steps = problems(inputs, outputs)
    if steps:
        return {"ok": False, "error": "; ".join(steps)}
    if not artifact.is_file():
        return {"ok": False, "error": f"no artifact file at {artifact}"}
    try:
        fmt = detect_format(artifact)
        model = load_model(artifact, fmt, inputs, outputs)
    except InferenceError as e:
        return {"ok": False, "error": e.message}
    problem = batch_problem(model)
    if problem is not None:
        return {"ok": False, "error": problem}
    return {"ok": True, "format": fmt}


def _fails(model: LoadedModel, rows: int) -> str | None:
    try:
        warm(model, rows)
    except ModelError as e:
        # TorchScript tracebacks run to dozens of lines: its first and last say what failed.
        lines = [line.strip() for line in e.message.splitlines() if line.strip()]
        return lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"
    return None


def batch_problem(model: LoadedModel) -> str | None:
    """Why the model cannot answer batches of any size, or None. Requests carry any number of
    rows and the batcher merges them, so a model that answers only one batch size (a literal
    size in forward, an export whose batch dimension was specialised) is refused here."""
    at_three = _fails(model, 3)
    if at_three is None:
        at_one = _fails(model, 1)
        return None if at_one is None else f"{at_one} with a batch of 1 row; {FIXED_BATCH}"
    working = [rows for rows in (1, 2) if _fails(model, rows) is None]
    if working:
        return (
            f"the model answers a batch of {working[0]} row(s) but fails on 3 ({at_three}); "
            f"{FIXED_BATCH}"
        )
    return f"{at_three}; {CALLING}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.models.check", description=__doc__)
    parser.add_argument("--artifact", required=True, type=Path)
    parser.add_argument("--inputs", required=True, help="JSON list of input tensor specs")
    parser.add_argument(
        "--outputs", required=True, help="JSON list of output tensor specs; - reads stdin"
    )
    args = parser.parse_args(argv)
    configure_threads(1)
    outputs = sys.stdin.read() if args.outputs == "-" else args.outputs
    verdict = check(args.artifact, args.inputs, outputs)
    sys.stdout.write(orjson.dumps(verdict).decode() + "\n")
    return 0 if verdict["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
