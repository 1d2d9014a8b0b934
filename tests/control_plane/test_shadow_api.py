"""Shadow versions: set from the API and the CLI, validated, audited, in the routing table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.control_plane.conftest import Api
from tests.support.controlplane import error_message, push

PIER = str(Path(sys.executable).with_name("pier"))


@pytest.fixture(scope="module")
def shadowed(api: Api, models_dir: Path) -> str:
    with api.client() as c:
        for label, f in (("v1", "v1.pt"), ("v2", "v2.pt"), ("v3", "v3.pt")):
            assert push(c, models_dir / f, name="shad", version=label).status_code == 201
        c.post("/api/v1/models/shad/deploy", json={"version": "v1"}).raise_for_status()
    return "shad"


def route(c: httpx.Client) -> dict:  # type: ignore[type-arg]
    r = c.get("/api/v1/routing")
    r.raise_for_status()
    return next(m for m in r.json()["models"] if m["name"] == "shad")


def test_a_shadow_is_set_audited_and_shipped_to_replicas(api: Api, shadowed: str) -> None:
    with api.client() as c:
        before = c.get("/api/v1/models/shad/deployment").json()
        r = c.put("/api/v1/models/shad/shadow", json={"shadow": {"v2": 20}, "reason": "try v2"})
        assert r.status_code == 200, r.text
        d = r.json()
        assert d["shadow"] == {"v2": 20} and d["weights"] == {"v1": 100}
        assert d["revision"] > before["revision"]
        table = route(c)
        assert table["shadow"] == {"v2": 20} and table["weights"] == {"v1": 100}
        # The shadow is loaded by the replicas, beside the live version.
        assert {v["version"] for v in table["versions"]} >= {"v1", "v2"}
        assert c.get("/api/v1/models/shad/deployment").json()["shadow"] == {"v2": 20}

        event = c.get("/api/v1/audit", params={"model": "shad", "action": "shadow.set"}).json()[0]
        assert event["before"] == {"shadow": {}} and event["after"] == {"shadow": {"v2": 20}}
        assert event["reason"] == "try v2" and event["actor"] == "admin"

        # The shadow does not make a rollback target: only the live weights changed before.
        assert c.get("/api/v1/models/shad/deployment").json()["previous"] is None

        off = c.put("/api/v1/models/shad/shadow", json={"shadow": {}}).json()
        assert off["shadow"] == {} and route(c)["shadow"] == {}


def test_a_shadow_must_be_registered_idle_and_0_to_100(api: Api, shadowed: str) -> None:
    with api.client() as c:
        live = c.put("/api/v1/models/shad/shadow", json={"shadow": {"v1": 10}})
        assert live.status_code == 422 and "live traffic" in error_message(live)
        unknown = c.put("/api/v1/models/shad/shadow", json={"shadow": {"v9": 10}})
        assert unknown.status_code == 404 and "v9" in error_message(unknown)
        over = c.put("/api/v1/models/shad/shadow", json={"shadow": {"v2": 101}})
        assert over.status_code == 422 and "0-100" in error_message(over)
        fraction = c.put("/api/v1/models/shad/shadow", json={"shadow": {"v2": 2.5}})
        assert fraction.status_code == 422
        extra = c.put("/api/v1/models/shad/shadow", json={"shadow": {}, "percent": 3})
        assert extra.status_code == 422
        undeployed = c.put("/api/v1/models/nosuch/shadow", json={"shadow": {"v2": 5}})
        assert undeployed.status_code == 404
        assert route(c)["shadow"] == {}


def test_a_viewer_cannot_set_a_shadow(api: Api, shadowed: str) -> None:
    with api.client(api.token("viewer", "shadow-viewer")) as c:
        r = c.put("/api/v1/models/shad/shadow", json={"shadow": {"v2": 5}})
        assert r.status_code == 403


def test_a_shadow_that_goes_live_stops_being_a_shadow(api: Api, shadowed: str) -> None:
    with api.client() as c:
        c.put("/api/v1/models/shad/shadow", json={"shadow": {"v2": 50, "v3": 5}}).raise_for_status()
        split = c.put("/api/v1/models/shad/deployment", json={"weights": {"v1": 90, "v2": 10}})
        assert split.status_code == 200
        assert split.json()["shadow"] == {"v3": 5}
        assert route(c)["shadow"] == {"v3": 5}
        events = c.get("/api/v1/audit", params={"model": "shad", "action": "deployment.set"}).json()
        assert events[0]["after"]["shadow"] == {"v3": 5}
        assert events[0]["before"]["shadow"] == {"v2": 50, "v3": 5}
        c.post("/api/v1/models/shad/deploy", json={"version": "v1"}).raise_for_status()
        c.put("/api/v1/models/shad/shadow", json={"shadow": {}}).raise_for_status()


def test_the_cli_sets_shows_and_stops_shadows(api: Api, shadowed: str) -> None:
    env = {**os.environ, "PIER_URL": api.url, "PIER_TOKEN": api.admin_token}

    def pier(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PIER, *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    on = pier("shadow", "shad", "v2", "--percent", "20", "--no-wait", "--reason", "cli")
    assert on.returncode == 0, on.stderr
    assert "v2 20%" in on.stdout
    assert pier("shadow", "shad", "v3", "--percent", "5", "--no-wait").returncode == 0
    shown = pier("shadow", "shad")
    assert shown.returncode == 0 and "v2 20%" in shown.stdout and "v3 5%" in shown.stdout
    with api.client() as c:
        assert route(c)["shadow"] == {"v2": 20, "v3": 5}

    one_off = pier("shadow", "shad", "v2", "--off", "--no-wait")
    assert one_off.returncode == 0, one_off.stderr
    with api.client() as c:
        assert route(c)["shadow"] == {"v3": 5}

    live = pier("shadow", "shad", "v1", "--percent", "10", "--no-wait")
    assert live.returncode != 0 and "live traffic" in live.stderr
    missing = pier("shadow", "shad", "v2", "--no-wait")
    assert missing.returncode != 0 and "--percent" in missing.stderr

    assert pier("shadow", "shad", "--off", "--no-wait").returncode == 0
    with api.client() as c:
        assert route(c)["shadow"] == {}
