"""The replica's poller against the real control plane API over HTTP: fetch, verify, apply,
report, and keep serving through bad artifacts and outages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import torch

from control_plane.api.app import create_api
from control_plane.artifacts import ArtifactStore as ControlPlaneStore
from control_plane.composition import build_platform
from control_plane.settings import PierSettings
from inference.app import create_app
from inference.models.cache import ArtifactStore
from inference.state import ServiceState
from tests.inference.conftest import ready, settings_for
from tests.inference.models import Artifact
from tests.inference.server import ServerThread, wait_for
from tests.support.controlplane import bootstrap, push

ROW = [5.1, 3.5, 1.4, 0.2]


@dataclass
class ControlPlane:
    url: str
    settings: PierSettings
    admin: str
    inference_token: str
    server: ServerThread

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.admin}"}, timeout=60
        )

    def replica(self, replica_id_suffix: str) -> dict:  # type: ignore[type-arg]
        with self.client() as c:
            replicas = c.get("/api/v1/status").json()["replicas"]
        return next(r for r in replicas if r["id"].endswith(replica_id_suffix))


@pytest.fixture
def control_plane(tmp_path: Path) -> Iterator[ControlPlane]:
    settings = PierSettings(home=tmp_path / "cp")
    tokens = bootstrap(settings)
    server = ServerThread(create_api(build_platform(settings))).start()
    try:
        yield ControlPlane(server.url, settings, tokens.admin, tokens.inference, server)
    finally:
        server.stop()


def served_version(url: str) -> str:
    r = httpx.post(f"{url}/predict", json={"model": "iris", "inputs": [ROW]})
    return str(r.json()["version"])


def _push_both(cp: ControlPlane, artifacts: dict[str, Artifact]) -> None:
    with cp.client() as c:
        for key in ("v1", "v2"):
            assert push(c, artifacts[key].path, version=key).status_code == 201


def test_polls_fetches_verifies_applies_and_survives_outages(
    control_plane: ControlPlane, artifacts: dict[str, Artifact], tmp_path: Path
) -> None:
    cp = control_plane
    _push_both(cp, artifacts)
    with cp.client() as c:
        c.post("/api/v1/models/iris/deploy", json={"version": "v1"}).raise_for_status()
    cache = tmp_path / "replica"
    settings = settings_for(
        cache,
        control_plane_url=cp.url,
        token=cp.inference_token,
        poll_interval_s=0.05,
        replica_url="http://replica.test:8080",
    )
    with ServerThread(create_app(settings)) as replica:
        pier: ServiceState = replica.app.state.pier
        wait_for(lambda: ready(replica.url), timeout_s=60)
        assert served_version(replica.url) == "v1"
        assert ArtifactStore(cache).has(artifacts["v1"].spec("v1"))
        cached = ArtifactStore(cache).load_routing()
        assert cached is not None and cached.revision == pier.poller.revision

        # The replica identifies itself; the control plane shows where the model runs.
        wait_for(lambda: cp.replica(pier.poller.replica_id)["revision"] == pier.poller.revision)
        seen = cp.replica(pier.poller.replica_id)
        assert seen["url"] == "http://replica.test:8080"
        assert seen["loaded"] == ["iris@v1"]
        assert seen["healthy"] and seen["error"] == ""
        # And where its models run (auto: the CPU on a machine without a GPU).
        assert seen["device"] == str(pier.registry.device)
        assert seen["device"] == ("cuda:0" if torch.cuda.is_available() else "cpu")

        # Bytes that no longer match their sha256 (a corrupted or tampered store) are refused
        # and removed; v1 keeps serving and the control plane is told why.
        v2_sha = artifacts["v2"].spec("v2").sha256
        stored = ControlPlaneStore(cp.settings.artifact_root).path(v2_sha)
        good = stored.read_bytes()
        stored.write_bytes(good[:-1] + b"X")
        with cp.client() as c:
            c.post("/api/v1/models/iris/deploy", json={"version": "v2"}).raise_for_status()
        wait_for(lambda: "sha256 mismatch" in cp.replica(pier.poller.replica_id)["error"])
        assert served_version(replica.url) == "v1"
        assert not ArtifactStore(cache).has(artifacts["v2"].spec("v2"))
        wait_for(lambda: not list((cache / "artifacts").glob(".tmp-*")))

        # Repaired at the source: the next poll applies it.
        stored.write_bytes(good)
        wait_for(lambda: served_version(replica.url) == "v2")
        wait_for(lambda: cp.replica(pier.poller.replica_id)["error"] == "")

        # The control plane goes down: the replica keeps serving what it has.
        cp.server.stop()
        polls = pier.poller.polls
        wait_for(lambda: pier.poller.polls > polls + 2)
        assert pier.poller.last_poll_error.startswith("polling the routing table")
        assert served_version(replica.url) == "v2"
        assert ready(replica.url)


def test_a_restarted_replica_serves_from_its_cache_while_the_control_plane_is_down(
    control_plane: ControlPlane, artifacts: dict[str, Artifact], tmp_path: Path
) -> None:
    cp = control_plane
    _push_both(cp, artifacts)
    with cp.client() as c:
        revision = c.post("/api/v1/models/iris/deploy", json={"version": "v1"}).json()["revision"]
    settings = settings_for(
        tmp_path / "replica",
        control_plane_url=cp.url,
        token=cp.inference_token,
        poll_interval_s=0.05,
    )
    with ServerThread(create_app(settings)) as replica:
        wait_for(lambda: ready(replica.url), timeout_s=60)
    cp.server.stop()
    with ServerThread(create_app(settings)) as restarted:
        wait_for(lambda: ready(restarted.url), timeout_s=60)
        assert served_version(restarted.url) == "v1"
        assert httpx.get(f"{restarted.url}/models").json()["revision"] == revision


def test_a_wrong_token_is_reported_and_nothing_is_served(
    control_plane: ControlPlane, artifacts: dict[str, Artifact], tmp_path: Path
) -> None:
    cp = control_plane
    _push_both(cp, artifacts)
    with cp.client() as c:
        c.post("/api/v1/models/iris/deploy", json={"version": "v1"}).raise_for_status()
    settings = settings_for(
        tmp_path / "replica", control_plane_url=cp.url, token="pier_wrong", poll_interval_s=0.05
    )
    with ServerThread(create_app(settings)) as replica:
        pier: ServiceState = replica.app.state.pier
        wait_for(lambda: pier.poller.polls >= 2)
        assert "401" in pier.poller.last_poll_error
        assert not ready(replica.url)
        r = httpx.post(f"{replica.url}/predict", json={"model": "iris", "inputs": [ROW]})
        assert r.status_code == 503 and "retry-after" in r.headers


def test_a_replica_for_one_model_loads_only_that_model(
    control_plane: ControlPlane, artifacts: dict[str, Artifact], tmp_path: Path
) -> None:
    """On Kubernetes each model has its own Deployment: PIER_INFERENCE_MODELS=<name>."""
    cp = control_plane
    with cp.client() as c:
        for name in ("iris", "other"):
            assert push(c, artifacts["v1"].path, name=name, version="v1").status_code == 201
            c.post(f"/api/v1/models/{name}/deploy", json={"version": "v1"}).raise_for_status()
    settings = settings_for(
        tmp_path / "replica",
        control_plane_url=cp.url,
        token=cp.inference_token,
        poll_interval_s=0.05,
        models="other",
    )
    with ServerThread(create_app(settings)) as replica:
        wait_for(lambda: ready(replica.url), timeout_s=60)
        served = httpx.get(f"{replica.url}/models").json()
        assert [m["name"] for m in served["models"]] == ["other"]
        r = httpx.post(f"{replica.url}/predict", json={"model": "iris", "inputs": [ROW]})
        assert r.status_code == 404 and "other" in r.text
