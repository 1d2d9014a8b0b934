"""The only module that imports torch: recognise an artifact from its zip members alone, load
it, run a batch. Nothing here unpickles arbitrary Python: only TorchScript archives and
torch.export programs whose payloads are raw tensors reach torch."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import torch
from torch.export.passes import move_to_device_pass

from inference.errors import ArtifactError, ModelError, UnsupportedArtifact
from inference.models.archives import (
    check_member_names,
    check_pickles,
    check_sizes,
    check_torchscript_members,
)
from inference.schemas import ArtifactFormat, TensorSpec
from inference.tensors import check_outputs, zero_batch

ACCEPTED = (
    "accepted formats: a TorchScript archive (torch.jit.script/trace then .save) "
    "or a torch.export program (torch.export.save, .pt2)"
)

# Members a torch.export.save archive of torch 2.13 may hold, under its root folder. Others are
# refused (AOTInductor code, pickled payloads, the legacy layout): torch would unpickle or run them.
_PT2_MEMBERS = [
    re.compile(p)
    for p in (
        r"archive_format",
        r"archive_version",
        r"byteorder",
        r"\.data/version",
        r"\.data/serialization_id",
        r"models/model\.json",
        r"data/weights/model_weights_config\.json",
        r"data/weights/weight_\d+",
        r"data/constants/model_constants_config\.json",
        r"data/constants/tensor_\d+",
        r"data/sample_inputs/model\.pt",
        r"extra/[^/]+",
    )
]
_CONFIG_LIMIT_BYTES = 16 * 1024 * 1024
# The rest of the service names devices through this module: only it imports torch.
Device: TypeAlias = torch.device


def _split_root(names: Sequence[str]) -> tuple[str, set[str]]:
    """The archive's single root folder and its members relative to it."""
    roots = {name.split("/", 1)[0] for name in names}
    if len(roots) != 1 or any("/" not in name for name in names):
        raise UnsupportedArtifact(f"the zip archive does not have one root folder; {ACCEPTED}")
    root = roots.pop()
    return root, {name.split("/", 1)[1] for name in names if not name.endswith("/")}


def _read_small(archive: zipfile.ZipFile, name: str) -> bytes:
    if archive.getinfo(name).file_size > _CONFIG_LIMIT_BYTES:
        raise UnsupportedArtifact(f"{name} is unexpectedly large; {ACCEPTED}")
    return archive.read(name)


def _check_payload_config(archive: zipfile.ZipFile, name: str, prefix: str, what: str) -> None:
    try:
        config = json.loads(_read_small(archive, name))
        entries = config["config"].values()
        for entry in entries:
            if entry.get("use_pickle", False) or not str(entry["path_name"]).startswith(prefix):
                raise UnsupportedArtifact(
                    f"this torch.export program stores pickled {what} "
                    f"({entry['path_name']}), which would be unpickled; {ACCEPTED} "
                    "with tensor-only weights and constants"
                )
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise UnsupportedArtifact(f"unreadable {what} config {name}; {ACCEPTED}") from e


def _check_pt2(archive: zipfile.ZipFile, root: str, members: set[str]) -> None:
    unexpected = sorted(m for m in members if not any(p.fullmatch(m) for p in _PT2_MEMBERS))
    if unexpected:
        raise UnsupportedArtifact(
            "this .pt2 archive holds members Pier does not load safely "
            f"({', '.join(unexpected[:5])}); {ACCEPTED} without AOTInductor code or "
            "pickled payloads"
        )
    for required in (
        "models/model.json",
        "data/weights/model_weights_config.json",
        "data/constants/model_constants_config.json",
        "data/sample_inputs/model.pt",
    ):
        if required not in members:
            raise UnsupportedArtifact(f"this .pt2 archive lacks {required}; {ACCEPTED}")
    _check_payload_config(
        archive, f"{root}/data/weights/model_weights_config.json", "weight_", "weights"
    )
    _check_payload_config(
        archive, f"{root}/data/constants/model_constants_config.json", "tensor_", "constants"
    )
    # torch.export.load retries a failed weights-only load of the sample inputs
    # with weights_only=False; make sure the safe load succeeds first.
    sample = _read_small(archive, f"{root}/data/sample_inputs/model.pt")
    if sample:
        try:
            torch.load(io.BytesIO(sample), weights_only=True, map_location="cpu")
        except Exception as e:
            raise UnsupportedArtifact(
                f"the sample inputs of this .pt2 archive are not plain tensors; {ACCEPTED}"
            ) from e


def detect_format(path: Path) -> ArtifactFormat:
    """Recognise an artifact from its zip members only; raise UnsupportedArtifact otherwise."""
    if not zipfile.is_zipfile(path):
        raise UnsupportedArtifact(
            f"the artifact is not a zip archive (a raw pickle or another file); {ACCEPTED}"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if not names:
                raise UnsupportedArtifact(f"the zip archive is empty; {ACCEPTED}")
            check_member_names(archive, ACCEPTED)
            check_sizes(archive, ACCEPTED)
            root, members = _split_root(names)
            if "archive_format" in members:
                if _read_small(archive, f"{root}/archive_format").strip() != b"pt2":
                    raise UnsupportedArtifact(f"unknown archive_format; {ACCEPTED}")
                _check_pt2(archive, root, members)
                return "torch_export"
            has_code = any(m.startswith("code/") for m in members)
            if has_code and "constants.pkl" in members and "data.pkl" in members:
                check_torchscript_members(members, ACCEPTED)
                check_pickles(archive, root, members, ACCEPTED)
                return "torchscript"
            if "data.pkl" in members:
                raise UnsupportedArtifact(
                    "this is a pickled module or object saved with torch.save; Pier never "
                    f"unpickles it; {ACCEPTED}"
                )
    except zipfile.BadZipFile as e:
        raise UnsupportedArtifact(f"the zip archive is corrupt; {ACCEPTED}") from e
    raise UnsupportedArtifact(f"the zip archive is not a model Pier recognises; {ACCEPTED}")


def configure_threads(count: int) -> None:
    """Intra-op threads for every model of this process."""
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)


