"""The container images: linted always, built and run only where a Docker engine answers."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path

import httpx
import pytest

from tests.support.servers import free_port, wait_until

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted((REPO / "docker").glob("*.Dockerfile"))
REQUIREMENTS = REPO / "docker" / "inference-requirements.txt"


# Import names whose distribution is called otherwise.
DISTRIBUTIONS = {"pil": "pillow"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_dockerfiles_pass_hadolint() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    assert DOCKERFILES, "no docker/*.Dockerfile"
    result = subprocess.run(
        [str(hadolint), *map(str, DOCKERFILES)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_inference_image_installs_what_inference_imports_at_the_tested_versions() -> None:
    pins = {
        _norm(name): version
        for name, version in re.findall(
            r"^([A-Za-z0-9._-]+)==(\S+)$", REQUIREMENTS.read_text(), re.M
        )
    }
    imported: set[str] = set()
    for path in (REPO / "inference").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    third_party = {
        DISTRIBUTIONS.get(_norm(m), _norm(m))
        for m in imported
        if m not in sys.stdlib_module_names and m not in ("inference", "torch")
    }
    missing = third_party - set(pins)
    assert not missing, f"docker/inference-requirements.txt lacks {sorted(missing)}"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    for spec in project:
        name, _, version = spec.partition("==")
        name = _norm(name.split("[")[0])
        if name in pins:
            assert pins[name] == version, f"{name}: image {pins[name]}, pyproject {version}"


def _docker_engine() -> str | None:
    """Why the images cannot be built here, or None when they can."""
    docker = shutil.which("docker")
    if docker is None:
        return "no `docker` client on PATH"
    info = subprocess.run([docker, "info"], capture_output=True, text=True, timeout=30)
    if info.returncode != 0:
        return f"no Docker engine answers (`docker info`: {info.stderr.strip().splitlines()[-1]})"
    return None


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=[p.stem for p in DOCKERFILES])
def test_the_image_builds_and_answers_its_health_check(dockerfile: Path) -> None:
    missing = _docker_engine()
    if missing is not None:
        pytest.skip(f"image build skipped: {missing}; GitHub Actions builds them (release, e2e)")
    tag = f"pier-test-{dockerfile.stem}:{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["docker", "build", "-f", str(dockerfile), "-t", tag, str(REPO)], check=True, timeout=1800
    )
    inference = dockerfile.stem == "inference"
    port = free_port()
    inner, path = (8080, "/v2/health/live") if inference else (3000, "/api/v1/health")
    name = f"pier-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["docker", "run", "-d", "--rm", "--name", name, "-p", f"127.0.0.1:{port}:{inner}", tag],
        check=True,
        timeout=60,
    )
    try:
        wait_until(
            lambda: httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200,
            timeout=180,
        )
        user = subprocess.run(
            ["docker", "exec", name, "id", "-u"], capture_output=True, text=True, check=True
        ).stdout.strip()
        assert user == "10001"
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=60)
