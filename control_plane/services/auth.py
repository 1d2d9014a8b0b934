"""Users, API tokens and roles. Passwords are argon2 hashes; token secrets are sha256 hashes."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlmodel import Session, col, select

from control_plane.db.tables import ApiToken, User, utcnow
from control_plane.errors import Conflict, Forbidden, InvalidRequest, NotFound, Unauthenticated
from control_plane.schemas import (
    Principal,
    Role,
    TokenCreate,
    TokenIssued,
    TokenPublic,
    UserCreate,
    UserPublic,
)
from control_plane.services import audit

TOKEN_PREFIX = "pier_"
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def _token_hash(secret: str) -> str:
    # Token secrets carry 256 bits of randomness: a fast hash is enough, and lookups stay O(1).
    return hashlib.sha256(secret.encode()).hexdigest()


def create_user(session: Session, username: str, password: str, role: Role, actor: str) -> User:
    if session.exec(select(User).where(User.username == username)).first():
        raise Conflict(f"user {username!r} already exists")
    if len(password) < 12:
        raise InvalidRequest("a password needs at least 12 characters")
    user = User(username=username, password_hash=hash_password(password), role=role.value)
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.create",
        target=username,
        after={"username": username, "role": role.value},
    )
    return user


_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(18))


def authenticate_password(session: Session, username: str, password: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    # An unknown user costs the same argon2 verification: the answer's timing does not
    # tell which usernames exist.
    valid = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or user.disabled or not valid:
        raise Unauthenticated("wrong username or password")
    return user


@dataclass(frozen=True)
class IssuedToken:
    secret: str
    token: ApiToken


def _store_token(
    session: Session,
    user: User,
    name: str,
    role: Role,
    secret: str,
    actor: str,
    action: str,
    expires_at: datetime | None = None,
) -> ApiToken:
    """Keep the hash of `secret` as a token of `role` for `user`, audited as `action`."""
    if not Role(user.role).allows(role):
        raise Forbidden(f"user {user.username!r} is {user.role}; cannot hold a {role.value} token")
    assert user.id is not None
    token = ApiToken(
        name=name,
        user_id=user.id,
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        token_hash=_token_hash(secret),
        role=role.value,
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=action,
        target=f"{user.username}/{name}",
        after={"name": name, "role": role.value, "prefix": token.prefix},
    )
    return token


def create_token(
    session: Session,
    user: User,
    name: str,
    role: Role,
    actor: str,
    expires_at: datetime | None = None,
    action: str = "token.create",
) -> IssuedToken:
    """A new token, audited as `action`; its secret is returned here once and never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = _store_token(session, user, name, role, secret, actor, action, expires_at)
    return IssuedToken(secret, token)


def revoke_token(session: Session, token_id: int, actor: str) -> None:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no token with id {token_id}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
        audit.record(
            session,
            actor=actor,
            action="token.revoke",
            target=token.name,
            before={"prefix": token.prefix, "role": token.role},
        )


def token_id_for_secret(session: Session, secret: str) -> int | None:
    """The id of the token holding this secret, revoked or not; None when there is none."""
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == _token_hash(secret))).first()
    return token.id if token else None


def principal_for_token(session: Session, secret: str) -> Principal:
    """Who holds this secret; 401 when nobody, or the token is revoked or expired."""
    if not secret.startswith(TOKEN_PREFIX):
        raise Unauthenticated("invalid API token")
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == _token_hash(secret))).first()
    if token is None or token.revoked_at is not None:
        raise Unauthenticated("invalid or revoked API token")
    if token.expires_at is not None and token.expires_at <= utcnow():
        raise Unauthenticated("the API token has expired")
    user = session.get(User, token.user_id)
    if user is None or user.disabled:
        raise Unauthenticated("the token's user is disabled")
    # A token never grants more than its user has now.
    role = min(Role(token.role), Role(user.role), key=lambda r: r.rank)
    return Principal(username=user.username, role=role, token_name=token.name)


def require(principal: Principal, needed: Role) -> None:
    if not principal.role.allows(needed):
        raise Forbidden(
            f"{principal.username} has role {principal.role.value}; this needs {needed.value}"
        )


