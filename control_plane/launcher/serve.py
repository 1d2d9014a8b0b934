"""`pier serve`: the control plane in a container (the Helm chart's command). It migrates,
accepts the tokens the deployment generated and runs the Reflex app; no inference process."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Mapping

from sqlmodel import select

from control_plane.db.engine import migrate, session_scope
from control_plane.db.tables import User
from control_plane.launcher.bootstrap import REPO_ROOT, accept_token, reflex_command, reflex_env
from control_plane.schemas import Role
from control_plane.services import auth
from control_plane.settings import PierSettings


def prepare(settings: PierSettings, environ: Mapping[str, str]) -> list[str]:
    """Migrate and accept the generated tokens; returns what it did, for the log."""
    done = []
    migrate(settings)
    with session_scope(settings) as session:
        has_admin = session.exec(select(User).where(User.username == "admin")).first()
        if has_admin is None:
            password = environ.get("PIER_ADMIN_PASSWORD") or secrets.token_urlsafe(18)
            auth.create_user(session, "admin", password, Role.admin, actor="system")
            if "PIER_ADMIN_PASSWORD" not in environ:
                auth.write_secret_file(settings.home / "admin-password", password + "\n")
                done.append(
                    f"created user admin; its password is in {settings.home}/admin-password"
                )
            else:
                done.append("created user admin with the password from PIER_ADMIN_PASSWORD")
    for var, name, role in (
        ("PIER_ADMIN_TOKEN", "admin-deployment", Role.admin),
        ("PIER_K8S_INFERENCE_TOKEN", "inference-k8s", Role.viewer),
    ):
        secret = environ.get(var, "")
        if secret:
            with session_scope(settings) as session:
                if accept_token(session, secret, name, role):
                    done.append(f"accepted {var} as a {role.value} token")
    return done


def serve_main() -> int:
    settings = PierSettings()
    settings.home.mkdir(parents=True, exist_ok=True)
    for line in prepare(settings, os.environ):
        print(line, flush=True)
    env = reflex_env(os.environ)
    os.chdir(REPO_ROOT)
    os.execve(sys.executable, reflex_command(settings), env)
    return 0  # not reached
