"""`/api/v1/session`: the dashboard's sign-in and sign-out, answered with an HttpOnly,
SameSite=Strict cookie, rate-limited and refused to other origins (docs/security.md)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from control_plane.api.clients import client_address, throttle_key
from control_plane.api.deps import SessionDep, SettingsDep
from control_plane.errors import Forbidden
from control_plane.schemas import Role
from control_plane.services import web_sessions
from control_plane.services.login_throttle import login_throttle
from control_plane.settings import PierSettings

COOKIE = "pier_session"


class SignIn(BaseModel):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


class SessionPublic(BaseModel):
    username: str
    role: Role
    expires_at: datetime


def _over_tls(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def check_origin(request: Request, settings: PierSettings) -> None:
    """A browser names the page that sent the request; only the dashboard may sign in or
    out. Clients that are not browsers send no Origin and are not at risk of CSRF."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    own = {
        settings.public_url.rstrip("/"),
        f"{request.url.scheme}://{request.headers.get('host', '')}",
        f"https://{request.headers.get('host', '')}",
    }
    if origin.rstrip("/") not in own:
        raise Forbidden(f"requests from {origin[:100]} may not sign in here")


def routes(settings: PierSettings) -> APIRouter:
    """A router with its own throttle: in this process (one per app, so tests do not share),
    or in Redis when it is configured, shared by every control-plane replica."""
    router = APIRouter(prefix="/api/v1", tags=["session"])
    throttle = login_throttle(settings.redis_url)
    trusted = settings.trusted_networks

    @router.post("/session")
    def sign_in(
        body: SignIn,
        request: Request,
        response: Response,
        session: SessionDep,
        settings: SettingsDep,
    ) -> SessionPublic:
        """Check a username and password; answer with the session cookie (HttpOnly)."""
        check_origin(request, settings)
        now = datetime.now(UTC)
        peer = request.client.host if request.client else ""
        client = throttle_key(client_address(peer, request.headers.get("x-forwarded-for"), trusted))
        opened = web_sessions.sign_in(
            session, body.username, body.password, now, throttle=throttle, client=client
        )
        response.set_cookie(
            COOKIE,
            opened.secret,
            max_age=int(web_sessions.SESSION_TTL.total_seconds()),
            path="/",
            httponly=True,
            samesite="strict",
            secure=_over_tls(request),
        )
        response.headers["Cache-Control"] = "no-store"
        return SessionPublic(
            username=opened.principal.username,
            role=opened.principal.role,
            expires_at=opened.expires_at,
        )

    @router.delete("/session", status_code=204)
    def sign_out(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
        """End the session of the cookie sent (if any) and clear the cookie."""
        check_origin(request, settings)
        secret = request.cookies.get(COOKIE, "")
        if secret:
            web_sessions.sign_out(session, secret)
        response = Response(status_code=204)
        response.delete_cookie(
            COOKIE, path="/", httponly=True, samesite="strict", secure=_over_tls(request)
        )
        return response

    return router
