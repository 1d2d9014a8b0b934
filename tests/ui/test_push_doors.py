"""One pier.yaml through three doors: `pier push`, the REST API and the dashboard's upload page
store the same version of a traced model and give the deployed model the same scaling."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from selenium import webdriver

from control_plane.settings import PierSettings
from tests.support import artifacts
from tests.support.controlplane import push, running_api
from tests.ui.conftest import Dashboard
from tests.ui.harness import screenshot, sign_in, text_of, upload, wait_for

PIER = str(Path(sys.executable).with_name("pier"))
MODEL = "doors"
PIER_YAML = f"""model:
  name: "{MODEL}"
  version: "v2"
  framework: "pytorch"
  artifact: "model.pt"
  inputs:  [{{name: "features", dtype: "float32", shape: [-1, 4]}}]
  outputs: [{{name: "probabilities", dtype: "float32", shape: [-1, 3]}}]
  resources: {{cpu: "500m", memory: "1Gi"}}
  batching: {{max_rows: 4, max_wait_ms: 1.5}}
  metrics: {{accuracy: 0.93}}
  description: "the same version, whichever way it arrives"
scaling:
  min_replicas: 2
  max_replicas: 5
  target_metric: inflight
  target_value: 6
  scale_down: {{stabilization_window_s: 45, policies: [{{type: Pods, value: 1, period_s: 30}}]}}
"""
# Differ by door: when and through which token the version was pushed.
PER_PUSH = ("created_at",)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bundle")
    artifacts.traced(folder / "model.pt", seed=7)
    (folder / "pier.yaml").write_text(PIER_YAML)
    return folder


def deploy_a_first_version(c: httpx.Client, work: Path) -> None:
    """Scaling belongs to a deployment: each door pushes onto a deployed model."""
    first = artifacts.torchscript(work / "v1.pt", seed=3)
    assert push(c, first, name=MODEL, version="v1").status_code == 201
    c.post(f"/api/v1/models/{MODEL}/deploy", json={"version": "v1"}).raise_for_status()


def what_was_stored(c: httpx.Client) -> dict[str, Any]:
    version = c.get(f"/api/v1/models/{MODEL}/versions/v2").json()
    scaling = c.get(f"/api/v1/models/{MODEL}/scaling").json()
    events = c.get(
        "/api/v1/audit", params={"model": MODEL, "action": "scaling.set", "limit": 10}
    ).json()
    return {
        "version": {k: v for k, v in version.items() if k not in PER_PUSH},
        "scaling": scaling,
        "audit": [(e["actor"], e["reason"], e["after"]) for e in events],
    }


def through_the_cli(bundle: Path, work: Path) -> dict[str, Any]:
    settings = PierSettings(home=work / "home", database_url=f"sqlite:///{work / 'cli.db'}")
    with running_api(settings) as plane, plane.client() as c:
        deploy_a_first_version(c, work)
        env = {**os.environ, "PIER_URL": plane.url, "PIER_TOKEN": plane.tokens.admin}
        done = subprocess.run(
            [PIER, "push", str(bundle / "pier.yaml")],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"pushed {MODEL}@v2" in done.stdout, done.stdout
        return what_was_stored(c)


def through_rest(bundle: Path, work: Path) -> dict[str, Any]:
    """As a CI job would, with nothing of Pier's: the pier.yaml's sections as the JSON body."""
    doc = yaml.safe_load((bundle / "pier.yaml").read_text())
    settings = PierSettings(home=work / "home", database_url=f"sqlite:///{work / 'rest.db'}")
    with running_api(settings) as plane, plane.client() as c:
        deploy_a_first_version(c, work)
        stored = c.post(
            "/api/v1/artifacts",
            content=(bundle / "model.pt").read_bytes(),
            headers={"content-type": "application/octet-stream"},
        )
        stored.raise_for_status()
        body = {k: v for k, v in doc["model"].items() if k not in ("name", "artifact")}
        body.update(sha256=stored.json()["sha256"], scaling=doc["scaling"])
        r = c.post(f"/api/v1/models/{MODEL}/versions", json=body)
        assert r.status_code == 201, r.text
        return what_was_stored(c)


def through_the_dashboard(
    bundle: Path, work: Path, dashboard: Dashboard, browser: webdriver.Chrome
) -> dict[str, Any]:
    with dashboard.api() as c:
        deploy_a_first_version(c, work)
        sign_in(browser, dashboard.url, "admin", dashboard.admin_password)
        upload(browser, dashboard.url, bundle / "pier.yaml", bundle / "model.pt")
        result = wait_for("the push result", lambda: text_of(browser, "upload-result"), 120)
        screenshot(browser, "doors-upload")
        assert f"Pushed {MODEL}@v2" in result, result
        return what_was_stored(c)


def test_one_pier_yaml_is_the_same_version_through_every_door(
    bundle: Path,
    dashboard: Dashboard,
    browser: webdriver.Chrome,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    cli = through_the_cli(bundle, tmp_path_factory.mktemp("cli"))
    rest = through_rest(bundle, tmp_path_factory.mktemp("rest"))
    ui = through_the_dashboard(bundle, tmp_path_factory.mktemp("ui"), dashboard, browser)

    assert cli == rest == ui
    version, scaling = cli["version"], cli["scaling"]
    assert version["batching"] == {"max_rows": 4, "max_wait_ms": 1.5}
    assert version["metrics"] == {"accuracy": 0.93} and version["created_by"] == "admin"
    assert scaling["custom"] is True
    s = scaling["scaling"]
    assert (s["min_replicas"], s["max_replicas"], s["target_metric"], s["target_value"]) == (
        2,
        5,
        "inflight",
        6.0,
    )
    assert s["scale_down"]["stabilization_window_s"] == 45
    assert cli["audit"] == [("admin", "from pier.yaml", scaling["scaling"])]
