"""Tokens and roles: reads need viewer, changes need deployer, access needs admin."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.control_plane.conftest import Api
from tests.support.controlplane import push


def test_missing_or_wrong_token_gets_401(api: Api) -> None:
    with api.client(token="") as anonymous:
        r = anonymous.get("/api/v1/models")
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
        assert "token" in r.json()["error"]["message"]
    with api.client(token="pier_not-a-real-token") as wrong:
        assert wrong.get("/api/v1/models").status_code == 401
    with api.client(token="Basic x") as garbage:
        assert garbage.get("/api/v1/models").status_code == 401


def test_a_viewer_reads_but_changes_nothing(api: Api, models_dir: Path) -> None:
    with api.client() as admin:
        assert push(admin, models_dir / "v1.pt", name="auth-a", version="1").status_code == 201
    viewer = api.token("viewer")
    with api.client(viewer) as c:
        assert c.get("/api/v1/models").status_code == 200
        assert c.get("/api/v1/audit").status_code == 200
        for r in (
            push_attempt(c),
            c.post("/api/v1/models/auth-a/deploy", json={"version": "1"}),
            c.post("/api/v1/models/auth-a/rollback", json={}),
            c.put("/api/v1/models/auth-a/deployment", json={"weights": {"1": 100}}),
            c.post("/api/v1/tokens", json={"name": "x"}),
        ):
            assert r.status_code == 403, r.text
            assert "viewer" in r.json()["error"]["message"]
    with api.client() as admin:
        assert admin.get("/api/v1/models/auth-a/deployment").status_code == 404


def push_attempt(c):  # type: ignore[no-untyped-def]
    return c.post("/api/v1/artifacts", content=b"abc")


def test_a_deployer_deploys_but_does_not_manage_access(api: Api, models_dir: Path) -> None:
    with api.client() as admin:
        assert push(admin, models_dir / "v1.pt", name="auth-b", version="1").status_code == 201
    deployer = api.token("deployer")
    with api.client(deployer) as c:
        assert c.post("/api/v1/models/auth-b/deploy", json={"version": "1"}).status_code == 200
        assert c.get("/api/v1/tokens").status_code == 403
    events = (
        api.client().get("/api/v1/audit", params={"model": "auth-b", "action": "deploy"}).json()
    )
    assert events[0]["actor"].startswith("deployer")


def test_revoked_tokens_stop_working_and_secrets_are_not_stored(api: Api) -> None:
    secret = api.token("viewer")
    with api.client() as admin:
        tokens = admin.get("/api/v1/tokens").json()
        mine = next(t for t in tokens if secret.startswith(t["prefix"]))
        assert "secret" not in mine
        assert all(secret not in json.dumps(t) for t in tokens)
        assert admin.delete(f"/api/v1/tokens/{mine['id']}").status_code == 204
    with api.client(secret) as c:
        assert c.get("/api/v1/models").status_code == 401


def test_a_token_never_exceeds_its_user(api: Api) -> None:
    with api.client() as admin:
        admin.post(
            "/api/v1/users",
            json={"username": "limited", "password": "correct horse battery", "role": "viewer"},
        ).raise_for_status()
        r = admin.post("/api/v1/tokens", json={"name": "x", "role": "admin", "username": "limited"})
        assert r.status_code == 403


def test_first_start_writes_private_credentials(api: Api) -> None:
    path = api.settings.credentials_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    creds = json.loads(path.read_text())
    assert set(creds) == {"url", "username", "password", "token"}
    assert creds["username"] == "admin" and creds["token"] == api.admin_token
    assert len(creds["password"]) >= 16
