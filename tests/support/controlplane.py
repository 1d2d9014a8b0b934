"""The real control plane for tests: a migrated database, the first admin, its API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from control_plane.api.app import create_api
from control_plane.composition import build_platform
from control_plane.db.engine import migrate, session_scope
from control_plane.launcher.bootstrap import ensure_inference_token
from control_plane.services import auth
from control_plane.settings import PierSettings
from tests.support import artifacts
from tests.support.servers import serve


@dataclass(frozen=True)
class Tokens:
    admin: str
    inference: str


def bootstrap(settings: PierSettings) -> Tokens:
    """Migrate, create the first admin (as `pier up` does) and the replicas' viewer token."""
    migrate(settings)
    with session_scope(settings) as session:
        creds = auth.bootstrap_admin(session, settings.credentials_path, settings.public_url)
        assert creds is not None, "bootstrap expects a fresh database"
    with session_scope(settings) as session:
        inference = ensure_inference_token(session, settings.home / "inference-token")
    return Tokens(admin=creds.token, inference=inference)


@dataclass(frozen=True)
class ControlPlane:
    """A control plane's REST API served on a free port, with its first admin's tokens."""

    url: str
    settings: PierSettings
    tokens: Tokens

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.tokens.admin}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120)


@contextmanager
def running_api(settings: PierSettings) -> Iterator[ControlPlane]:
    """Bootstrap a fresh database and serve the REST API over it, in this process."""
    tokens = bootstrap(settings)
    with serve(create_api(build_platform(settings))) as url:
        yield ControlPlane(url, settings, tokens)


def push(
    c: httpx.Client, path: Path, name: str = "iris", version: str | None = None, **overrides: object
) -> httpx.Response:
    """Upload an artifact and register it as a version, as `pier push` does."""
    r = c.post(
        "/api/v1/artifacts",
        content=path.read_bytes(),
        headers={"content-type": "application/octet-stream"},
    )
    r.raise_for_status()
    body: dict[str, object] = {
        "version": version,
        "sha256": r.json()["sha256"],
        "inputs": artifacts.IRIS_INPUTS,
        "outputs": artifacts.IRIS_OUTPUTS,
    }
    body.update(overrides)
    return c.post(f"/api/v1/models/{name}/versions", json=body)


def error_message(r: httpx.Response) -> str:
    body = r.json()
    if "error" in body:
        return str(body["error"]["message"])
    return json.dumps(body)
