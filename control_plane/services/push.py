"""Pushing a version: one use case for the REST API, the dashboard upload and the launcher.

A version is registered, its pier.yaml's `scaling:` applied to a deployed model, and the
version deployed when asked, whichever door it came through.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from control_plane.artifacts import Artifacts
from control_plane.errors import InvalidRequest, PierError
from control_plane.pier_yaml import Manifest, load_manifest
from control_plane.schemas import Principal, PushResult, VersionCreate
from control_plane.services import bundles, deployments, registry, scaling

SCALING_REASON = "from pier.yaml"


def push_version(
    session: Session,
    artifacts: Artifacts,
    principal: Principal,
    name: str,
    spec: VersionCreate,
    *,
    deploy: bool = False,
    reason: str = "",
) -> PushResult:
    """Register a version (identical bytes: the existing one), deploy it when asked, and
    make its `scaling` the model's settings once the model is deployed."""
    result = registry.register_version(session, artifacts, principal, name, spec)
    if deploy:
        deployments.deploy(session, principal, name, result.version.version, reason=reason)
    # Scaling belongs to a deployment: before the first deploy there is nothing to set.
    if spec.scaling is not None and deployments.is_deployed(session, name):
        result.scaling = scaling.set_scaling(
            session, principal, name, spec.scaling, reason=SCALING_REASON
        )
    return result


def stored_spec(artifacts: Artifacts, manifest: Manifest) -> VersionCreate:
    """Store the artifact a pier.yaml on this machine names; the version it describes."""
    stored = artifacts.store.ingest_file(manifest.artifact_path, artifacts.max_bytes)
    return VersionCreate.model_validate(manifest.version_create(stored.sha256))


def push_upload(
    session: Session, artifacts: Artifacts, principal: Principal, root: Path
) -> PushResult:
    """Push the version described by the uploaded files under `root` (the whole upload)."""
    try:
        manifest = load_manifest(bundles.find_manifest(root, artifacts.max_bytes))
        if not manifest.artifact_path.is_relative_to(root.resolve()):
            raise InvalidRequest(
                f"artifact {manifest.model.artifact!r} must be one of the uploaded files; "
                f"{bundles.EXPECTED}"
            )
        if manifest.artifact_path.suffix.lower() in (".yaml", ".yml"):
            raise InvalidRequest("the artifact cannot be the pier.yaml itself")
        spec = stored_spec(artifacts, manifest)
        return push_version(session, artifacts, principal, manifest.model.name, spec)
    except PierError as e:
        e.message = bundles.relative(e.message, root)
        e.args = (e.message,)
        raise
