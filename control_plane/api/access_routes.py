"""REST routes for users, API tokens and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from control_plane.api.deps import Admin, SessionDep, Viewer
from control_plane.schemas import (
    AuditEventPublic,
    TokenCreate,
    TokenIssued,
    TokenPublic,
    UserCreate,
    UserPublic,
)
from control_plane.services import audit, auth

router = APIRouter(prefix="/api/v1")


@router.get("/audit", tags=["audit"])
def list_audit(
    session: SessionDep,
    _: Viewer,
    model: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: int | None = None,
) -> list[AuditEventPublic]:
    return audit.list_events(
        session, model=model, actor=actor, action=action, limit=limit, before_id=before_id
    )


@router.get("/tokens", tags=["access"])
def list_tokens(session: SessionDep, _: Admin) -> list[TokenPublic]:
    return auth.list_tokens(session)


@router.post("/tokens", tags=["access"], status_code=status.HTTP_201_CREATED)
def create_token(body: TokenCreate, session: SessionDep, principal: Admin) -> TokenIssued:
    """Issue a token; its secret is in this answer and nowhere else."""
    return auth.issue_token(session, principal, body)


@router.delete("/tokens/{token_id}", tags=["access"], status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: int, session: SessionDep, principal: Admin) -> None:
    auth.revoke_token(session, token_id, principal.username)


@router.post("/users", tags=["access"], status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, session: SessionDep, principal: Admin) -> UserPublic:
    return auth.add_user(session, principal, body)
