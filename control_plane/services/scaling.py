"""Per-model scaling settings: read, change (audited), the map the orchestrators read, and
the autoscaler's decisions written to the audit log."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from control_plane.backends.local.autoscaler import ScaleChange
from control_plane.db.tables import Deployment, Model
from control_plane.errors import NotFound
from control_plane.schemas import Principal, Role, ScalingPublic, ScalingSettings
from control_plane.services import audit, changes
from control_plane.services.auth import require
from control_plane.services.registry import get_model


def _deployment(session: Session, model: Model, *, lock: bool = False) -> Deployment:
    query = select(Deployment).where(Deployment.model_id == model.id)
    if lock:
        # PostgreSQL: two concurrent changes serialise, so each audit "before" is true.
        query = query.with_for_update()
    dep = session.exec(query).first()
    if dep is None:
        raise NotFound(
            f"model {model.name!r} is not deployed; deploy a version first, then set its scaling"
        )
    return dep


def _public(name: str, dep: Deployment) -> ScalingPublic:
    if dep.scaling is None:
        return ScalingPublic(model=name, scaling=ScalingSettings(), custom=False)
    return ScalingPublic(
        model=name, scaling=ScalingSettings.model_validate(dep.scaling), custom=True
    )


def get_scaling(session: Session, name: str) -> ScalingPublic:
    model = get_model(session, name)
    return _public(name, _deployment(session, model))


def set_scaling(
    session: Session,
    principal: Principal,
    name: str,
    scaling: ScalingSettings,
    reason: str = "",
) -> ScalingPublic:
    """Replace the model's scaling settings; a no-op (and no audit event) when unchanged."""
    require(principal, Role.deployer)
    model = get_model(session, name)
    dep = _deployment(session, model, lock=True)
    before = _public(name, dep)
    after = scaling.model_dump(mode="json")
    if before.custom and before.scaling == scaling:
        return before
    dep.scaling = after
    session.add(dep)
    changes.routing_changed(session)  # the reconciler and the local autoscaler act on it
    previous = before.scaling.model_dump(mode="json") if before.custom else None
    audit.model_change(session, principal.username, "scaling.set", name, previous, after, reason)
    session.flush()
    return _public(name, dep)


def scaling_by_model(session: Session) -> dict[str, ScalingSettings]:
    """Model name -> its own settings, for the models that have some (for the orchestrators;
    the others get the orchestrator's defaults)."""
    rows = session.exec(
        select(Model.name, Deployment.scaling)
        .join(Deployment, col(Deployment.model_id) == col(Model.id))
        .where(col(Deployment.scaling).is_not(None))
    ).all()
    return {name: ScalingSettings.model_validate(s) for name, s in rows if s is not None}


AUTOSCALER = "autoscaler"
DECISION = "scaling.replicas"


def local_targets(session: Session) -> dict[str, ScalingSettings]:
    """Every deployed model -> the settings in force (its own, else the defaults), for the
    local autoscaler: the local workers serve every deployed model."""
    rows = session.exec(
        select(Model.name, Deployment.scaling).join(
            Deployment, col(Deployment.model_id) == col(Model.id)
        )
    ).all()
    return {
        name: ScalingSettings.model_validate(s) if s is not None else ScalingSettings()
        for name, s in rows
    }


def record_changes(session: Session, changes: Sequence[ScaleChange]) -> None:
    """One audit event per model for a change of its replica count, with the policy's reason."""
    for c in changes:
        counts = ({"replicas": c.before}, {"replicas": c.after})
        audit.model_change(session, AUTOSCALER, DECISION, c.model, *counts, c.reason)
