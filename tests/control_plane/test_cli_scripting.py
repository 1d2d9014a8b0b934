"""`pier` in scripts and pipelines: JSON from every read command, the version, the token
from standard input, shell completion, and exit codes that do not clash with click's
usage error (2)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.control_plane.conftest import Api
from tests.support.controlplane import push

PIER = str(Path(sys.executable).with_name("pier"))


def pier(
    api: Api, *args: str, stdin: str | None = None, token: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIER_")}
    env["PIER_URL"] = api.url
    if token:
        env["PIER_TOKEN"] = api.admin_token
    return subprocess.run(
        [PIER, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120
    )


def read_json(api: Api, *args: str) -> Any:
    done = pier(api, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def deployed(api: Api, models_dir: Path) -> str:
    with api.client() as c:
        for label in ("v1", "v2"):
            assert push(c, models_dir / f"{label}.pt", name="scripted", version=label).is_success
        c.post("/api/v1/models/scripted/deploy", json={"version": "v1"}).raise_for_status()
    return "scripted"


def test_every_read_command_prints_the_apis_json(api: Api, deployed: str) -> None:
    status = read_json(api, "status")
    assert {"revision", "models", "replicas"} <= set(status)
    assert any(m["model"] == deployed and m["weights"] == {"v1": 100} for m in status["models"])
    models = read_json(api, "models")
    assert {"name": deployed, "versions": 2}.items() <= next(
        m for m in models if m["name"] == deployed
    ).items()
    assert [v["version"] for v in read_json(api, "versions", deployed)] == ["v2", "v1"]
    events = read_json(api, "audit", "--model", deployed, "--limit", "5")
    assert events and events[0]["action"] == "deploy"
    assert read_json(api, "scale", deployed)["scaling"]["min_replicas"] >= 1
    assert read_json(api, "thresholds", deployed)["thresholds"]["latency_pct"] == 10
    assert read_json(api, "shadow", deployed) == {"model": deployed, "shadow": {}}
    assert read_json(api, "canary", deployed) is None
    # What a CI job pipes it into.
    piped = subprocess.run(
        [sys.executable, "-m", "json.tool"],
        input=pier(api, "status", "--json").stdout,
        capture_output=True,
        text=True,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr


def test_the_token_can_come_from_standard_input(api: Api, deployed: str) -> None:
    done = pier(api, "--token-stdin", "models", "--json", stdin=api.admin_token + "\n", token=False)
    assert done.returncode == 0, done.stderr
    assert deployed in {m["name"] for m in json.loads(done.stdout)}
    empty = pier(api, "--token-stdin", "models", stdin="", token=False)
    assert empty.returncode == 1 and "expected a token on standard input" in empty.stderr


def test_exit_codes_keep_2_for_usage_errors(api: Api, deployed: str) -> None:
    assert pier(api, "no-such-command").returncode == 2
    assert pier(api, "versions").returncode == 2  # a missing argument
    refused = pier(api, "deploy", deployed, "v9", "--no-wait")
    assert refused.returncode == 1 and "HTTP" in refused.stderr
    unreachable = pier(api, "--url", "http://127.0.0.1:9", "status")
    assert unreachable.returncode == 5 and "cannot reach" in unreachable.stderr
    helped = pier(api, "--help")
    assert "Exit codes: 0 done" in helped.stdout and "5 the control plane" in helped.stdout


def test_version_and_completion(api: Api) -> None:
    done = pier(api, "--version", token=False)
    assert done.returncode == 0
    assert done.stdout.strip() == f"pier {importlib.metadata.version('pier')}"
    script = pier(api, "--show-completion", "bash", token=False)
    assert script.returncode == 0 and "complete" in script.stdout and "pier" in script.stdout
