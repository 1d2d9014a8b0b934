"""Desired deployments: which versions of a model get which share of traffic, and rollback."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from control_plane.db.tables import Deployment, DeploymentRevision, Model, ModelVersion, utcnow
from control_plane.domain import slots, traffic
from control_plane.errors import Conflict, InvalidRequest, NotFound
from control_plane.schemas import (
    Batching,
    DeploymentPublic,
    Principal,
    Resources,
    Role,
    RouteModel,
    RouteVersion,
    RoutingTable,
    TensorSpec,
)
from control_plane.services import audit, changes
from control_plane.services.auth import require
from control_plane.services.registry import get_model, get_version_row


def validate_weights(weights: dict[str, int]) -> dict[str, int]:
    """Weights are whole percents summing to 100; versions with 0 % are dropped."""
    if not weights:
        raise InvalidRequest("weights must name at least one version, e.g. {'v1': 100}")
    for label, w in weights.items():
        if isinstance(w, bool) or not isinstance(w, int) or not 0 <= w <= 100:
            raise InvalidRequest(f"weight of {label!r} must be a whole percent 0-100, got {w!r}")
    total = sum(weights.values())
    if total != 100:
        raise InvalidRequest(f"weights must sum to 100, got {total} ({weights})")
    return {label: w for label, w in weights.items() if w > 0}


def validate_shadow(shadow: dict[str, int], weights: dict[str, int]) -> dict[str, int]:
    """Shadow percents are whole 0-100 per version; a live (weighted) version cannot also
    be a shadow; versions with 0 % are dropped."""
    for label, pct in shadow.items():
        if isinstance(pct, bool) or not isinstance(pct, int) or not 0 <= pct <= 100:
            raise InvalidRequest(
                f"shadow percent of {label!r} must be a whole percent 0-100, got {pct!r}"
            )
    live = sorted(label for label, pct in shadow.items() if pct > 0 and weights.get(label, 0) > 0)
    if live:
        raise InvalidRequest(
            f"{', '.join(live)} already receive live traffic ({weights}); a shadow version must "
            "be one that takes no weight"
        )
    return {label: pct for label, pct in shadow.items() if pct > 0}


def _history(session: Session, model_id: int) -> list[tuple[dict[str, int], str | None]]:
    """The model's recent splits and the actions that made them, oldest first."""
    revisions = session.exec(
        select(DeploymentRevision)
        .where(DeploymentRevision.model_id == model_id)
        .order_by(col(DeploymentRevision.id).desc())
        .limit(50)
    ).all()
    return [(dict(r.weights), r.action) for r in reversed(revisions)]


def _previous_weights(session: Session, model_id: int) -> dict[str, int] | None:
    """What a rollback returns to: the split before the last change not yet undone."""
    return traffic.rollback_target(_history(session, model_id))


def _kept_warm(session: Session, model_id: int, current: dict[str, int]) -> list[str]:
    """Versions replicas keep loaded beside the split: the rollback target's, and the last
    different split's (a rollback just undone, which a person may deploy again)."""
    history = _history(session, model_id)
    target = traffic.rollback_target(history) or {}
    last = next((w for w, _ in reversed(history) if w != current), {})
    return [*target, *(v for v in last if v not in target)]


def _public(session: Session, model: Model, dep: Deployment) -> DeploymentPublic:
    assert model.id is not None
    return DeploymentPublic(
        model=model.name,
        weights=dict(dep.weights),
        revision=dep.revision,
        updated_at=dep.updated_at,
        updated_by=dep.updated_by,
        previous=_previous_weights(session, model.id),
        shadow=dict(dep.shadow or {}),
    )


def get_deployment(session: Session, name: str) -> DeploymentPublic:
    model = get_model(session, name)
    dep = session.get(Deployment, model.id)
    if dep is None:
        raise NotFound(f"model {name!r} is not deployed; deploy a version first")
    return _public(session, model, dep)


