"""How a state handler reaches the services: as the signed-in user, off the event loop, with a
failure turned into what the page shows (the sign-in page, or a sentence)."""

# Every call resolves the browser's session token again, in the same transaction as the work,
# so a revoked session or a lowered role takes effect on the very next click.

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import reflex as rx
from reflex.event import EventSpec
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from control_plane.composition import Platform
from control_plane.errors import PierError, Unauthenticated
from control_plane.schemas import Principal
from control_plane.services import web_sessions
from control_plane.ui import context

logger = logging.getLogger(__name__)

T = TypeVar("T")


def run_as(ctx: Platform, token: str, work: Callable[[Session, Principal], T]) -> T:
    """One unit of work on behalf of whoever holds `token` (raises Unauthenticated if nobody)."""
    with ctx.unit_of_work() as session:
        principal = web_sessions.principal(session, token)
        return work(session, principal)


def whoami(ctx: Platform, token: str) -> Principal | None:
    try:
        return run_as(ctx, token, lambda _s, p: p)
    except Unauthenticated:
        return None


def describe(error: BaseException, doing: str) -> str:
    """A sentence for the user; the details of anything unexpected go to the log only."""
    if isinstance(error, PierError):
        return error.message[:1].upper() + error.message[1:]
    if isinstance(error, SQLAlchemyError):
        logger.error("database error while %s: %s", doing, type(error).__name__)
        return f"The database did not answer while {doing}; try again in a moment."
    logger.error("unexpected error while %s", doing, exc_info=error)
    return f"Something went wrong while {doing}; the control-plane log has the details."


def sign_in_redirect(path: str) -> EventSpec:
    """To the sign-in page, which comes back to `path` afterwards."""
    return rx.redirect(f"/login?next={path}" if path not in ("/", "/login") else "/login")


@dataclass(frozen=True)
class Failure:
    """A call that did not work: the error, its sentence, and the redirect to the sign-in
    page when the session is gone (None otherwise)."""

    error: BaseException
    message: str
    redirect: EventSpec | None

    @property
    def effect(self) -> EventSpec:
        """What a handler sends back: the sign-in page, or the sentence as a toast."""
        return self.redirect or rx.toast.error(self.message)


@dataclass(frozen=True)
class Caller:
    """The signed-in user of one page: the session token, and the path to come back to."""

    token: str
    path: str

    async def attempt(self, pending: Awaitable[T], doing: str) -> T | Failure:
        """The result of `pending`, or the Failure it raised, described as `doing` failed."""
        try:
            return await pending
        except Exception as e:
            redirect = sign_in_redirect(self.path) if isinstance(e, Unauthenticated) else None
            return Failure(e, describe(e, doing), redirect)

    async def run(self, read: Callable[[Platform, str], T], doing: str) -> T | Failure:
        """`read(platform, token)` in a worker thread: for reads beyond one unit of work."""
        return await self.attempt(asyncio.to_thread(read, context.get(), self.token), doing)

    async def call(self, work: Callable[[Session, Principal], T], doing: str) -> T | Failure:
        """`work` in one unit of work as the signed-in user, in a worker thread."""
        return await self.run(lambda ctx, token: run_as(ctx, token, work), doing)
