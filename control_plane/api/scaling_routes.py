"""REST routes for a model's scaling settings: read them, replace them (deployer, audited)."""

from __future__ import annotations

from fastapi import APIRouter

from control_plane.api.deps import Deployer, SessionDep, Viewer
from control_plane.schemas import ScalingChange, ScalingPublic
from control_plane.services import scaling

router = APIRouter(prefix="/api/v1", tags=["scaling"])


@router.get("/models/{name}/scaling")
def get_scaling(name: str, session: SessionDep, _: Viewer) -> ScalingPublic:
    """The settings in force: bounds, target and behaviour (`custom` false: the defaults)."""
    return scaling.get_scaling(session, name)


@router.put("/models/{name}/scaling")
def set_scaling(
    name: str,
    body: ScalingChange,
    session: SessionDep,
    principal: Deployer,
) -> ScalingPublic:
    """Replace the model's scaling settings; fields left out take their defaults."""
    return scaling.set_scaling(session, principal, name, body.scaling, reason=body.reason)
