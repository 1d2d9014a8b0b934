"""The services the dashboard calls, against a real PostgreSQL database and real artifacts."""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from control_plane.artifacts import ArtifactChecker, Artifacts, ArtifactStore
from control_plane.db.engine import migrate, session_scope
from control_plane.db.tables import Deployment, DeploymentRevision, Model, ModelVersion, User
from control_plane.errors import Forbidden, InvalidRequest, PayloadTooLarge, Unauthenticated
from control_plane.schemas import Principal, Role
from control_plane.services import audit, auth, bundles, catalog, deployments, push, web_sessions
from control_plane.settings import PierSettings
from tests.support import artifacts
from tests.support.pg import temporary_database

pytestmark = pytest.mark.postgres

ADMIN = Principal(username="root", role=Role.admin, token_name="test")
NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PierSettings]:
    with temporary_database() as url:
        s = PierSettings(home=tmp_path_factory.mktemp("home"), database_url=url)
        migrate(s)
        with session_scope(s) as session:
            auth.create_user(session, "dora", "a long password!", Role.deployer, actor="test")
        yield s


def test_signing_in_opens_a_session_that_resolves_until_signed_out(settings: PierSettings) -> None:
    with session_scope(settings) as session:
        with pytest.raises(Unauthenticated, match="wrong username or password"):
            web_sessions.sign_in(session, "dora", "not it", NOW)
        with pytest.raises(Unauthenticated, match="wrong username or password"):
            web_sessions.sign_in(session, "nobody", "a long password!", NOW)
        with pytest.raises(Unauthenticated, match="enter a username"):
            web_sessions.sign_in(session, "", "", NOW)
    with session_scope(settings) as session:
        opened = web_sessions.sign_in(session, "dora", "a long password!", NOW)
    assert opened.principal.role is Role.deployer
    with session_scope(settings) as session:
        (event,) = audit.list_events(session, actor="dora", limit=1)
    # A sign-in, not a token someone made: the activity log says so.
    assert event.action == "user.sign_in" and event.actor == "dora"
    assert opened.expires_at == NOW + web_sessions.SESSION_TTL
    with session_scope(settings) as session:
        assert web_sessions.principal(session, opened.secret).username == "dora"
    with session_scope(settings) as session:
        web_sessions.sign_out(session, opened.secret)
        web_sessions.sign_out(session, opened.secret)  # twice is fine
    with session_scope(settings) as session, pytest.raises(Unauthenticated, match="revoked"):
        web_sessions.principal(session, opened.secret)
    with session_scope(settings) as session, pytest.raises(Unauthenticated, match="sign in"):
        web_sessions.principal(session, "")


def test_a_session_expires_and_follows_a_role_change_at_once(settings: PierSettings) -> None:
    with session_scope(settings) as session:
        old = web_sessions.sign_in(session, "dora", "a long password!", NOW - timedelta(hours=9))
        fresh = web_sessions.sign_in(session, "dora", "a long password!", NOW)
    with session_scope(settings) as session, pytest.raises(Unauthenticated, match="expired"):
        web_sessions.principal(session, old.secret)

    with session_scope(settings) as session:
        user = session.exec(select(User).where(User.username == "dora")).one()
        user.role = Role.viewer.value
        session.add(user)
    try:
        with session_scope(settings) as session:
            who = web_sessions.principal(session, fresh.secret)
            assert who.role is Role.viewer
            # The browser's button said "deployer" when the page loaded; the server decides.
            with pytest.raises(Forbidden, match="needs deployer"):
                deployments.deploy(session, who, "anything", "v1")
    finally:
        with session_scope(settings) as session:
            user = session.exec(select(User).where(User.username == "dora")).one()
            user.role = Role.deployer.value
            session.add(user)


def test_disabling_a_user_ends_their_sessions(settings: PierSettings) -> None:
    with session_scope(settings) as session:
        auth.create_user(session, "eve", "another long password", Role.viewer, actor="test")
    with session_scope(settings) as session:
        opened = web_sessions.sign_in(session, "eve", "another long password", NOW)
    with session_scope(settings) as session:
        with pytest.raises(Forbidden):
            auth.disable_user(session, opened.principal, "dora")
        assert auth.disable_user(session, ADMIN, "eve").disabled
    with session_scope(settings) as session, pytest.raises(Unauthenticated):
        web_sessions.principal(session, opened.secret)
    with session_scope(settings) as session:
        assert "user.disable" in audit.filter_choices(session, "action")
        assert {"dora", "eve"} <= {u.username for u in auth.list_users(session)}


def seed(session: Session, models: int, versions: int) -> None:
    """Rows written directly: test data for the read model, not a push path."""
    for m in range(models):
        model = Model(name=f"m{m:03d}", created_by="seed")
        session.add(model)
        session.flush()
        assert model.id is not None
        for v in range(1, versions + 1):
            session.add(
                ModelVersion(
                    model_id=model.id,
                    label=f"v{v}",
                    seq=v,
                    sha256=f"{m:032x}{v:032x}",
                    size=1000 + v,
                    format="torchscript",
                    inputs=artifacts.IRIS_INPUTS,
                    outputs=artifacts.IRIS_OUTPUTS,
                    created_by="seed",
                )
            )
        if m % 2 == 0:
            weights = {f"v{versions}": 90, f"v{versions - 1}": 10}
            rev = DeploymentRevision(model_id=model.id, weights=weights, created_by="seed")
            session.add(rev)
            session.flush()
            assert rev.id is not None
            session.add(
                Deployment(model_id=model.id, weights=weights, revision=rev.id, updated_by="seed")
            )


