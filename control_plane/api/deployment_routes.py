"""REST routes for traffic: splits, shadows, deploy, rollback, and where replicas stand."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Response, status

from control_plane.api.deps import Deployer, PlatformDep, SessionDep, Viewer
from control_plane.api.guards import replica_url_problem
from control_plane.domain.convergence import build_status
from control_plane.errors import InvalidRequest
from control_plane.schemas import (
    DeploymentPublic,
    DeploymentSet,
    DeployRequest,
    ReplicaReport,
    RollbackRequest,
    RoutingTable,
    ShadowSet,
    StatusPublic,
)
from control_plane.services import deployments

router = APIRouter(prefix="/api/v1", tags=["deployments"])


@router.get("/models/{name}/deployment")
def get_deployment(name: str, session: SessionDep, _: Viewer) -> DeploymentPublic:
    return deployments.get_deployment(session, name)


@router.put("/models/{name}/deployment")
def set_deployment(
    name: str, body: DeploymentSet, session: SessionDep, principal: Deployer
) -> DeploymentPublic:
    """Set the traffic split: version -> percent, summing to 100."""
    return deployments.set_weights(session, principal, name, body.weights, reason=body.reason)


@router.put("/models/{name}/shadow")
def set_shadow(
    name: str, body: ShadowSet, session: SessionDep, principal: Deployer
) -> DeploymentPublic:
    """Set the shadow versions: version -> percent of requests mirrored to it, whose answers
    are recorded and compared but never returned. `{}` stops every shadow."""
    return deployments.set_shadow(session, principal, name, body.shadow, reason=body.reason)


@router.post("/models/{name}/deploy")
def deploy(
    name: str, body: DeployRequest, session: SessionDep, principal: Deployer
) -> DeploymentPublic:
    """Send all of a model's traffic to one version."""
    return deployments.deploy(session, principal, name, body.version, reason=body.reason)


@router.post("/models/{name}/rollback")
def rollback(
    name: str, session: SessionDep, principal: Deployer, body: RollbackRequest | None = None
) -> DeploymentPublic:
    """Restore the previous traffic split of a model."""
    return deployments.rollback(session, principal, name, reason=body.reason if body else "")


@router.get(
    "/routing",
    tags=["replicas"],
    response_model=RoutingTable,
    responses={304: {"description": "The replica's table is current"}},
)
def get_routing(
    session: SessionDep,
    platform: PlatformDep,
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
        platform.replicas.report(
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


@router.get("/status")
def get_status(session: SessionDep, platform: PlatformDep, _: Viewer) -> StatusPublic:
    """What is deployed, with weights; which replicas serve it and whether they caught up;
    on Kubernetes, where each model's rollout stands."""
    table = deployments.routing_table(session)
    deps = [deployments.get_deployment(session, m.name) for m in table.models]
    found = build_status(
        table, deps, platform.replicas.all(), datetime.now(UTC), platform.stale_after
    )
    found.rollouts = platform.rollouts()
    return found
