"""FastAPI dependencies: settings, a database session per request, the calling principal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from control_plane.announcer import RoutingAnnouncer
from control_plane.artifacts import ArtifactChecker, ArtifactStore
from control_plane.db.engine import session_scope
from control_plane.errors import Unauthenticated
from control_plane.schemas import Principal, Role
from control_plane.services import auth
from control_plane.services.replicas import ReplicaBook
from control_plane.settings import PierSettings


def get_settings(request: Request) -> PierSettings:
    settings: PierSettings = request.app.state.settings
    return settings


def get_session(settings: Annotated[PierSettings, Depends(get_settings)]) -> Iterator[Session]:
    with session_scope(settings) as session:
        yield session


def get_store(request: Request) -> ArtifactStore:
    store: ArtifactStore = request.app.state.store
    return store


def get_checker(request: Request) -> ArtifactChecker:
    checker: ArtifactChecker = request.app.state.checker
    return checker


def get_replicas(request: Request) -> ReplicaBook:
    book: ReplicaBook = request.app.state.replicas
    return book


def get_announcer(request: Request) -> RoutingAnnouncer:
    announcer: RoutingAnnouncer = request.app.state.announcer
    return announcer


SettingsDep = Annotated[PierSettings, Depends(get_settings)]
# scope="function": commit before the response is sent, so a client that got 200 reads its write.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
StoreDep = Annotated[ArtifactStore, Depends(get_store)]
CheckerDep = Annotated[ArtifactChecker, Depends(get_checker)]
ReplicasDep = Annotated[ReplicaBook, Depends(get_replicas)]
AnnouncerDep = Annotated[RoutingAnnouncer, Depends(get_announcer)]

_bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer pier_…`")


def get_principal(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthenticated("missing API token: send 'Authorization: Bearer <token>'")
    return auth.principal_for_token(session, credentials.credentials)


def _needs(role: Role):  # type: ignore[no-untyped-def]
    def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        auth.require(principal, role)
        return principal

    return check


Viewer = Annotated[Principal, Depends(_needs(Role.viewer))]
Deployer = Annotated[Principal, Depends(_needs(Role.deployer))]
Admin = Annotated[Principal, Depends(_needs(Role.admin))]
