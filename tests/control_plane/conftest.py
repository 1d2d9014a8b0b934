"""Fixtures: a migrated database on SQLite and on PostgreSQL, and the real API over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from control_plane.api.app import create_api
from control_plane.composition import build_platform
from control_plane.db.engine import migrate, session_scope
from control_plane.services import auth
from control_plane.settings import PierSettings
from tests.support import artifacts
from tests.support.pg import temporary_database
from tests.support.servers import serve


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'pier.db'}"
    else:
        with temporary_database() as url:
            yield url


@dataclass
class Api:
    url: str
    settings: PierSettings
    admin_token: str

    def client(self, token: str | None = None) -> httpx.Client:
        token = self.admin_token if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120)

    def token(self, role: str, username: str | None = None) -> str:
        """A token of `role` for a fresh user of that role."""
        with self.client() as c:
            name = username or f"{role}-{len(c.get('/api/v1/tokens').json())}"
            c.post(
                "/api/v1/users",
                json={"username": name, "password": "correct horse battery", "role": role},
            ).raise_for_status()
            r = c.post("/api/v1/tokens", json={"name": "t", "role": role, "username": name})
            r.raise_for_status()
            return str(r.json()["secret"])


@pytest.fixture(scope="module")
def api(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    home = tmp_path_factory.mktemp("home")
    settings = PierSettings(home=home, database_url=db_url, max_artifact_bytes=4 * 1024 * 1024)
    migrate(settings)
    with session_scope(settings) as session:
        creds = auth.bootstrap_admin(session, settings.credentials_path, "http://test")
    assert creds is not None
    with serve(create_api(build_platform(settings))) as url:
        yield Api(url=url, settings=settings, admin_token=creds.token)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("models")
    artifacts.torchscript(d / "v1.pt", seed=0)
    artifacts.torchscript(d / "v2.pt", seed=1)
    artifacts.torchscript(d / "v3.pt", seed=2)
    artifacts.exported(d / "v4.pt2", seed=3)
    return d
