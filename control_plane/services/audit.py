"""The audit log: every change of desired state, with who, when, before, after and why."""

from __future__ import annotations

from typing import Any, Literal

from sqlmodel import Session, col, select

from control_plane.db.tables import AuditEvent
from control_plane.schemas import AuditEventPublic


def record(
    session: Session,
    actor: str,
    action: str,
    target: str = "",
    model: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> AuditEvent:
    """Add an event to the caller's transaction, so it lands with the change or not at all."""
    event = AuditEvent(
        actor=actor,
        action=action,
        model=model,
        target=target,
        before=before,
        after=after,
        reason=reason,
    )
    session.add(event)
    return event


def model_change(
    session: Session,
    actor: str,
    action: str,
    model: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str = "",
) -> AuditEvent:
    """A change of one model's desired state (its traffic, shadows or scaling)."""
    return record(session, actor, action, model, model, before, after, reason)


def list_events(
    session: Session,
    *,
    model: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[AuditEventPublic]:
    """Newest first; `before_id` pages backwards."""
    query = select(AuditEvent)
    if model:
        query = query.where(AuditEvent.model == model)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if action:
        query = query.where(AuditEvent.action == action)
    if before_id is not None:
        query = query.where(col(AuditEvent.id) < before_id)
    query = query.order_by(col(AuditEvent.id).desc()).limit(limit)
    return [
        AuditEventPublic.model_validate(e, from_attributes=True) for e in session.exec(query).all()
    ]


def filter_choices(session: Session, column: Literal["actor", "action", "model"]) -> list[str]:
    """The distinct values of `actor`, `action` or `model` seen in the log, sorted."""
    field = col(getattr(AuditEvent, column))
    values: list[str | None] = list(session.exec(select(field).distinct()).all())
    return sorted(str(v) for v in values if v is not None)
