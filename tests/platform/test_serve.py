"""`pier serve` (the container's command) accepts the tokens a deployment generated."""

from __future__ import annotations

import secrets
import stat
from pathlib import Path

import httpx
import pytest

from control_plane.api.app import create_api
from control_plane.composition import build_platform
from control_plane.errors import InvalidRequest
from control_plane.launcher.serve import prepare
from control_plane.settings import PierSettings
from tests.support.pg import temporary_database
from tests.support.servers import serve


def _token() -> str:
    return "pier_" + secrets.token_urlsafe(32)


def test_generated_tokens_work_and_a_restart_changes_nothing(tmp_path: Path) -> None:
    admin, inference = _token(), _token()
    env = {"PIER_ADMIN_TOKEN": admin, "PIER_K8S_INFERENCE_TOKEN": inference}
    with temporary_database() as url:
        settings = PierSettings(home=tmp_path, database_url=url)
        first = prepare(settings, env)
        assert any("admin-password" in line for line in first)
        assert stat.S_IMODE((tmp_path / "admin-password").stat().st_mode) == 0o600
        assert prepare(settings, env) == []  # a restart of the pod: nothing new
        with serve(create_api(build_platform(settings))) as api:
            as_admin = httpx.get(
                f"{api}/api/v1/tokens", headers={"Authorization": f"Bearer {admin}"}
            )
            assert as_admin.status_code == 200
            names = {t["name"]: t["role"] for t in as_admin.json()}
            assert names == {"admin-deployment": "admin", "inference-k8s": "viewer"}
            as_replica = {"Authorization": f"Bearer {inference}"}
            assert httpx.get(f"{api}/api/v1/routing", headers=as_replica).status_code == 200
            assert (
                httpx.post(
                    f"{api}/api/v1/tokens", headers=as_replica, json={"name": "x"}
                ).status_code
                == 403
            )


def test_a_given_admin_password_is_used_and_bad_tokens_are_refused(tmp_path: Path) -> None:
    settings = PierSettings(home=tmp_path)
    done = prepare(settings, {"PIER_ADMIN_PASSWORD": "a long enough password"})
    assert done == ["created user admin with the password from PIER_ADMIN_PASSWORD"]
    assert not (tmp_path / "admin-password").exists()
    with pytest.raises(InvalidRequest, match="must start with 'pier_'"):
        prepare(settings, {"PIER_ADMIN_TOKEN": "hunter2"})