def split_since(session: Session, name: str) -> tuple[int, datetime]:
    """The revision (id, time) from which the current split has held: shadow changes and
    re-applied equal splits do not end it."""
    model = get_model(session, name)
    revisions = session.exec(
        select(DeploymentRevision)
        .where(DeploymentRevision.model_id == model.id)
        .order_by(col(DeploymentRevision.id).desc())
        .limit(200)
    ).all()
    if not revisions:
        raise NotFound(f"model {name!r} is not deployed; deploy a version first")
    current = {v: w for v, w in revisions[0].weights.items() if w > 0}
    first = revisions[0]
    for r in revisions[1:]:
        if {v: w for v, w in r.weights.items() if w > 0} != current:
            break
        first = r
    assert first.id is not None
    return first.id, first.created_at


def is_deployed(session: Session, name: str) -> bool:
    return session.get(Deployment, get_model(session, name).id) is not None


def set_weights(
    session: Session,
    principal: Principal,
    name: str,
    weights: dict[str, int],
    *,
    reason: str = "",
    action: str = "deployment.set",
) -> DeploymentPublic:
    """Make `weights` the desired state of `name`; a no-op when they already are."""
    require(principal, Role.deployer)
    model = get_model(session, name)
    clean = validate_weights(weights)
    for label in clean:
        get_version_row(session, model, label)  # 404 naming the versions
    # Lock the row (PostgreSQL) so two concurrent changes serialise.
    dep = session.exec(
        select(Deployment).where(Deployment.model_id == model.id).with_for_update()
    ).first()
    before = dict(dep.weights) if dep else None
    if dep is not None and before == clean:
        return _public(session, model, dep)
    # A version that now takes live traffic stops being a shadow.
    shadow_before = dict(dep.shadow or {}) if dep else {}
    shadow = {label: pct for label, pct in shadow_before.items() if label not in clean}
    dep = _new_revision(session, principal, model, dep, clean, shadow, reason, action)
    before_state: dict[str, Any] | None = None
    after_state: dict[str, Any] = {"weights": clean}
    if before is not None:
        before_state = {"weights": before}
        if shadow != shadow_before:
            before_state["shadow"], after_state["shadow"] = shadow_before, shadow
    audit.model_change(session, principal.username, action, name, before_state, after_state, reason)
    session.flush()
    return _public(session, model, dep)


def _new_revision(
    session: Session,
    principal: Principal,
    model: Model,
    dep: Deployment | None,
    weights: dict[str, int],
    shadow: dict[str, int],
    reason: str,
    action: str,
) -> Deployment:
    """Record a new desired state (its id is the routing revision) and make it current."""
    assert model.id is not None
    changes.routing_changed(session)
    rev = DeploymentRevision(
        model_id=model.id,
        weights=weights,
        shadow=shadow or None,
        created_by=principal.username,
        reason=reason,
        action=action,
    )
    session.add(rev)
    session.flush()
    assert rev.id is not None
    table = slots.encode(slots.rebalance(_slot_table(dep), weights))
    runs = [[version, count] for version, count in table]
    if dep is None:
        dep = Deployment(
            model_id=model.id,
            weights=weights,
            shadow=shadow or None,
            slots=runs,
            revision=rev.id,
            updated_by=principal.username,
        )
    else:
        dep.weights = weights
        dep.shadow = shadow or None
        dep.slots = runs
        dep.revision = rev.id
        dep.updated_at = utcnow()
        dep.updated_by = principal.username
    session.add(dep)
    return dep


def _slot_table(dep: Deployment | None) -> list[str] | None:
    """The deployment's slot table; one built before tables were stored is the fresh table
    of its weights (what the routing table shipped for it)."""
    if dep is None:
        return None
    return slots.decode(dep.slots) if dep.slots else slots.fresh(dep.weights)


