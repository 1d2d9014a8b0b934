"""What a unit of work changed that replicas and orchestrators act on.

A use case marks its session; the unit of work announces the change once it commits.
"""

from __future__ import annotations

from sqlmodel import Session

_ROUTING = "pier_routing_changed"


def routing_changed(session: Session) -> None:
    """Mark this unit of work as one that changes routing, shadows or scaling."""
    session.info[_ROUTING] = True


def routing_pending(session: Session) -> bool:
    return bool(session.info.get(_ROUTING))
