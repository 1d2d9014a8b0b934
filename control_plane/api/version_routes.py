"""REST routes for models, versions and artifacts: thin, the registry decides."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from control_plane.api.deps import Deployer, PlatformDep, SessionDep, Viewer
from control_plane.errors import PayloadTooLarge
from control_plane.schemas import (
    ArtifactPublic,
    ModelPublic,
    PushResult,
    VersionCreate,
    VersionPublic,
)
from control_plane.services import push, registry

router = APIRouter(prefix="/api/v1")


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
    platform: PlatformDep,
    principal: Deployer,
) -> PushResult:
    """Register a version from an uploaded artifact; it is loaded and run once first."""
    result = push.push_version(session, platform.artifacts, principal, name, spec)
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
    request: Request, response: Response, platform: PlatformDep, _: Deployer
) -> ArtifactPublic:
    """Stream an artifact's bytes; they are hashed as they arrive and stored by sha256."""
    limit = platform.artifacts.max_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(
            f"artifact of {declared} bytes is larger than the limit of {limit} bytes"
        )
    stored = await platform.artifacts.store.ingest(request.stream(), limit)
    if not stored.created:
        response.status_code = status.HTTP_200_OK
    return ArtifactPublic(sha256=stored.sha256, size=stored.size, created=stored.created)


@router.get(
    "/artifacts/{sha256}",
    tags=["artifacts"],
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download_artifact(sha256: str, platform: PlatformDep, _: Viewer) -> StreamingResponse:
    store = platform.artifacts.store
    size = store.size(sha256)  # a 404 before anything streams
    return StreamingResponse(
        store.iter_bytes(sha256),
        media_type="application/octet-stream",
        headers={"Content-Length": str(size), "ETag": f'"{sha256}"'},
    )