def set_shadow(
    session: Session,
    principal: Principal,
    name: str,
    shadow: dict[str, int],
    reason: str = "",
) -> DeploymentPublic:
    """Mirror the given percent of `name`'s requests to each shadow version ({}: none)."""
    require(principal, Role.deployer)
    model = get_model(session, name)
    dep = session.exec(
        select(Deployment).where(Deployment.model_id == model.id).with_for_update()
    ).first()
    if dep is None:
        raise NotFound(f"model {name!r} is not deployed; deploy a version before adding a shadow")
    clean = validate_shadow(shadow, dict(dep.weights))
    for label in clean:
        get_version_row(session, model, label)  # 404 naming the versions
    before = dict(dep.shadow or {})
    if before == clean:
        return _public(session, model, dep)
    dep = _new_revision(
        session, principal, model, dep, dict(dep.weights), clean, reason, "shadow.set"
    )
    changed = ({"shadow": before}, {"shadow": clean})
    audit.model_change(session, principal.username, "shadow.set", name, *changed, reason)
    session.flush()
    return _public(session, model, dep)


def deploy(
    session: Session, principal: Principal, name: str, version: str, *, reason: str = ""
) -> DeploymentPublic:
    """Send all traffic of `name` to `version`."""
    return set_weights(session, principal, name, {version: 100}, reason=reason, action="deploy")


def rollback(
    session: Session, principal: Principal, name: str, *, reason: str = ""
) -> DeploymentPublic:
    """Undo the last change of `name` still in force: a second rollback goes further back,
    never forward to the split the first one left."""
    require(principal, Role.deployer)
    current = get_deployment(session, name)
    if current.previous is None:
        raise Conflict(
            f"nothing to roll back to: {name!r} has had one deployment, or every later change "
            "has been rolled back already"
        )
    return set_weights(session, principal, name, current.previous, reason=reason, action="rollback")


def routing_table(session: Session) -> RoutingTable:
    """docs/contract.md: weighted versions, plus the previous ones kept warm for rollback."""
    revision = session.exec(select(func.max(DeploymentRevision.id))).one() or 0
    routes: list[RouteModel] = []
    rows = session.exec(
        select(Model, Deployment).join(Deployment, col(Deployment.model_id) == col(Model.id))
    ).all()
    for model, dep in sorted(rows, key=lambda r: r[0].name):
        assert model.id is not None
        labels = list(dep.weights)
        shadow = dict(dep.shadow or {})
        labels += [label for label in shadow if label not in labels]
        warm = _kept_warm(session, model.id, dict(dep.weights))
        labels += [label for label in warm if label not in labels]
        versions = session.exec(
            select(ModelVersion).where(
                ModelVersion.model_id == model.id, col(ModelVersion.label).in_(labels)
            )
        ).all()
        by_label = {v.label: v for v in versions}
        routes.append(
            RouteModel(
                name=model.name,
                weights=dict(dep.weights),
                versions=[
                    RouteVersion(
                        version=label,
                        sha256=by_label[label].sha256,
                        size=by_label[label].size,
                        format=by_label[label].format,
                        inputs=[TensorSpec.model_validate(s) for s in by_label[label].inputs],
                        outputs=[TensorSpec.model_validate(s) for s in by_label[label].outputs],
                        batching=Batching.model_validate(by_label[label].batching or {}),
                    )
                    for label in labels
                    if label in by_label
                ],
                shadow={label: pct for label, pct in shadow.items() if label in by_label},
                slots=slots.encode(_slot_table(dep) or []),
            )
        )
    return RoutingTable(revision=revision, models=routes)


def routed_resources(session: Session, table: RoutingTable) -> dict[str, dict[str, Resources]]:
    """model -> version -> the resources its pier.yaml asked for, for every routed version."""
    out: dict[str, dict[str, Resources]] = {}
    for route in table.models:
        model = get_model(session, route.name)
        labels = [v.version for v in route.versions]
        rows = session.exec(
            select(ModelVersion).where(
                ModelVersion.model_id == model.id, col(ModelVersion.label).in_(labels)
            )
        ).all()
        out[route.name] = {v.label: Resources.model_validate(v.resources) for v in rows}
    return out
