"""One rule for every client that changes routing: replicas hear of it once it is committed."""

from __future__ import annotations

from sqlmodel import Session

from control_plane.db import after_commit
from control_plane.events import RoutingAnnouncer


def announce_on_commit(session: Session, announcer: RoutingAnnouncer) -> None:
    """Wake the replicas (Redis) and in-process listeners (the Kubernetes reconciler) once
    this unit of work commits; never if it rolls back."""
    after_commit(session, announcer.routing_changed)
