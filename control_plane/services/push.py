"""Pushing a version: one use case for the REST API, the dashboard upload and the launcher.

Each door hands over a version spec (or the files of one); the version is registered, its
pier.yaml's `scaling:` applied to a deployed model, and the version deployed when asked.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from control_plane.artifacts import ArtifactChecker, ArtifactStore
from control_plane.errors import InvalidRequest, PierError
from control_plane.pier_yaml import Manifest, load_manifest
from control_plane.schemas import Principal, PushResult, VersionCreate
from control_plane.services import bundles, deployments, registry, scaling

SCALING_REASON = "from pier.yaml"


def push_version(
    session: Session,
    store: ArtifactStore,
    checker: ArtifactChecker,
    principal: Principal,
    name: str,
    spec: VersionCreate,
    *,
    deploy: bool = False,
    reason: str = "",
) -> PushResult:
    """Register a version (identical bytes: the existing one), deploy it when asked, and
    make its `scaling` the model's settings once the model is deployed."""
    result = registry.register_version(session, store, checker, principal, name, spec)
    if deploy:
        deployments.deploy(session, principal, name, result.version.version, reason=reason)
    # Scaling belongs to a deployment: before the first deploy there is nothing to set.
    if spec.scaling is not None and deployments.is_deployed(session, name):
        result.scaling = scaling.set_scaling(
            session, principal, name, spec.scaling, reason=SCALING_REASON
        )
    return result


def push_manifest(
    session: Session,
    store: ArtifactStore,
    checker: ArtifactChecker,
    principal: Principal,
    manifest: Manifest,
    max_bytes: int,
    *,
    deploy: bool = False,
    reason: str = "",
) -> PushResult:
    """Push the version a pier.yaml on this machine describes, with its artifact."""
    stored = store.ingest_file(manifest.artifact_path, max_bytes)
    spec = VersionCreate.model_validate(manifest.version_create(stored.sha256))
    return push_version(
        session, store, checker, principal, manifest.model.name, spec, deploy=deploy, reason=reason
    )


def push_upload(
    session: Session,
    store: ArtifactStore,
    checker: ArtifactChecker,
    principal: Principal,
    root: Path,
    max_bytes: int,
) -> PushResult:
    """Push the version described by the uploaded files under `root` (the whole upload)."""
    try:
        manifest = load_manifest(bundles.find_manifest(root, max_bytes))
        if not manifest.artifact_path.is_relative_to(root.resolve()):
            raise InvalidRequest(
                f"artifact {manifest.model.artifact!r} must be one of the uploaded files; "
                f"{bundles.EXPECTED}"
            )
        if manifest.artifact_path.suffix.lower() in (".yaml", ".yml"):
            raise InvalidRequest("the artifact cannot be the pier.yaml itself")
        return push_manifest(session, store, checker, principal, manifest, max_bytes)
    except PierError as e:
        e.message = bundles.relative(e.message, root)
        e.args = (e.message,)
        raise
