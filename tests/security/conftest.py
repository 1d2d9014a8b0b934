"""The real control plane (on PostgreSQL) and a real inference replica, over HTTP, with one
token per role; and the artifacts, honest and hostile, that the attack groups push at them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from control_plane.api.app import create_api
from control_plane.composition import build_platform
from control_plane.settings import PierSettings
from inference.app import create_app
from inference.models.cache import ArtifactStore
from inference.schemas import ModelRoute, RoutingTable, TensorSpec, VersionSpec
from inference.settings import InferenceSettings
from tests.support import artifacts
from tests.support.controlplane import bootstrap
from tests.support.pg import temporary_database
from tests.support.servers import serve, wait_until

PASSWORD = "correct horse battery staple"
ROLES = ("viewer", "deployer", "admin")


@dataclass
class Plane:
    """The control plane's API served on a real port, and a token for each role."""

    url: str
    settings: PierSettings
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, role: str | None = "admin", **headers: str) -> httpx.Client:
        """A client holding the token of `role`; None: no token at all."""
        if role is not None:
            headers["Authorization"] = f"Bearer {self.tokens[role]}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=120)


def _add_users(plane: Plane) -> None:
    with plane.client("admin") as c:
        for role in ("viewer", "deployer"):
            c.post(
                "/api/v1/users", json={"username": role, "password": PASSWORD, "role": role}
            ).raise_for_status()
            r = c.post("/api/v1/tokens", json={"name": "t", "role": role, "username": role})
            r.raise_for_status()
            plane.tokens[role] = r.json()["secret"]


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plane]:
    home = tmp_path_factory.mktemp("home")
    with temporary_database() as db_url:
        settings = PierSettings(home=home, database_url=db_url, max_artifact_bytes=8 * 1024 * 1024)
        tokens = bootstrap(settings)
        with serve(create_api(build_platform(settings))) as url:
            p = Plane(url=url, settings=settings, tokens={"admin": tokens.admin})
            _add_users(p)
            yield p


@pytest.fixture(scope="session")
def good_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return artifacts.torchscript(tmp_path_factory.mktemp("good") / "model.pt")


def stocked_cache(cache: Path, model: Path) -> Path:
    """A replica cache holding `model` as iris v1, all traffic on it (standalone mode)."""
    store = ArtifactStore(cache)
    sha = store.put_file(model)
    spec = VersionSpec(
        version="v1",
        sha256=sha,
        size=model.stat().st_size,
        format="torchscript",
        inputs=[TensorSpec.model_validate(s) for s in artifacts.IRIS_INPUTS],
        outputs=[TensorSpec.model_validate(s) for s in artifacts.IRIS_OUTPUTS],
    )
    table = RoutingTable(
        revision=1, models=[ModelRoute(name="iris", weights={"v1": 100}, versions=[spec])]
    )
    store.save_routing(table)
    return cache


@contextmanager
def replica(cache: Path, **overrides: object) -> Iterator[str]:
    """A standalone inference replica over HTTP, ready to serve iris; yields its URL."""
    settings = InferenceSettings(cache_dir=cache, port=0, **overrides)  # type: ignore[arg-type]
    with serve(create_app(settings)) as url:
        wait_until(lambda: httpx.get(f"{url}/v2/health/ready").status_code == 200, timeout=60)
        yield url


@pytest.fixture(scope="module")
def inference_url(tmp_path_factory: pytest.TempPathFactory, good_model: Path) -> Iterator[str]:
    with replica(stocked_cache(tmp_path_factory.mktemp("cache"), good_model)) as url:
        yield url