def resolve_device(name: str) -> torch.device:
    """The device a replica's models run on: ``cpu``, ``cuda``, ``cuda:N``, or ``auto``
    (the first GPU torch sees, else the CPU). A GPU torch cannot use is an error, never a
    quiet fall back to a CPU the replica was not sized for."""
    # The settings' pattern (InferenceSettings.device) admits those forms only.
    if name == "auto":
        return torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    device = torch.device(name)
    if device.type == "cpu":
        return device
    if not torch.cuda.is_available():
        build = f"torch {torch.__version__}" + ("" if torch.version.cuda else ", a CPU build")
        raise ValueError(
            f"device {name!r}: torch sees no CUDA device ({build}); use a CUDA build of "
            "torch on a machine with an NVIDIA GPU, or the device cpu or auto"
        )
    index = 0 if device.index is None else device.index
    count = torch.cuda.device_count()
    if index >= count:
        raise ValueError(f"device {name!r}: torch sees {count} CUDA device(s), 0 to {count - 1}")
    return torch.device("cuda", index)


def describe_device(device: torch.device) -> str:
    """``cpu``, or ``cuda:0 (NVIDIA H200)``: for logs and /healthz."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def _load_module(path: Path, fmt: ArtifactFormat, device: torch.device) -> Callable[..., Any]:
    if fmt == "torchscript":
        module = torch.jit.load(str(path), map_location=device)
        module.eval()
        return module
    # A file object: torch.export.load warns about paths not ending in .pt2.
    with path.open("rb") as handle:
        program = torch.export.load(handle)
    if device.type != "cpu":
        # Parameters, buffers and the tensor constants of the graph, and the devices its
        # operators name (a bare .to() on the module would leave the last two behind).
        program = move_to_device_pass(program, device)
    return program.module()


@dataclass
class LoadedModel:
    """A loaded artifact: numpy in, numpy out, checked against its declared outputs."""

    format: ArtifactFormat
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    module: Callable[..., Any]
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    def _named_outputs(self, result: object) -> dict[str, np.ndarray]:
        if isinstance(result, torch.Tensor):
            values: list[object] = [result]
        elif isinstance(result, list | tuple):
            values = list(result)
        elif isinstance(result, Mapping):
            missing = [s.name for s in self.outputs if s.name not in result]
            if missing:
                raise ModelError(f"the model's output dict lacks {missing}")
            values = [result[s.name] for s in self.outputs]
        else:
            raise ModelError(f"the model returned {type(result).__name__}, expected tensors")
        if len(values) != len(self.outputs):
            raise ModelError(
                f"the model returned {len(values)} outputs, expected {len(self.outputs)} "
                f"({', '.join(s.name for s in self.outputs)})"
            )
        named = {}
        for spec, value in zip(self.outputs, values, strict=True):
            if not isinstance(value, torch.Tensor):
                raise ModelError(
                    f"output {spec.name}: expected a tensor, got {type(value).__name__}"
                )
            if (value.dtype == torch.bfloat16) != (spec.dtype == "bfloat16"):
                got = str(value.dtype).removeprefix("torch.")
                raise ModelError(f"output {spec.name}: expected {spec.describe()}, got {got}")
            if value.dtype == torch.bfloat16:
                value = value.float()  # the service's carrier for bfloat16 (inference/tensors.py)
            named[spec.name] = value.detach().cpu().numpy()
        return named

    def _tensor(self, spec: TensorSpec, array: np.ndarray) -> torch.Tensor:
        tensor = torch.from_numpy(array if array.flags.writeable else array.copy())
        if spec.dtype == "bfloat16":
            tensor = tensor.to(torch.bfloat16)
        return tensor if self.device.type == "cpu" else tensor.to(self.device)

    def run(self, batch: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one batch; raise ModelError when the model fails or breaks its output specs."""
        # On a GPU the answers come back through .cpu() (_named_outputs), which waits for
        # the device: a call's time is its whole time there.
        tensors = [self._tensor(s, batch[s.name]) for s in self.inputs]
        try:
            with torch.inference_mode():
                result = self.module(*tensors)
            outputs = self._named_outputs(result)
        except ModelError:
            raise
        except Exception as e:
            raise ModelError(f"the model failed: {e}") from e
        problems = check_outputs(self.outputs, outputs)
        if problems:
            raise ModelError("; ".join(problems))
        return outputs


def load_model(
    path: Path,
    fmt: ArtifactFormat,
    inputs: list[TensorSpec],
    outputs: list[TensorSpec],
    device: torch.device | None = None,
) -> LoadedModel:
    """Recognise, load and return the artifact on `device` (the CPU by default); the
    declared format must match the bytes."""
    device = device or torch.device("cpu")
    found = detect_format(path)
    if found != fmt:
        raise ArtifactError(f"the artifact is a {found} archive, but its version says {fmt}")
    try:
        module = _load_module(path, fmt, device)
    except Exception as e:
        raise ArtifactError(f"torch could not load the {fmt} artifact on {device}: {e}") from e
    return LoadedModel(
        format=fmt, inputs=list(inputs), outputs=list(outputs), module=module, device=device
    )


def warm(model: LoadedModel, rows: int = 1) -> None:
    """Run once on zeros so the first real request pays no lazy initialisation."""
    model.run(zero_batch(model.inputs, rows))
