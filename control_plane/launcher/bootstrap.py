"""What both launchers prepare before the control plane serves: Reflex's environment, the
platform's own tokens, and the bundled example on a first start."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from sqlmodel import Session, select

from control_plane.composition import Platform
from control_plane.db.tables import Model
from control_plane.pier_yaml import load_manifest
from control_plane.schemas import Principal, Role
from control_plane.services import auth, push
from control_plane.settings import PierSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "examples" / "iris" / "pier.yaml"
SYSTEM = Principal(username="system", role=Role.admin, token_name="launcher")


def reflex_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables Reflex needs offline (scripts/reflex-env.sh is their one definition)."""
    env = dict(environ)
    script = REPO_ROOT / "scripts" / "reflex-env.sh"
    if script.is_file():
        lines = subprocess.run(
            ["bash", str(script)], capture_output=True, text=True, check=True, env=env
        ).stdout.splitlines()
        for line in lines:
            key, _, value = line.partition("=")
            if key:
                env.setdefault(key, value)
    return env


def reflex_command(settings: PierSettings) -> list[str]:
    """The Reflex app in production mode: dashboard and API on one port."""
    port = str(settings.port)
    return [
        sys.executable,
        "-m",
        "reflex",
        "run",
        "--env",
        "prod",
        "--frontend-port",
        port,
        "--backend-port",
        port,
        "--backend-host",
        settings.host,
    ]


def ensure_inference_token(session: Session, path: Path) -> str:
    """A viewer token for the local replicas, kept in a 0600 file and reused across starts."""
    if path.is_file() and auth.valid_token(session, secret := path.read_text().strip()):
        return secret
    admin = auth.admin_user(session)
    issued = auth.create_token(session, admin, "inference-local", Role.viewer, actor="system")
    auth.write_secret_file(path, issued.secret + "\n")
    return issued.secret


def accept_token(session: Session, secret: str, name: str, role: Role) -> bool:
    """Make `secret` a valid token of `role` for the admin user; False if it already was."""
    if auth.valid_token(session, secret):
        return False
    auth.adopt_token(session, auth.admin_user(session), name, role, secret, actor="system")
    return True


def register_example(platform: Platform, session: Session, manifest_path: Path) -> str | None:
    """On an empty registry: push and deploy the bundled example. Returns what it deployed."""
    if session.exec(select(Model)).first() is not None or not manifest_path.is_file():
        return None
    manifest = load_manifest(manifest_path)
    spec = push.stored_spec(platform.artifacts, manifest)
    name, reason = manifest.model.name, "bundled example"
    pushed = push.push_version(
        session, platform.artifacts, SYSTEM, name, spec, deploy=True, reason=reason
    )
    return f"{pushed.version.model}@{pushed.version.version}"
