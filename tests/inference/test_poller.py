"""The poller against a stand-in control plane that speaks docs/contract.md over real HTTP."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from inference.artifacts import ArtifactStore
from inference.main import create_app
from inference.schemas import ModelRoute, RoutingTable
from inference.state import ServiceState
from tests.inference.conftest import ready, settings_for
from tests.inference.models import Artifact
from tests.inference.server import ServerThread, wait_for

ROW = [5.1, 3.5, 1.4, 0.2]


@dataclass
class ControlPlane:
    """What the stand-in serves, and what it saw."""

    table: RoutingTable | None = None
    blobs: dict[str, bytes] = field(default_factory=dict)
    down: bool = False
    polls: list[dict[str, str]] = field(default_factory=list)

    @property
    def etag(self) -> str:
        assert self.table is not None
        return f'"{self.table.revision}"'

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/api/v1/routing")
        async def routing(request: Request) -> Response:
            self.polls.append(dict(request.headers))
            if self.down or self.table is None:
                return Response(status_code=503)
            if request.headers.get("if-none-match") == self.etag:
                return Response(status_code=304, headers={"ETag": self.etag})
            return Response(
                self.table.model_dump_json(),
                headers={"ETag": self.etag},
                media_type="application/json",
            )

        @app.get("/api/v1/artifacts/{sha256}")
        async def artifact(sha256: str) -> Response:
            if self.down:
                return Response(status_code=503)
            if sha256 not in self.blobs:
                return Response(status_code=404)
            return Response(self.blobs[sha256], media_type="application/octet-stream")

        return app


def table_of(artifacts: dict[str, Artifact], revision: int, version: str) -> RoutingTable:
    return RoutingTable(
        revision=revision,
        models=[
            ModelRoute(
                name="iris", weights={version: 100}, versions=[artifacts[version].spec(version)]
            )
        ],
    )


@pytest.fixture
def control_plane() -> Iterator[tuple[ControlPlane, ServerThread]]:
    plane = ControlPlane()
    with ServerThread(plane.app()) as server:
        yield plane, server


def served_version(url: str) -> str:
    return str(
        httpx.post(f"{url}/predict", json={"model": "iris", "inputs": [ROW]}).json()["version"]
    )


def test_polls_fetches_verifies_applies_and_survives_outages(
    control_plane: tuple[ControlPlane, ServerThread], artifacts: dict[str, Artifact], tmp_path: Path
) -> None:
    plane, cp = control_plane
    for key in ("v1", "v2"):
        data = artifacts[key].path.read_bytes()
        plane.blobs[hashlib.sha256(data).hexdigest()] = data
    plane.table = table_of(artifacts, 1, "v1")
    settings = settings_for(
        tmp_path,
        control_plane_url=cp.url,
        token="s3cret",
        poll_interval_s=0.02,
        replica_url="http://replica.test:8080",
    )
    with ServerThread(create_app(settings)) as replica:
        pier: ServiceState = replica.app.state.pier
        wait_for(lambda: ready(replica.url), timeout_s=60)
        assert served_version(replica.url) == "v1"
        assert ArtifactStore(tmp_path).has(artifacts["v1"].spec("v1"))
        assert ArtifactStore(tmp_path).load_routing() == plane.table

        # The replica identifies itself and reports what it serves.
        wait_for(lambda: plane.polls[-1].get("x-pier-replica-revision") == "1")
        last = plane.polls[-1]
        assert last["authorization"] == "Bearer s3cret"
        assert last["if-none-match"] == '"1"'
        assert last["x-pier-replica-url"] == "http://replica.test:8080"
        assert last["x-pier-replica-loaded"] == "iris@v1"
        assert last["x-pier-replica-id"].endswith(f":{__import__('os').getpid()}")
        assert "x-pier-replica-error" not in last

        # An artifact whose bytes do not match its sha256 is refused; v1 keeps serving.
        v2 = artifacts["v2"].spec("v2")
        plane.blobs[v2.sha256] = plane.blobs[v2.sha256][:-1] + b"X"
        plane.table = table_of(artifacts, 2, "v2")
        wait_for(lambda: "sha256 mismatch" in plane.polls[-1].get("x-pier-replica-error", ""))
        assert served_version(replica.url) == "v1"
        assert not ArtifactStore(tmp_path).has(v2)
        # Each refused download is removed (the poller retries, so wait for a quiet moment).
        wait_for(lambda: not list((tmp_path / "artifacts").glob(".tmp-*")))

        # Fixed at the source: the next poll applies it.
        plane.blobs[v2.sha256] = artifacts["v2"].path.read_bytes()
        wait_for(lambda: pier.poller.revision == 2)
        assert served_version(replica.url) == "v2"
        wait_for(lambda: "x-pier-replica-error" not in plane.polls[-1])

        # The control plane goes down: the replica keeps serving what it has.
        plane.down = True
        seen = len(plane.polls)
        wait_for(lambda: len(plane.polls) > seen + 2)
        assert pier.poller.last_poll_error.startswith("polling the routing table")
        assert served_version(replica.url) == "v2"
        assert ready(replica.url)


def test_a_restarted_replica_serves_from_its_cache_while_the_control_plane_is_down(
    control_plane: tuple[ControlPlane, ServerThread], artifacts: dict[str, Artifact], tmp_path: Path
) -> None:
    plane, cp = control_plane
    data = artifacts["v1"].path.read_bytes()
    plane.blobs[hashlib.sha256(data).hexdigest()] = data
    plane.table = table_of(artifacts, 7, "v1")
    settings = settings_for(tmp_path, control_plane_url=cp.url, poll_interval_s=0.02)
    with ServerThread(create_app(settings)) as replica:
        wait_for(lambda: ready(replica.url), timeout_s=60)
    plane.down = True
    with ServerThread(create_app(settings)) as restarted:
        wait_for(lambda: ready(restarted.url), timeout_s=60)
        assert served_version(restarted.url) == "v1"
        assert httpx.get(f"{restarted.url}/models").json()["revision"] == 7
        wait_for(lambda: plane.polls[-1].get("x-pier-replica-revision") == "7")
