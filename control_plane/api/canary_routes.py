"""REST routes for progressive canaries: start one, watch it, pause, resume or abort it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from control_plane.api.deps import Deployer, PlatformDep, SessionDep, Viewer
from control_plane.services import canaries
from control_plane.services.canaries import CanaryCreate, CanaryPublic

router = APIRouter(prefix="/api/v1", tags=["canaries"])


class CanaryControl(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=2000)


@router.post("/models/{name}/canaries", status_code=status.HTTP_201_CREATED)
def start_canary(
    name: str,
    body: CanaryCreate,
    session: SessionDep,
    principal: Deployer,
) -> CanaryPublic:
    """Start ramping a version up step by step; failed gates roll it back by themselves."""
    return canaries.start_canary(session, principal, name, body, datetime.now(UTC))


@router.get("/models/{name}/canaries")
def list_canaries(
    name: str,
    session: SessionDep,
    _: Viewer,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[CanaryPublic]:
    """The model's canaries, newest first, with where each stands and why."""
    return canaries.list_canaries(session, name, limit)


@router.post("/models/{name}/canaries/current/{action}")
def control_canary(
    name: str,
    action: Literal["pause", "resume", "abort"],
    session: SessionDep,
    principal: Deployer,
    platform: PlatformDep,
    body: CanaryControl | None = None,
) -> CanaryPublic:
    """Pause, resume or abort the canary in progress (abort returns all traffic to the
    baseline, and keeps the canary's gates and verdict at that moment in its summary)."""
    reason = body.reason if body else ""
    now, source = datetime.now(UTC), platform.metrics()
    return canaries.control(session, principal, name, action, now, reason, source)
