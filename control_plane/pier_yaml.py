"""pier.yaml: a model version described in a file, with its artifact beside it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from control_plane.errors import InvalidRequest
from control_plane.schemas import (
    Batching,
    FieldProblem,
    Resources,
    ScalingSettings,
    TensorSpec,
    check_label,
    check_model_name,
    explain,
    unknown_key,
)


class ManifestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    version: str | None = None
    framework: str = "pytorch"
    artifact: str
    inputs: list[TensorSpec] = Field(min_length=1)
    outputs: list[TensorSpec] = Field(min_length=1)
    resources: Resources = Field(default_factory=Resources)
    batching: Batching = Field(default_factory=Batching)
    metrics: dict[str, float] = Field(default_factory=dict)
    description: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_model_name(v)

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, v: Any) -> str | None:
        return None if v is None else check_label(str(v))

    @field_validator("framework")
    @classmethod
    def _framework(cls, v: str) -> str:
        if v != "pytorch":
            raise ValueError(f"framework must be 'pytorch', got {v!r}")
        return v


@dataclass(frozen=True)
class Manifest:
    model: ManifestModel
    artifact_path: Path
    # The optional top-level `scaling:` section: the API's ScalingSettings, same rules.
    scaling: ScalingSettings | None = None

    def version_create(self, sha256: str) -> dict[str, Any]:
        """The body of POST /api/v1/models/{name}/versions."""
        m = self.model
        return {
            "version": m.version,
            "framework": m.framework,
            "sha256": sha256,
            "inputs": [s.stored() for s in m.inputs],
            "outputs": [s.stored() for s in m.outputs],
            "resources": m.resources.model_dump(),
            "batching": m.batching.model_dump(exclude_none=True),
            "metrics": m.metrics,
            "description": m.description,
            "scaling": self.scaling.model_dump(mode="json") if self.scaling else None,
        }


MAX_MANIFEST_BYTES = 1024 * 1024
TOP_LEVEL_KEYS = frozenset({"model", "scaling"})


def _refuse_aliases(path: Path, text: str) -> None:
    """A manifest needs no anchors; refusing them stops alias bombs before any are built."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise InvalidRequest(f"{path}: YAML anchors and aliases (&, *) are not accepted")


def load_manifest(path: Path) -> Manifest:
    """Read and validate a pier.yaml; errors name the file and the field."""
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise InvalidRequest(f"{path} is larger than {MAX_MANIFEST_BYTES} bytes")
        text = path.read_text()
        _refuse_aliases(path, text)
        doc = yaml.safe_load(text)
    except OSError as e:
        raise InvalidRequest(f"cannot read {path}: {e.strerror}") from e
    except yaml.YAMLError as e:
        raise InvalidRequest(f"{path} is not valid YAML: {e}") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("model"), dict):
        raise InvalidRequest(f"{path}: expected a top-level 'model:' mapping")
    unknown = sorted(str(k) for k in doc if k not in TOP_LEVEL_KEYS)
    if unknown:
        known = sorted(TOP_LEVEL_KEYS)
        raise _refused(path, [FieldProblem(k, unknown_key(k, k, known)) for k in unknown])
    _read_labels(path, doc["model"])
    try:
        model = ManifestModel.model_validate(doc["model"])
    except ValidationError as e:
        raise _refused(path, explain(e, prefix="model", model=ManifestModel)) from e
    artifact = (path.parent / model.artifact).resolve()
    if not artifact.is_relative_to(path.parent.resolve()):
        raise InvalidRequest(
            f"{path}: artifact {model.artifact!r} is outside the manifest's folder; it must "
            "be one of the uploaded files beside the manifest"
        )
    if not artifact.is_file():
        raise InvalidRequest(f"{path}: artifact {model.artifact!r} not found at {artifact}")
    return Manifest(model=model, artifact_path=artifact, scaling=_scaling(path, doc))


def _scaling(path: Path, doc: dict[str, Any]) -> ScalingSettings | None:
    raw = doc.get("scaling")
    if raw is None:
        return None
    try:
        return ScalingSettings.model_validate(raw)
    except ValidationError as e:
        raise _refused(path, explain(e, prefix="scaling", model=ScalingSettings)) from e


def _refused(path: Path, problems: list[FieldProblem]) -> InvalidRequest:
    """The file, then each problem's sentence on a line of its own."""
    if len(problems) == 1:
        return InvalidRequest(f"{path}: {problems[0].message}")
    return InvalidRequest(f"{path}:\n" + "\n".join(p.message for p in problems))


MAX_LABELS_BYTES = 8 * 1024 * 1024


def _read_labels(path: Path, model: dict[str, Any]) -> None:
    """Replace each classify output's `labels: "file"` by the file's lines, so the labels are
    stored with the version; the file must sit in the manifest's folder."""
    for output in model.get("outputs") or []:
        classify = (
            ((output or {}).get("postprocess") or {}).get("classify")
            if isinstance(output, dict)
            else None
        )
        if not isinstance(classify, dict) or not isinstance(classify.get("labels"), str):
            continue
        name = classify["labels"]
        file = (path.parent / name).resolve()
        if not file.is_relative_to(path.parent.resolve()) or not file.is_file():
            raise InvalidRequest(
                f"{path}: labels file {name!r} not found in the manifest's folder; it is "
                "one label per line, beside the artifact"
            )
        if file.stat().st_size > MAX_LABELS_BYTES:
            raise InvalidRequest(f"{path}: labels file {name!r} is over {MAX_LABELS_BYTES} bytes")
        try:
            lines = [line.rstrip() for line in file.read_text(encoding="utf-8-sig").split("\n")]
        except UnicodeDecodeError as e:
            raise InvalidRequest(f"{path}: labels file {name!r} is not UTF-8 text") from e
        while lines and not lines[-1]:
            lines.pop()
        classify["labels"] = lines
