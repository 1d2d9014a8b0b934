"""create_api(settings): the REST API as a FastAPI app, mounted into Reflex or run alone."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from control_plane.api import canary_routes, experiment_routes, monitoring_routes, scaling_routes
from control_plane.api.routes import router
from control_plane.artifacts import ArtifactChecker, ArtifactStore
from control_plane.errors import PierError, http_status
from control_plane.events import RoutingAnnouncer
from control_plane.schemas import RolloutStatus
from control_plane.services.replicas import ReplicaBook
from control_plane.settings import PierSettings


async def _pier_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PierError)
    code = http_status(exc)
    headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
    return JSONResponse(
        {"error": {"type": exc.kind, "message": exc.message}}, status_code=code, headers=headers
    )


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
    api.include_router(router)
    api.include_router(canary_routes.router)
    api.include_router(scaling_routes.router)
    api.include_router(experiment_routes.router)
    api.include_router(monitoring_routes.routes(settings, api.state.replicas))
    return api
