"""create_api(platform): the REST API as a FastAPI app, mounted into Reflex or run alone."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from control_plane.api import (
    access_routes,
    canary_routes,
    deployment_routes,
    guards,
    monitoring_routes,
    scaling_routes,
    session_routes,
    version_routes,
)
from control_plane.composition import Platform
from control_plane.db.engine import is_unavailable, unavailable
from control_plane.errors import PierError, http_status
from control_plane.schemas import FieldProblem, explain_errors, sentences


async def _pier_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PierError)
    code = http_status(exc)
    headers = {"WWW-Authenticate": "Bearer"} if code == 401 else {}
    if exc.retry_after_s is not None:
        headers["Retry-After"] = str(exc.retry_after_s)
    return JSONResponse(
        {"error": {"type": exc.kind, "message": exc.message}}, status_code=code, headers=headers
    )


def _body_model(request: Request) -> type[BaseModel] | None:
    """The model the route reads its body into: where unknown keys find their suggestion."""
    field = getattr(request.scope.get("route"), "body_field", None)
    annotation = getattr(getattr(field, "field_info", None), "annotation", None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def request_problems(
    errors: Iterable[Mapping[str, Any]], body: type[BaseModel] | None
) -> list[FieldProblem]:
    """FastAPI's errors, located by field name: the body's fields, or the query, path or
    header parameter's name (its source word left out)."""
    problems: list[FieldProblem] = []
    for err in errors:
        source, *loc = tuple(err.get("loc") or ("body",))
        if err.get("type") == "json_invalid":
            loc = []
        problems += explain_errors(
            [{**err, "loc": tuple(loc)}],
            prefix="" if loc else str(source),
            model=body if source == "body" else None,
        )
    return problems


async def _invalid_input(request: Request, exc: Exception) -> JSONResponse:
    """422 with one sentence per problem: `detail` for people, `errors` beside each field,
    and the `error` object every other refusal of this API carries."""
    assert isinstance(exc, RequestValidationError)
    problems = request_problems(exc.errors(), _body_model(request))
    text = sentences(problems)
    return JSONResponse(
        {
            "detail": text,
            "errors": [asdict(p) for p in problems],
            "error": {"type": "invalid_request", "message": text},
        },
        status_code=422,
    )


async def _sql_error(request: Request, exc: Exception) -> JSONResponse:
    """A database error that escaped a unit of work: 503 when SQL is unreachable."""
    if not is_unavailable(exc):
        raise exc
    error = unavailable(exc)
    error.__cause__ = exc
    return await _pier_error(request, error)


def create_api(platform: Platform) -> FastAPI:
    """The routes over `platform`, whose metrics source starts now: inside Reflex this app's
    own lifespan never runs, and the charts need history from the moment it serves."""
    api = FastAPI(
        title="Pier control plane",
        version="0.1.0",
        description="Register, deploy and roll back PyTorch model versions.",
        docs_url="/api/v1/docs",
        openapi_url="/api/v1/openapi.json",
        redoc_url=None,
    )
    api.state.platform = platform
    api.add_exception_handler(PierError, _pier_error)
    api.add_exception_handler(RequestValidationError, _invalid_input)
    guards.install(api)
    api.add_exception_handler(DBAPIError, _sql_error)
    api.add_exception_handler(PoolTimeout, _sql_error)

    @api.get("/api/v1/health", tags=["system"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    for module in (
        version_routes,
        deployment_routes,
        access_routes,
        canary_routes,
        scaling_routes,
        monitoring_routes,
    ):
        api.include_router(module.router)
    api.include_router(session_routes.routes(platform.settings))
    platform.metrics().start()
    return api
