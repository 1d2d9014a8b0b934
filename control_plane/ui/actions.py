"""How a state handler reaches the services: as the signed-in user, with errors in words.

Every call resolves the browser's session token again, in the same transaction as the work,
so a revoked session or a lowered role takes effect on the very next click.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from control_plane.db.engine import session_scope
from control_plane.errors import PierError, Unauthenticated
from control_plane.schemas import Principal
from control_plane.services import web_sessions
from control_plane.ui.context import UiContext

logger = logging.getLogger(__name__)

T = TypeVar("T")


def run_as(ctx: UiContext, token: str, work: Callable[[Session, Principal], T]) -> T:
    """One unit of work on behalf of whoever holds `token` (raises Unauthenticated if nobody)."""
    with session_scope(ctx.settings) as session:
        principal = web_sessions.principal(session, token)
        return work(session, principal)


def whoami(ctx: UiContext, token: str) -> Principal | None:
    try:
        return run_as(ctx, token, lambda _s, p: p)
    except Unauthenticated:
        return None


def signed_out(error: BaseException) -> bool:
    return isinstance(error, Unauthenticated)


def describe(error: BaseException, doing: str) -> str:
    """A sentence for the user; the details of anything unexpected go to the log only."""
    if isinstance(error, PierError):
        return error.message[:1].upper() + error.message[1:]
    if isinstance(error, SQLAlchemyError):
        logger.error("database error while %s: %s", doing, type(error).__name__)
        return f"The database did not answer while {doing}; try again in a moment."
    logger.error("unexpected error while %s", doing, exc_info=error)
    return f"Something went wrong while {doing}; the control-plane log has the details."
