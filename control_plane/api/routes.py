"""REST routes under /api/v1. Thin: parse, call a service, shape the answer."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from control_plane.api.deps import (
    Admin,
    AnnouncerDep,
    CheckerDep,
    Deployer,
    ReplicasDep,
    SessionDep,
    SettingsDep,
    StoreDep,
    Viewer,
)
from control_plane.api.guards import replica_url_problem
from control_plane.domain.convergence import ReplicaReport, build_status
from control_plane.errors import InvalidRequest, PayloadTooLarge
from control_plane.schemas import (
    ArtifactPublic,
    AuditEventPublic,
    DeploymentPublic,
    DeploymentSet,
    DeployRequest,
    ModelPublic,
    PushResult,
    RollbackRequest,
    RoutingTable,
    ShadowSet,
    StatusPublic,
    TokenCreate,
    TokenIssued,
    TokenPublic,
    UserCreate,
    UserPublic,
    VersionCreate,
    VersionPublic,
)
from control_plane.services import audit, auth, deployments, registry
from control_plane.services.routing_events import announce_on_commit

router = APIRouter(prefix="/api/v1")


@router.get("/health", tags=["system"])
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/models", tags=["models"])
def list_models(session: SessionDep, _: Viewer) -> list[ModelPublic]:
    return registry.list_models(session)


@router.get("/models/{name}", tags=["models"])
def get_model(name: str, session: SessionDep, _: Viewer) -> ModelPublic:
    return registry.describe_model(session, name)


@router.get("/models/{name}/versions", tags=["models"])
def list_versions(
    name: str,
    session: SessionDep,
    _: Viewer,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[VersionPublic]:
    return registry.list_versions(session, name, limit=limit, offset=offset)


@router.get("/models/{name}/versions/{version}", tags=["models"])
def get_version(name: str, version: str, session: SessionDep, _: Viewer) -> VersionPublic:
    return registry.get_version(session, name, version)


@router.post(
    "/models/{name}/versions",
    tags=["models"],
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": PushResult, "description": "These bytes were already a version"}},
)
def push_version(
    name: str,
    spec: VersionCreate,
    response: Response,
    session: SessionDep,
    store: StoreDep,
    checker: CheckerDep,
    principal: Deployer,
) -> PushResult:
    """Register a version from an uploaded artifact; it is loaded and run once first."""
    result = registry.push_version(session, store, checker, principal, name, spec)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return result


@router.post(
    "/artifacts",
    tags=["artifacts"],
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
            "required": True,
        }
    },
)
async def upload_artifact(
    request: Request, response: Response, settings: SettingsDep, store: StoreDep, _: Deployer
) -> ArtifactPublic:
    """Stream an artifact's bytes; they are hashed as they arrive and stored by sha256."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_artifact_bytes:
        raise PayloadTooLarge(
            f"artifact of {declared} bytes is larger than the limit of "
            f"{settings.max_artifact_bytes} bytes"
        )
    stored = await store.ingest(request.stream(), settings.max_artifact_bytes)
    if not stored.created:
        response.status_code = status.HTTP_200_OK
    return ArtifactPublic(sha256=stored.sha256, size=stored.size, created=stored.created)


