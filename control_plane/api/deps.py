"""FastAPI dependencies: the platform, a unit of work per request, the calling principal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from control_plane.composition import Platform
from control_plane.errors import Unauthenticated
from control_plane.schemas import Principal, Role
from control_plane.services import auth
from control_plane.settings import PierSettings


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def get_settings(platform: PlatformDep) -> PierSettings:
    return platform.settings


def get_session(platform: PlatformDep) -> Iterator[Session]:
    with platform.unit_of_work() as session:
        yield session


SettingsDep = Annotated[PierSettings, Depends(get_settings)]
# scope="function": commit before the response is sent, so a client that got 200 reads its write.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

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
