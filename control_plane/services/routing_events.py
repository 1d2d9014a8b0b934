"""One rule for every client that changes routing: replicas hear of it once it is committed."""

from __future__ import annotations

from sqlmodel import Session

from control_plane.announcer import RoutingAnnouncer
from control_plane.db.engine import after_commit


def announce_on_commit(session: Session, announcer: RoutingAnnouncer) -> None:
    """Wake the replicas (Redis) and in-process listeners (the Kubernetes reconciler) once
    this unit of work commits; never if it rolls back."""
    after_commit(session, announcer.routing_changed)