@router.get(
    "/artifacts/{sha256}",
    tags=["artifacts"],
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download_artifact(sha256: str, store: StoreDep, _: Viewer) -> StreamingResponse:
    size = store.size(sha256)
    return StreamingResponse(
        store.iter_bytes(sha256),
        media_type="application/octet-stream",
        headers={"Content-Length": str(size), "ETag": f'"{sha256}"'},
    )


@router.get("/models/{name}/deployment", tags=["deployments"])
def get_deployment(name: str, session: SessionDep, _: Viewer) -> DeploymentPublic:
    return deployments.get_deployment(session, name)


@router.put("/models/{name}/deployment", tags=["deployments"])
def set_deployment(
    name: str,
    body: DeploymentSet,
    session: SessionDep,
    principal: Deployer,
    announcer: AnnouncerDep,
) -> DeploymentPublic:
    """Set the traffic split: version -> percent, summing to 100."""
    announce_on_commit(session, announcer)
    return deployments.set_weights(session, principal, name, body.weights, reason=body.reason)


@router.put("/models/{name}/shadow", tags=["deployments"])
def set_shadow(
    name: str,
    body: ShadowSet,
    session: SessionDep,
    principal: Deployer,
    announcer: AnnouncerDep,
) -> DeploymentPublic:
    """Set the shadow versions: version -> percent of requests mirrored to it, whose answers
    are recorded and compared but never returned. `{}` stops every shadow."""
    announce_on_commit(session, announcer)
    return deployments.set_shadow(session, principal, name, body.shadow, reason=body.reason)


@router.post("/models/{name}/deploy", tags=["deployments"])
def deploy(
    name: str,
    body: DeployRequest,
    session: SessionDep,
    principal: Deployer,
    announcer: AnnouncerDep,
) -> DeploymentPublic:
    """Send all of a model's traffic to one version."""
    announce_on_commit(session, announcer)
    return deployments.deploy(session, principal, name, body.version, reason=body.reason)


@router.post("/models/{name}/rollback", tags=["deployments"])
def rollback(
    name: str,
    session: SessionDep,
    principal: Deployer,
    announcer: AnnouncerDep,
    body: RollbackRequest | None = None,
) -> DeploymentPublic:
    """Restore the previous traffic split of a model."""
    announce_on_commit(session, announcer)
    return deployments.rollback(session, principal, name, reason=body.reason if body else "")


@router.get("/audit", tags=["audit"])
def list_audit(
    session: SessionDep,
    _: Viewer,
    model: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: int | None = None,
) -> list[AuditEventPublic]:
    return audit.list_events(
        session, model=model, actor=actor, action=action, limit=limit, before_id=before_id
    )


@router.get(
    "/routing",
    tags=["replicas"],
    response_model=RoutingTable,
    responses={304: {"description": "The replica's table is current"}},
)
def get_routing(
    session: SessionDep,
    replicas: ReplicasDep,
    _: Viewer,
    if_none_match: Annotated[str | None, Header()] = None,
    x_pier_replica_id: Annotated[str | None, Header()] = None,
    x_pier_replica_url: Annotated[str, Header()] = "",
    x_pier_replica_revision: Annotated[int, Header()] = 0,
    x_pier_replica_loaded: Annotated[str, Header()] = "",
    x_pier_replica_error: Annotated[str, Header()] = "",
    x_pier_replica_device: Annotated[str, Header()] = "",
) -> Response:
    """The routing table every inference replica polls (docs/contract.md)."""
    if problem := replica_url_problem(x_pier_replica_url) if x_pier_replica_url else None:
        # The monitoring scrapers fetch from this URL: refuse what no replica ever is.
        raise InvalidRequest(f"X-Pier-Replica-Url: {problem}")
    if x_pier_replica_id:
        replicas.report(
            ReplicaReport(
                id=x_pier_replica_id[:200],
                url=x_pier_replica_url[:500],
                revision=x_pier_replica_revision,
                loaded=[x for x in x_pier_replica_loaded.split(",") if x][:1000],
                error=x_pier_replica_error[:500],
                last_seen=datetime.now(UTC),
                device=x_pier_replica_device[:64],
            )
        )
    table = deployments.routing_table(session)
    body = table.model_dump_json().encode()
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    if if_none_match == etag:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
    return Response(body, media_type="application/json", headers={"ETag": etag})


@router.get("/status", tags=["deployments"])
def get_status(
    request: Request, session: SessionDep, settings: SettingsDep, replicas: ReplicasDep, _: Viewer
) -> StatusPublic:
    """What is deployed, with weights; which replicas serve it and whether they caught up;
    on Kubernetes, where each model's rollout stands."""
    table = deployments.routing_table(session)
    deps = [deployments.get_deployment(session, m.name) for m in table.models]
    status = build_status(
        table,
        deps,
        replicas.all(),
        datetime.now(UTC),
        timedelta(seconds=settings.replica_stale_s),
    )
    status.rollouts = request.app.state.rollouts()
    return status


@router.get("/tokens", tags=["access"])
def list_tokens(session: SessionDep, _: Admin) -> list[TokenPublic]:
    return auth.list_tokens(session)


@router.post("/tokens", tags=["access"], status_code=status.HTTP_201_CREATED)
def create_token(body: TokenCreate, session: SessionDep, principal: Admin) -> TokenIssued:
    """Issue a token; its secret is in this answer and nowhere else."""
    return auth.issue_token(session, principal, body)


@router.delete("/tokens/{token_id}", tags=["access"], status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: int, session: SessionDep, principal: Admin) -> None:
    auth.revoke_token(session, token_id, principal.username)


@router.post("/users", tags=["access"], status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, session: SessionDep, principal: Admin) -> UserPublic:
    return auth.add_user(session, principal, body)
