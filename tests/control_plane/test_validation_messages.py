"""Validation errors in Pier's words: a pier.yaml, the form models and the REST API's 422 each
name the field, say what is expected and suggest the key that was meant."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from control_plane.errors import InvalidRequest
from control_plane.pier_yaml import ManifestModel, load_manifest
from control_plane.schemas import (
    FieldProblem,
    ScalingSettings,
    TokenCreate,
    UserCreate,
    explain,
    sentences,
)
from tests.control_plane.conftest import Api

MANIFEST = """model:
  name: iris
  {framework}: pytorch
  artifact: model.pt
  inputs: [{{name: features, dtype: float32, shape: [-1, 4]}}]
  outputs: [{{name: probabilities, dtype: float32, shape: [-1, 3]}}]
"""


def refusal(tmp_path: Path, text: str) -> str:
    (tmp_path / "model.pt").write_bytes(b"not read: the manifest is refused first")
    path = tmp_path / "pier.yaml"
    path.write_text(text)
    with pytest.raises(InvalidRequest) as refused:
        load_manifest(path)
    return refused.value.message


def problems(model: type[BaseModel], data: object, prefix: str = "") -> list[FieldProblem]:
    with pytest.raises(ValidationError) as raised:
        model.model_validate(data)
    return explain(raised.value, prefix=prefix, model=model)


def test_a_misspelt_manifest_key_suggests_the_right_one(tmp_path: Path) -> None:
    message = refusal(tmp_path, MANIFEST.format(framework="framwork"))
    assert message == (
        f"{tmp_path / 'pier.yaml'}: model.framwork: unknown key; did you mean `framework`? "
        "Expected one of: name, version, framework, artifact, inputs, outputs, resources, "
        "batching, metrics, description."
    )
    assert "Extra inputs" not in message


def test_a_misspelt_top_level_section_is_named_with_its_fix(tmp_path: Path) -> None:
    text = MANIFEST.format(framework="framework") + "scailing: {max_replicas: 4}\n"
    assert "scailing: unknown key; did you mean `scaling`?" in refusal(tmp_path, text)


def test_a_nested_scaling_typo_suggests_the_key_of_that_level(tmp_path: Path) -> None:
    text = MANIFEST.format(framework="framework") + (
        "scaling: {scale_down: {stablization_window_s: 60, policies: "
        "[{type: Pods, value: 1, period_s: 15}]}}\n"
    )
    assert (
        "scaling.scale_down.stablization_window_s: unknown key; did you mean "
        "`stabilization_window_s`? Expected one of: stabilization_window_s, policies, select."
    ) in refusal(tmp_path, text)
    (found,) = problems(ScalingSettings, {"max_replica": 4}, prefix="scaling")
    assert found.field == "scaling.max_replica"
    assert "did you mean `max_replicas`?" in found.message


def test_several_problems_are_one_per_line(tmp_path: Path) -> None:
    text = MANIFEST.format(framework="framwork").replace("  outputs", "  #")
    lines = refusal(tmp_path, text).splitlines()
    assert len(lines) == 3 and lines[0] == f"{tmp_path / 'pier.yaml'}:"
    assert lines[1] == "model.outputs is required; expected a list."
    assert lines[2].startswith("model.framwork: unknown key; did you mean `framework`?")


@pytest.mark.parametrize(
    ("model", "data", "field", "message"),
    [
        (
            TokenCreate,
            {"name": "ci", "expires_in_days": "soon"},
            "expires_in_days",
            "expires_in_days: expected a whole number, got 'soon'.",
        ),
        (
            ScalingSettings,
            {"target_metric": "rps", "target_value": "fast"},
            "target_value",
            "target_value: expected a number, got 'fast'.",
        ),
        (
            ScalingSettings,
            {"max_replicas": 0},
            "max_replicas",
            "max_replicas: expected at least 1, got 0.",
        ),
        (
            ScalingSettings,
            {"target_cpu_utilization": 170},
            "target_cpu_utilization",
            "target_cpu_utilization: expected at most 100, got 170.",
        ),
        (
            ScalingSettings,
            {"target_metric": "latency"},
            "target_metric",
            "target_metric: expected one of cpu, inflight, rps, got 'latency'.",
        ),
        (
            TokenCreate,
            {"name": "ci", "role": "admn"},
            "role",
            "role: expected one of viewer, deployer, admin, got 'admn'; did you mean `admin`?",
        ),
        (TokenCreate, {"name": ""}, "name", "name must not be empty."),
        (
            TokenCreate,
            {"name": "x" * 65},
            "name",
            "name: expected at most 64 characters, got 65.",
        ),
        (
            UserCreate,
            {"username": "a b", "password": "a long password"},
            "username",
            "username: expected 1-64 letters, digits, '_', '.' or '-', got 'a b'.",
        ),
        (
            UserCreate,
            {"username": "ann", "password": "short"},
            "password",
            "password: expected at least 12 characters, got 5.",
        ),
        (
            ScalingSettings,
            {"min_replicas": 4, "max_replicas": 2},
            "max_replicas",
            "max_replicas (2) must be at least min_replicas (4).",
        ),
    ],
)
def test_each_problem_names_the_field_and_what_is_expected(
    model: type[BaseModel], data: dict[str, object], field: str, message: str
) -> None:
    (found,) = problems(model, data)
    assert found == FieldProblem(field, message)


def test_a_missing_field_and_an_unusual_one_are_still_named() -> None:
    missing = problems(ManifestModel, {"name": "iris", "inputs": [], "outputs": []}, "model")
    assert FieldProblem("model.artifact", "model.artifact is required; expected text.") in missing

    class Window(BaseModel):
        start: datetime

    (odd,) = problems(Window, {"start": "soon"})
    assert odd.field == "start" and odd.message.startswith("start: expected a valid datetime")


def test_sentences_join_every_problem() -> None:
    with pytest.raises(ValidationError) as raised:
        TokenCreate.model_validate({"name": "", "expires_in_days": 0})
    assert sentences(raised.value, model=TokenCreate) == (
        "name must not be empty. expires_in_days: expected at least 1, got 0."
    )


def test_the_api_answers_422_with_a_sentence_per_field(api: Api) -> None:
    with api.client() as c:
        r = c.post("/api/v1/tokens", json={"name": "ci", "rol": "viewer", "expires_in_days": "x"})
        nested = c.put(
            "/api/v1/models/nope/scaling",
            json={"scaling": {"min_replicas": 1, "max_replica": 3}},
        )
        broken = c.post(
            "/api/v1/tokens", content=b"{", headers={"content-type": "application/json"}
        )
    assert r.status_code == 422
    body = r.json()
    assert body["errors"] == [
        {
            "field": "expires_in_days",
            "message": "expires_in_days: expected a whole number, got 'x'.",
        },
        {
            "field": "rol",
            "message": "rol: unknown key; did you mean `role`? Expected one of: "
            "name, role, username, expires_in_days.",
        },
    ]
    assert body["detail"] == " ".join(e["message"] for e in body["errors"])
    assert body["error"]["message"] == body["detail"]  # what the CLI prints

    assert nested.status_code == 422
    (problem,) = nested.json()["errors"]
    assert problem["field"] == "scaling.max_replica"
    assert "did you mean `max_replicas`?" in problem["message"]

    assert broken.status_code == 422
    assert broken.json()["detail"].startswith("body is not valid JSON")
