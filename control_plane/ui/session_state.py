"""Who is using the dashboard: sign in, sign out, and the role every page reads."""

# The browser keeps the session token's secret in a cookie that the API sets and scripts
# cannot read (HttpOnly, SameSite=Strict; api/session_routes.py). The sign-in form posts to
# `/api/v1/session` and then loads the next page; the websocket that page opens carries the
# cookie, and every handler reads it from there and resolves it again on the server, so the
# displayed role is a convenience for disabling buttons, never what grants a change.

from __future__ import annotations

import asyncio
from http.cookies import CookieError, SimpleCookie
from typing import Any

import reflex as rx

from control_plane.schemas import Principal, Role
from control_plane.ui import calls, context

COOKIE = "pier_session"

# Runs in the page: post the form's fields as JSON (a cross-site form cannot), then load
# the next page (same-site paths only) so its websocket carries the new cookie. The result
# is an error sentence for the form, or "" while the browser moves on.
SIGN_IN_JS = r"""
(async () => {
  const field = (id) => document.getElementById(id).value;
  try {
    const r = await fetch("/api/v1/session", {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({username: field("username"), password: field("password")}),
    });
    if (r.ok) {
      const next = new URLSearchParams(window.location.search).get("next") || "/";
      const safe = next.startsWith("/") && !next.startsWith("//") && !next.includes("\\");
      window.location.assign(safe ? next : "/");
      return "";
    }
    const body = await r.json().catch(() => ({}));
    return (body.error && body.error.message) || ("signing in failed: HTTP " + r.status);
  } catch (e) {
    return "the control plane did not answer: " + e;
  }
})()
"""

SIGN_OUT_JS = """
fetch("/api/v1/session", {method: "DELETE", credentials: "same-origin"})
  .finally(() => window.location.assign("/login"))
"""


def safe_next(target: str) -> str:
    """Only paths of this site: never an open redirect to another origin."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def cookie_value(header: str, name: str = COOKIE) -> str:
    """One cookie's value from a Cookie header; "" when absent or unreadable."""
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return ""
    morsel = jar.get(name)
    return morsel.value if morsel is not None else ""


class SessionState(rx.State):
    username: str = ""
    role: str = ""
    sign_in_error: str = ""
    signing_in: bool = False

    @property
    def session_token(self) -> str:
        """The session secret, from the cookie the websocket was opened with."""
        return cookie_value(self.router.headers.cookie)

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
        return calls.sign_in_redirect(self.router.url.path or "/")

    def _caller(self) -> calls.Caller:
        """Who calls the services from this page; read it inside `async with self`."""
        return calls.Caller(self.session_token, self.router.url.path or "/")

    async def _principal(self) -> Principal | None:
        """Resolve the session on the server; remember who it is for the navigation bar."""
        principal = await asyncio.to_thread(calls.whoami, context.get(), self.session_token)
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
    def sign_in_result(self, message: str) -> None:
        """What the sign-in script reported: an error sentence, or "" when signed in."""
        self.sign_in_error = message[:1].upper() + message[1:]
        self.signing_in = False

    @rx.event
    def sign_out(self) -> Any:
        """The API ends the session and clears its cookie; then back to the sign-in page."""
        self._remember(None)
        return rx.call_script(SIGN_OUT_JS)

    @rx.event
    async def already_signed_in(self) -> Any:
        """The sign-in page sends a signed-in user on to where they were going, and starts
        without the last attempt's error."""
        self.sign_in_error = ""
        if self.session_token and await self._principal() is not None:
            return rx.redirect(safe_next(self.router.url.query_parameters.get("next", "/")))
        return None
