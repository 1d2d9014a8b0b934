"""`pier push` applies pier.yaml's `scaling:` section to the model once it is deployed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.control_plane.conftest import Api
from tests.support import artifacts

PIER = str(Path(sys.executable).with_name("pier"))

SECTION = """
scaling:
  min_replicas: 2
  max_replicas: 4
  target_metric: inflight
  target_value: 6
"""


def test_push_applies_the_scaling_section_once_the_model_is_deployed(
    api: Api, tmp_path: Path
) -> None:
    env = {**os.environ, "PIER_URL": api.url, "PIER_TOKEN": api.admin_token}

    def pier(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PIER, *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    made = artifacts.torchscript(tmp_path / "v1.pt")
    config = artifacts.manifest(tmp_path, made, name="scaled", version="v1")
    config.write_text(config.read_text() + SECTION)

    first = pier("push", str(config))
    assert first.returncode == 0, first.stderr
    assert "not deployed yet" in first.stdout and "pier scale" in first.stdout
    with api.client() as c:
        c.post("/api/v1/models/scaled/deploy", json={"version": "v1"}).raise_for_status()
        assert c.get("/api/v1/models/scaled/scaling").json()["custom"] is False

    again = pier("push", str(config))
    assert again.returncode == 0, again.stderr
    assert "nothing new" in again.stdout
    with api.client() as c:
        found = c.get("/api/v1/models/scaled/scaling").json()
        (event,) = c.get(
            "/api/v1/audit", params={"model": "scaled", "action": "scaling.set", "limit": 5}
        ).json()
    assert found["custom"] is True
    s = found["scaling"]
    assert (s["min_replicas"], s["max_replicas"], s["target_metric"], s["target_value"]) == (
        2,
        4,
        "inflight",
        6.0,
    )
    assert event["actor"] == "admin" and event["reason"] == "from pier.yaml"
