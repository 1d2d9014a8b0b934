"""create_api(settings): the REST API as a FastAPI app, mounted into Reflex or run alone."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from control_plane.announcer import RoutingAnnouncer
from control_plane.api import (
    canary_routes,
    experiment_routes,
    guards,
    monitoring_routes,
    scaling_routes,
    session_routes,
)
from control_plane.api.routes import router
from control_plane.artifacts import ArtifactChecker, ArtifactStore
from control_plane.db.engine import is_unavailable, unavailable
from control_plane.errors import PierError, http_status
from control_plane.schemas import RolloutStatus
from control_plane.services.replicas import ReplicaBook
from control_plane.settings import PierSettings


async def _pier_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PierError)
    code = http_status(exc)
    headers = {"WWW-Authenticate": "Bearer"} if code == 401 else {}
    if exc.retry_after_s is not None:
        headers["Retry-After"] = str(exc.retry_after_s)
    return JSONResponse(
        {"error": {"type": exc.kind, "message": exc.message}}, status_code=code, headers=headers
    )


async def _sql_error(request: Request, exc: Exception) -> JSONResponse:
    """A database error that escaped a unit of work: 503 when SQL is unreachable."""
    if not is_unavailable(exc):
        raise exc
    error = unavailable(exc)
    error.__cause__ = exc
    return await _pier_error(request, error)


def create_api(
    settings: PierSettings,
    replicas: ReplicaBook | None = None,
    announcer: RoutingAnnouncer | None = None,
    rollouts: Callable[[], list[RolloutStatus]] | None = None,
) -> FastAPI:
    """`replicas` and `announcer`: pass the ones the dashboard and the runtime use, so all
    see the same replica reports and every routing change wakes the same listeners."""
    api = FastAPI(
        title="Pier control plane",
        version="0.1.0",
        description="Register, deploy and roll back PyTorch model versions.",
        docs_url="/api/v1/docs",
        openapi_url="/api/v1/openapi.json",
        redoc_url=None,
    )
    api.state.settings = settings
    api.state.store = ArtifactStore(settings.artifact_root)
    api.state.checker = ArtifactChecker(settings.check_python, settings.check_timeout_s)
    api.state.replicas = replicas if replicas is not None else ReplicaBook()
    api.state.announcer = announcer or RoutingAnnouncer(settings.redis_url)
    # On Kubernetes, the reconciler's view of each workload's rollout (for /status).
    api.state.rollouts = rollouts or list
    api.add_exception_handler(PierError, _pier_error)
    guards.install(api)
    api.add_exception_handler(DBAPIError, _sql_error)
    api.add_exception_handler(PoolTimeout, _sql_error)
    api.include_router(router)
    api.include_router(session_routes.routes())
    api.include_router(canary_routes.router)
    api.include_router(scaling_routes.router)
    api.include_router(experiment_routes.router)
    api.include_router(monitoring_routes.routes(settings, api.state.replicas))
    return api