def test_the_catalog_pages_models_with_their_deployments(settings: PierSettings) -> None:
    with session_scope(settings) as session:
        seed(session, models=25, versions=4)
    with session_scope(settings) as session:
        first = catalog.catalog_page(session, offset=0, limit=10)
        last = catalog.catalog_page(session, offset=20, limit=10)
        found = catalog.catalog_page(session, name_contains="m01")
        none = catalog.catalog_page(session, name_contains="%")
    assert first.total == 25 and len(first.models) == 10 and len(last.models) == 5
    m0 = first.models[0]
    assert (m0.name, m0.versions, m0.latest, m0.latest_seq) == ("m000", 4, "v4", 4)
    assert [(d.version, d.seq, d.weight) for d in m0.deployed] == [("v4", 4, 90), ("v3", 3, 10)]
    assert m0.revision > 0
    m1 = first.models[1]
    assert (m1.deployed, m1.revision) == ([], 0)
    assert [m.name for m in found.models] == [f"m01{i}" for i in range(10)]
    assert none.total == 0  # a literal %, not a wildcard


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _tar_with_link(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as t:
        info = tarfile.TarInfo("model.pt")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        t.addfile(info)
        data = b"model:\n  name: x\n"
        yaml_info = tarfile.TarInfo("pier.yaml")
        yaml_info.size = len(data)
        t.addfile(yaml_info, io.BytesIO(data))
    return path


def test_archives_unpack_safely_or_not_at_all(tmp_path: Path) -> None:
    ok = tmp_path / "ok"
    ok.mkdir()
    _zip(ok / "bundle.zip", {"iris/pier.yaml": b"model: {}\n", "iris/model.pt": b"x"})
    assert bundles.find_manifest(ok, 1000).name == "pier.yaml"

    climb = tmp_path / "climb"
    climb.mkdir()
    _zip(climb / "bundle.zip", {"../../evil.yaml": b"x"})
    with pytest.raises(InvalidRequest, match="outside itself"):
        bundles.find_manifest(climb, 1000)

    link = tmp_path / "link"
    link.mkdir()
    _tar_with_link(link / "bundle.tar.gz")
    with pytest.raises(InvalidRequest, match="links"):
        bundles.find_manifest(link, 1000)

    big = tmp_path / "big"
    big.mkdir()
    _zip(big / "bundle.zip", {"pier.yaml": b"x", "model.pt": b"0" * 3_000_000})
    with pytest.raises(PayloadTooLarge):
        bundles.find_manifest(big, 1000)

    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "bundle.zip").write_bytes(b"not a zip")
    with pytest.raises(InvalidRequest, match="not a readable archive"):
        bundles.find_manifest(junk, 1000)

    none = tmp_path / "none"
    none.mkdir()
    (none / "model.pt").write_bytes(b"x")
    with pytest.raises(InvalidRequest, match=r"no pier.yaml among the files \(model.pt\)"):
        bundles.find_manifest(none, 1000)


def test_a_bundle_is_pushed_like_the_cli_pushes_it(settings: PierSettings, tmp_path: Path) -> None:
    stores = Artifacts(
        ArtifactStore(settings.artifact_root),
        ArtifactChecker(timeout_s=settings.check_timeout_s),
        10_000_000,
    )
    root = tmp_path / "upload"
    root.mkdir()
    model = artifacts.torchscript(root / "model.pt", seed=3)
    artifacts.manifest(root, model, name="bundled", version="v1")
    with session_scope(settings) as session:
        result = push.push_upload(session, stores, ADMIN, root)
    assert result.created and result.version.version == "v1"
    with session_scope(settings) as session:
        again = push.push_upload(session, stores, ADMIN, root)
        events = audit.list_events(session, model="bundled")
    assert not again.created
    assert [e.action for e in events] == ["version.push", "model.create"]

    # An artifact outside the upload is refused, and the message names no server path.
    secret = tmp_path / "secret.pt"
    secret.write_bytes(b"private")
    sneaky = tmp_path / "sneaky"
    sneaky.mkdir()
    (sneaky / "pier.yaml").write_text(
        "model:\n  name: bundled\n  artifact: ../secret.pt\n"
        "  inputs: [{name: x, dtype: float32, shape: [-1, 4]}]\n"
        "  outputs: [{name: y, dtype: float32, shape: [-1, 3]}]\n"
    )
    with session_scope(settings) as session, pytest.raises(InvalidRequest) as refused:
        push.push_upload(session, stores, ADMIN, sneaky)
    assert "must be one of the uploaded files" in refused.value.message
    assert str(tmp_path) not in refused.value.message

    # A manifest error reads as the CLI's, naming the file the user uploaded.
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "pier.yaml").write_text("model:\n  name: Bad Name\n  artifact: m.pt\n")
    with session_scope(settings) as session, pytest.raises(InvalidRequest) as bad:
        push.push_upload(session, stores, ADMIN, broken)
    assert bad.value.message.startswith("pier.yaml:\nmodel.name: model name 'Bad Name' must")
    assert "model.inputs is required" in bad.value.message
    assert str(broken) not in bad.value.message

    viewer = Principal(username="v", role=Role.viewer, token_name="t")
    with session_scope(settings) as session, pytest.raises(Forbidden):
        push.push_upload(session, stores, viewer, root)
