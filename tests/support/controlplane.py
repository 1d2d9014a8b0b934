"""The real control plane for tests: a migrated database, the first admin, its API."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import httpx

from control_plane.db.engine import migrate, session_scope
from control_plane.launcher.up import ensure_inference_token
from control_plane.services import auth
from control_plane.settings import PierSettings
from tests.support import artifacts


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
