"""Dashboard sign-in: a short-lived API token per browser session, so expiry, revocation
and the user's current role apply to it as to any token, on every use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from control_plane.errors import Unauthenticated
from control_plane.schemas import Principal, Role
from control_plane.services import auth
from control_plane.services.login_throttle import LoginThrottle

SESSION_TOKEN_NAME = "web-session"
SESSION_TTL = timedelta(hours=8)


@dataclass(frozen=True)
class WebSession:
    secret: str
    principal: Principal
    expires_at: datetime


def sign_in(
    session: Session,
    username: str,
    password: str,
    now: datetime,
    ttl: timedelta = SESSION_TTL,
    throttle: LoginThrottle | None = None,
    client: str = "",
) -> WebSession:
    """Check the password and open a session; 401 with one message for any wrong detail,
    429 once `throttle` has seen too many failures for this username from this client."""
    if not username.strip() or not password:
        raise Unauthenticated("enter a username and a password")
    key = LoginThrottle.key(username, client)
    if throttle is not None:
        throttle.check(key, now)
    try:
        user = auth.authenticate_password(session, username.strip(), password)
    except Unauthenticated:
        if throttle is not None:
            throttle.failed(key, now)
        raise
    if throttle is not None:
        throttle.succeeded(key)
    role = Role(user.role)
    expires_at = now + ttl
    # Audited as a sign-in: the session's token is how it works, not a token someone made.
    issued = auth.create_token(
        session,
        user,
        SESSION_TOKEN_NAME,
        role,
        actor=user.username,
        expires_at=expires_at,
        action="user.sign_in",
    )
    principal = Principal(username=user.username, role=role, token_name=SESSION_TOKEN_NAME)
    return WebSession(secret=issued.secret, principal=principal, expires_at=expires_at)


def principal(session: Session, secret: str) -> Principal:
    """Who this browser is now; 401 when it is signed out, expired or revoked."""
    if not secret:
        raise Unauthenticated("sign in to continue")
    return auth.principal_for_token(session, secret)


def sign_out(session: Session, secret: str) -> None:
    """Revoke the session's token; signing out twice, or after expiry, is not an error."""
    token_id = auth.token_id_for_secret(session, secret) if secret else None
    if token_id is None:
        return
    try:
        actor = auth.principal_for_token(session, secret).username
    except Unauthenticated:
        return  # already expired or revoked: nothing left to end
    auth.revoke_token(session, token_id, actor)
