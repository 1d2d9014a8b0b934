"""Who is using the dashboard: sign in, sign out, and the role every page reads.

The browser keeps only the session token's secret (a cookie, SameSite=Strict, that expires
with the session). Every handler resolves it again on the server, so the displayed role is
a convenience for disabling buttons, never what grants a change.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import reflex as rx

from control_plane.db import session_scope
from control_plane.schemas import Principal, Role
from control_plane.services import web_sessions
from control_plane.ui import actions, context

COOKIE = "pier_session"


def safe_next(target: str) -> str:
    """Only paths of this site: never an open redirect to another origin."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _sign_in(username: str, password: str) -> web_sessions.WebSession:
    with session_scope(context.settings()) as session:
        return web_sessions.sign_in(session, username, password, datetime.now(UTC))


def _sign_out(token: str) -> None:
    with session_scope(context.settings()) as session:
        web_sessions.sign_out(session, token)


class SessionState(rx.State):
    session_token: str = rx.Cookie(
        "",
        name=COOKIE,
        path="/",
        max_age=int(web_sessions.SESSION_TTL.total_seconds()),
        same_site="strict",
    )
    username: str = ""
    role: str = ""
    sign_in_error: str = ""
    signing_in: bool = False

    @rx.var
    def can_deploy(self) -> bool:
        return self.role in (Role.deployer.value, Role.admin.value)

    @rx.var
    def is_admin(self) -> bool:
        return self.role == Role.admin.value

    def _remember(self, principal: Principal | None) -> None:
        self.username = principal.username if principal else ""
        self.role = principal.role.value if principal else ""

    def _to_sign_in(self) -> Any:
        path = self.router.url.path or "/"
        return rx.redirect(f"/login?next={path}" if path not in ("/", "/login") else "/login")

    async def _principal(self) -> Principal | None:
        """Resolve the session on the server; remember who it is for the navigation bar."""
        principal = await asyncio.to_thread(actions.whoami, context.get(), self.session_token)
        self._remember(principal)
        return principal

    async def _gate(self) -> Any:
        """None when signed in; else the redirect to the sign-in page."""
        if await self._principal() is None:
            return self._to_sign_in()
        return None

    @rx.event
    async def require_sign_in(self) -> Any:
        return await self._gate()

    @rx.event
    async def sign_in(self, form: dict[str, Any]) -> Any:
        self.signing_in = True
        self.sign_in_error = ""
        yield
        try:
            opened = await asyncio.to_thread(
                _sign_in, str(form.get("username", "")), str(form.get("password", ""))
            )
        except Exception as e:  # every failure becomes a sentence on the form
            self.sign_in_error = actions.describe(e, "signing in")
            self.signing_in = False
            return
        self.session_token = opened.secret
        self._remember(opened.principal)
        self.signing_in = False
        yield rx.redirect(safe_next(self.router.url.query_parameters.get("next", "/")))

    @rx.event
    async def sign_out(self) -> Any:
        token, self.session_token = self.session_token, ""
        self._remember(None)
        if token:
            try:
                await asyncio.to_thread(_sign_out, token)
            except Exception as e:
                return rx.toast.error(actions.describe(e, "signing out"))
        return rx.redirect("/login")

    @rx.event
    async def already_signed_in(self) -> Any:
        """The sign-in page sends a signed-in user on to where they were going."""
        if self.session_token and await self._principal() is not None:
            return rx.redirect(safe_next(self.router.url.query_parameters.get("next", "/")))
        return None
