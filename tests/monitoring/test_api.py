"""GET /api/v1/models/{name}/metrics on the real control plane, fed by a real replica that
polls it for its routing table: the embedded (direct) source end to end."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from control_plane.api.app import create_api
from control_plane.composition import build_platform
from control_plane.db.engine import migrate, session_scope
from control_plane.services import auth
from control_plane.settings import PierSettings
from inference.app import create_app
from inference.settings import InferenceSettings
from tests.monitoring.support import predict, predicted_class, ready
from tests.support import artifacts
from tests.support.servers import free_port, serve, wait_until


@dataclass
class Platform:
    api: httpx.Client
    viewer: str
    replica: str


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    home = tmp_path_factory.mktemp("home")
    settings = PierSettings(home=home, database_url=f"sqlite:///{home / 'pier.db'}")
    migrate(settings)
    with session_scope(settings) as session:
        creds = auth.bootstrap_admin(session, settings.credentials_path, "http://test")
    assert creds is not None
    model = artifacts.torchscript(home / "v1.pt", seed=0)
    platform = build_platform(settings)
    with (
        serve(create_api(platform)) as url,
        httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {creds.token}"}, timeout=120
        ) as api,
    ):
        sha = api.post(
            "/api/v1/artifacts",
            content=model.read_bytes(),
            headers={"content-type": "application/octet-stream"},
        ).json()["sha256"]
        r = api.post(
            "/api/v1/models/iris/versions",
            json={
                "version": "v1",
                "sha256": sha,
                "inputs": artifacts.IRIS_INPUTS,
                "outputs": artifacts.IRIS_OUTPUTS,
            },
        )
        assert r.status_code == 201, r.text
        assert api.post("/api/v1/models/iris/deploy", json={"version": "v1"}).status_code == 200
        api.post(
            "/api/v1/users",
            json={"username": "watcher", "password": "correct horse battery", "role": "viewer"},
        ).raise_for_status()
        viewer = api.post(
            "/api/v1/tokens", json={"name": "t", "role": "viewer", "username": "watcher"}
        ).json()["secret"]
        port = free_port()
        replica_app = create_app(
            InferenceSettings(
                cache_dir=home / "cache",
                port=port,
                control_plane_url=url,
                token=creds.token,
                poll_interval_s=0.2,
            )
        )
        try:
            with serve(replica_app, port=port) as replica_url:
                wait_until(lambda: ready(replica_url), timeout=60)
                # The control plane reads the replica (it reported on its routing poll):
                # from now on everything it does shows up. (This replica shares the test's
                # process, so its counters predate the control plane and are not back-dated.)
                wait_until(
                    lambda: api.get("/api/v1/models/iris/metrics").json()["replicas"], timeout=30
                )
                yield Platform(api, viewer, replica_url)
        finally:
            platform.close_metrics()


def test_model_metrics_over_rest(platform: Platform) -> None:
    with httpx.Client(base_url=platform.replica, timeout=30) as c:
        for i in range(30):
            body = predict(c)
            if i % 3 == 0:
                label = predicted_class(body)
                c.post("/feedback", json={"prediction_id": body["prediction_id"], "label": label})
        c.post("/predict", json={"model": "iris", "inputs": [[1.0]]})
    headers = {"Authorization": f"Bearer {platform.viewer}"}

    def figures() -> dict | None:
        r = platform.api.get("/api/v1/models/iris/metrics?window=300", headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        v1 = [s for s in body["summary"] if s["version"] == "v1"]
        ready = v1 and v1[0]["requests"] >= 1 and v1[0]["labelled"] == 10 and body["replicas"]
        return dict(body) if ready else None

    body = wait_until(figures, timeout=30, interval=0.3)
    assert body["window_s"] == 300 and body["step_s"] == 5
    (v1,) = body["summary"]
    assert v1["accuracy"] == 1.0
    (replica,) = body["replicas"]
    assert replica["resident_memory_bytes"] > 10 * 2**20
    series = body["series"][0]
    assert len(series["p99_ms"]) == 60
    # An error is on the charts within a few seconds of happening.
    wait_until(
        lambda: (
            platform.api.get("/api/v1/models/iris/metrics", headers=headers)
            .json()["summary"][0]["errors_by_type"]
            .get("invalid_input")
        ),
        timeout=10,
        interval=0.3,
    )


def test_overview_summary(platform: Platform) -> None:
    with httpx.Client(base_url=platform.replica, timeout=30) as c:
        predict(c)
    r = wait_until(
        lambda: (r := platform.api.get("/api/v1/metrics/summary?window=900")).json() and r,
        timeout=30,
    )
    assert "iris" in r.json()


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("window=60", 422, "window: expected one of 300, 900, 3600, 21600, 86400"),
        ("window=300&step=0", 422, "step: expected whole seconds from 1 to 300"),
        ("window=abc", 422, "window: expected a whole number, got 'abc'"),
    ],
)
def test_bad_windows_are_explained(
    platform: Platform, query: str, status: int, message: str
) -> None:
    r = platform.api.get(f"/api/v1/models/iris/metrics?{query}")
    assert r.status_code == status
    assert message in r.text


def test_unknown_model_and_missing_token(platform: Platform) -> None:
    r = platform.api.get("/api/v1/models/nope/metrics")
    assert r.status_code == 404 and "registered models: iris" in r.json()["error"]["message"]
    anonymous = httpx.get(f"{platform.api.base_url}/api/v1/models/iris/metrics")
    assert anonymous.status_code == 401
