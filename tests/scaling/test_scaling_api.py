"""Per-model scaling settings through the real API (SQLite and PostgreSQL) and the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from control_plane.db.engine import session_scope
from control_plane.schemas import ScalingSettings
from control_plane.services.scaling import scaling_by_model
from tests.control_plane.conftest import Api
from tests.support.controlplane import error_message, push

PIER = str(Path(sys.executable).with_name("pier"))
URL = "/api/v1/models/iris/scaling"
INFLIGHT = {
    "min_replicas": 1,
    "max_replicas": 4,
    "target_metric": "inflight",
    "target_value": 8,
    "scale_down": {
        "stabilization_window_s": 120,
        "policies": [{"type": "Pods", "value": 1, "period_s": 30}],
    },
}


@pytest.fixture(scope="module")
def iris(api: Api, models_dir: Path) -> str:
    with api.client() as c:
        assert push(c, models_dir / "v1.pt", name="iris", version="v1").status_code == 201
        assert push(c, models_dir / "v2.pt", name="undeployed", version="v1").status_code == 201
        c.post("/api/v1/models/iris/deploy", json={"version": "v1"}).raise_for_status()
    return "iris"


def test_defaults_until_set_then_kept_and_audited(api: Api, iris: str) -> None:
    with api.client() as c:
        first = c.get(URL).json()
        assert first["custom"] is False
        assert first["scaling"] == ScalingSettings().model_dump(mode="json")

        r = c.put(URL, json={"scaling": INFLIGHT, "reason": "spiky traffic"})
        assert r.status_code == 200, r.text
        got = r.json()["scaling"]
        assert got["target_metric"] == "inflight" and got["target_value"] == 8
        assert got["scale_down"]["stabilization_window_s"] == 120
        # Left out: the defaults (scale-up as the HPA's).
        assert got["scale_up"] == ScalingSettings().scale_up.model_dump(mode="json")
        assert c.get(URL).json() == {"model": "iris", "scaling": got, "custom": True}

        # Same settings again: nothing changes, nothing is logged.
        assert c.put(URL, json={"scaling": INFLIGHT}).status_code == 200
        events = c.get("/api/v1/audit", params={"model": "iris", "action": "scaling.set"}).json()
        assert len(events) == 1
        (event,) = events
        assert event["before"] is None and event["after"] == got
        assert event["actor"] == "admin" and event["reason"] == "spiky traffic"

        c.put(URL, json={"scaling": {**INFLIGHT, "max_replicas": 6}}).raise_for_status()
        latest = c.get("/api/v1/audit", params={"model": "iris", "action": "scaling.set"}).json()
        assert latest[0]["before"]["max_replicas"] == 4 and latest[0]["after"]["max_replicas"] == 6

    # What the orchestrators read: the stored settings, typed.
    with session_scope(api.settings) as session:
        assert scaling_by_model(session)["iris"].max_replicas == 6


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"scaling": {"min_replicas": 5, "max_replicas": 2}}, "at least min_replicas"),
        ({"scaling": {"target_metric": "rps"}}, "needs target_value"),
        ({"scaling": {"target_metric": "latency"}}, "expected one of cpu, inflight, rps"),
        ({"scaling": {"max_replicas": 0}}, "scaling.max_replicas: expected at least 1, got 0"),
        ({"scaling": {"replicas": 3}}, "scaling.replicas: unknown key"),
        (
            {"scaling": {"scale_up": {"stabilization_window_s": 0, "policies": []}}},
            "at least 1 item",
        ),
        ({"min_replicas": 2}, "scaling is required"),
    ],
)
def test_bad_settings_get_a_422_that_says_what_is_expected(
    api: Api, iris: str, body: dict[str, object], message: str
) -> None:
    with api.client() as c:
        before = c.get(URL).json()
        r = c.put(URL, json=body)
        assert r.status_code == 422
        assert message in r.text
        assert c.get(URL).json() == before


def test_who_may_change_it_and_for_which_models(api: Api, iris: str) -> None:
    with api.client(api.token("viewer")) as viewer:
        assert viewer.get(URL).status_code == 200
        r = viewer.put(URL, json={"scaling": INFLIGHT})
        assert r.status_code == 403 and "needs deployer" in error_message(r)
    with api.client("") as anonymous:
        assert anonymous.get(URL).status_code == 401
    with api.client() as c:
        r = c.get("/api/v1/models/nope/scaling")
        assert r.status_code == 404 and "no model 'nope'" in error_message(r)
        r = c.put("/api/v1/models/undeployed/scaling", json={"scaling": INFLIGHT})
        assert r.status_code == 404 and "deploy a version first" in error_message(r)


def test_the_cli_shows_and_changes_only_what_it_is_given(api: Api, iris: str) -> None:
    env = {**os.environ, "PIER_URL": api.url, "PIER_TOKEN": api.admin_token, "COLUMNS": "200"}

    def pier(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PIER, *args], capture_output=True, text=True, env=env, timeout=120, check=False
        )

    with api.client() as c:
        policies = c.get(URL).json()["scaling"]["scale_down"]["policies"]
    done = pier("scale", "iris", "--min", "1", "--max", "4", "--target-inflight", "8")
    assert done.returncode == 0, done.stderr
    assert "iris: 1-4 replicas, target 8 inflight per replica" in done.stdout
    done = pier("scale", "iris", "--down-window", "10m", "--reason", "calmer")
    assert done.returncode == 0, done.stderr
    with api.client() as c:
        now = c.get(URL).json()["scaling"]
        assert (now["max_replicas"], now["target_value"]) == (4, 8)  # kept
        assert now["scale_down"]["stabilization_window_s"] == 600
        # The CLI only changes what it is given.
        assert now["scale_down"]["policies"] == policies
    shown = pier("scale", "iris")
    assert "down 600s" in shown.stdout

    bad = pier("scale", "iris", "--min", "5", "--max", "2")
    assert bad.returncode == 1
    assert "at least min_replicas" in bad.stderr and "Traceback" not in bad.stderr
    two = pier("scale", "iris", "--target-cpu", "50", "--target-rps", "3")
    assert two.returncode == 1 and "give one target" in two.stderr
