"""``python -m inference.models.check``: accept or refuse an artifact at push
(docs/contract.md). Prints one JSON object on stdout; exit 0 when accepted, 1 when refused."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson
from pydantic import TypeAdapter, ValidationError

from inference.errors import InferenceError
from inference.models.loader import configure_threads, detect_format, load_model, warm
from inference.schemas import TensorSpec

_SPECS = TypeAdapter(list[TensorSpec])


def check(artifact: Path, inputs_json: str, outputs_json: str) -> dict[str, object]:
    """The verdict as the JSON object the CLI prints."""
    try:
        inputs = _SPECS.validate_json(inputs_json)
        outputs = _SPECS.validate_json(outputs_json)
    except ValidationError as e:
        return {"ok": False, "error": f"invalid tensor specs: {e.errors(include_url=False)}"}
    if not inputs or not outputs:
        return {"ok": False, "error": "expected at least one input and one output spec"}
    if not artifact.is_file():
        return {"ok": False, "error": f"no artifact file at {artifact}"}
    try:
        fmt = detect_format(artifact)
        model = load_model(artifact, fmt, inputs, outputs)
        warm(model, rows=2)
    except InferenceError as e:
        return {"ok": False, "error": e.message}
    return {"ok": True, "format": fmt}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.models.check", description=__doc__)
    parser.add_argument("--artifact", required=True, type=Path)
    parser.add_argument("--inputs", required=True, help="JSON list of input tensor specs")
    parser.add_argument("--outputs", required=True, help="JSON list of output tensor specs")
    args = parser.parse_args(argv)
    configure_threads(1)
    verdict = check(args.artifact, args.inputs, args.outputs)
    sys.stdout.write(orjson.dumps(verdict).decode() + "\n")
    return 0 if verdict["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