@dataclass(frozen=True)
class Credentials:
    url: str
    username: str
    password: str
    token: str


def bootstrap_admin(session: Session, credentials_path: Path, url: str) -> Credentials | None:
    """On the first start: an `admin` user with a random password and an admin token.

    They are written once to `credentials_path` (mode 0600). Returns None when an admin
    already exists (nothing is rewritten: the secrets were shown once).
    """
    if session.exec(select(User).where(User.role == Role.admin.value)).first():
        return None
    password = secrets.token_urlsafe(18)
    user = create_user(session, "admin", password, Role.admin, actor="system")
    issued = create_token(session, user, "admin-cli", Role.admin, actor="system")
    creds = Credentials(url=url, username="admin", password=password, token=issued.secret)
    write_secret_file(credentials_path, json.dumps(creds.__dict__, indent=2) + "\n")
    return creds


def write_secret_file(path: Path, text: str) -> None:
    """Create or replace a file readable by its owner only, never briefly world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def token_public(session: Session, token: ApiToken) -> TokenPublic:
    user = session.get(User, token.user_id)
    assert token.id is not None
    return TokenPublic(
        id=token.id,
        name=token.name,
        username=user.username if user else "?",
        prefix=token.prefix,
        role=Role(token.role),
        created_at=token.created_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
    )


def list_tokens(session: Session) -> list[TokenPublic]:
    return [
        token_public(session, t)
        for t in session.exec(select(ApiToken).order_by(col(ApiToken.id).desc())).all()
    ]


def issue_token(session: Session, principal: Principal, body: TokenCreate) -> TokenIssued:
    """Admin: a token for a user (default: the caller); the secret is in the answer only."""
    require(principal, Role.admin)
    username = body.username or principal.username
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"no user {username!r}")
    expires = utcnow() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    issued = create_token(session, user, body.name, body.role, principal.username, expires)
    return TokenIssued(**token_public(session, issued.token).model_dump(), secret=issued.secret)


def add_user(session: Session, principal: Principal, body: UserCreate) -> UserPublic:
    require(principal, Role.admin)
    user = create_user(session, body.username, body.password, body.role, principal.username)
    return UserPublic(
        username=user.username, role=Role(user.role), created_at=user.created_at, disabled=False
    )


def list_users(session: Session) -> list[UserPublic]:
    return [
        UserPublic(
            username=u.username, role=Role(u.role), created_at=u.created_at, disabled=u.disabled
        )
        for u in session.exec(select(User).order_by(User.username)).all()
    ]


def disable_user(session: Session, principal: Principal, username: str) -> UserPublic:
    """Admin: the user can no longer sign in, and every token of theirs stops working."""
    require(principal, Role.admin)
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"no user {username!r}")
    if user.username == principal.username:
        raise InvalidRequest("you cannot disable yourself; ask another admin")
    if not user.disabled:
        user.disabled = True
        session.add(user)
        audit.record(
            session,
            actor=principal.username,
            action="user.disable",
            target=username,
            before={"disabled": False},
            after={"disabled": True},
        )
    return UserPublic(
        username=user.username, role=Role(user.role), created_at=user.created_at, disabled=True
    )


def adopt_token(
    session: Session, user: User, name: str, role: Role, secret: str, actor: str
) -> ApiToken:
    """Register a secret generated elsewhere (a deployment's Secret) as a token."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) < len(TOKEN_PREFIX) + 32:
        raise InvalidRequest(f"a token must start with {TOKEN_PREFIX!r} and carry 32+ characters")
    return _store_token(session, user, name, role, secret, actor, "token.adopt")


def valid_token(session: Session, secret: str) -> bool:
    try:
        principal_for_token(session, secret)
        return True
    except Unauthenticated:
        return False


def admin_user(session: Session) -> User:
    """The first admin, who owns the tokens the platform's own parts use."""
    admin = session.exec(select(User).where(User.username == "admin")).first()
    if admin is None:
        raise NotFound("no user admin: the first start creates it before any token")
    return admin
