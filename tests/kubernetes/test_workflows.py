"""The GitHub Actions pipelines: actionlint, pinned actions, least permissions, timeouts."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
ACTION = REPO / ".github" / "actions" / "deploy-model"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def _load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def _uses(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["uses"]] if isinstance(node.get("uses"), str) else []
        return found + [u for v in node.values() for u in _uses(v)]
    if isinstance(node, list):
        return [u for v in node for u in _uses(v)]
    return []


def test_the_workflows_pass_actionlint() -> None:
    actionlint = Path(sys.executable).parent / "actionlint"
    result = subprocess.run(
        [str(actionlint), *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_pipeline_is_there() -> None:
    assert {p.stem for p in WORKFLOWS} >= {"ci", "release", "e2e"}
    assert (ACTION / "action.yml").is_file()


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION / "action.yml"], ids=lambda p: p.stem)
def test_actions_are_pinned_by_commit(path: Path) -> None:
    for uses in _uses(_load(path)):
        assert uses.startswith("./") or PINNED.match(uses), f"{path.name}: {uses} is not pinned"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_least_permissions_and_a_timeout_on_every_job(path: Path) -> None:
    workflow = _load(path)
    assert workflow["permissions"] == {"contents": "read"}, "the default must be read-only"
    for name, job in workflow["jobs"].items():
        assert 0 < job["timeout-minutes"] <= 120, f"{path.name}: job {name} has no timeout"
        for scope, level in job.get("permissions", {}).items():
            assert (scope, level) in {("contents", "read"), ("packages", "write")}, (
                f"{path.name}: job {name} asks for {scope}: {level}"
            )


def test_tokens_never_reach_a_command_line() -> None:
    for path in [*WORKFLOWS, ACTION / "action.yml"]:
        for line in path.read_text().splitlines():
            if "secrets." in line or "inputs.token" in line:
                # Only as an environment variable (or a documented `with:` example).
                assert re.match(r"^\s*(#|[A-Z_]+:|token:)", line), f"{path.name}: {line.strip()}"


def _canary() -> Any:
    spec = importlib.util.spec_from_file_location("canary", ACTION / "canary.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("current", "new", "percent", "expected"),
    [
        ({}, "v2", 10, {"v2": 100}),
        ({"v1": 100}, "v2", 10, {"v1": 90, "v2": 10}),
        ({"v1": 50, "v2": 50}, "v3", 10, {"v1": 45, "v2": 45, "v3": 10}),
        ({"v1": 67, "v2": 33}, "v3", 5, {"v1": 64, "v2": 31, "v3": 5}),
        ({"v1": 90, "v2": 10}, "v2", 50, {"v1": 50, "v2": 50}),
        ({"v1": 100}, "v2", 100, {"v2": 100}),
    ],
)
def test_canary_weights_keep_proportions_and_sum_to_100(
    current: dict[str, int], new: str, percent: int, expected: dict[str, int]
) -> None:
    got = _canary().canary_weights(current, new, percent)
    assert got == expected and sum(got.values()) == 100
