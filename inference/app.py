"""create_app(settings): the inference service as a FastAPI app, with no import-time state."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.telemetry import TelemetryConfig
from starlette.types import Receive, Scope, Send

from inference.dataplane import DataPlane
from inference.errors import InferenceError, is_v2_path, render
from inference.execution.admission import Admission, AdmissionStats, default_limit
from inference.execution.batch_rules import BatchPolicy
from inference.execution.cpu_load import CpuLoad
from inference.execution.malloc import keep_freed_memory
from inference.execution.model_threads import ModelThreads
from inference.feedback.ground_truth import GroundTruth
from inference.feedback.predictions import open_store
from inference.feedback.shadow import ShadowMirror
from inference.http import monitoring as monitoring_api
from inference.http import native as api
from inference.http import v2
from inference.http.auth import ApiKeyMiddleware
from inference.http.lane import PredictLane
from inference.http.limits import BodyLimitMiddleware
from inference.metrics.collectors import Metrics
from inference.models.cache import ArtifactStore
from inference.models.loaded import ModelRegistry
from inference.models.loader import configure_threads, describe_device, resolve_device
from inference.routing.poller import RoutingPoller
from inference.routing.wakeup import listen
from inference.settings import InferenceSettings
from inference.state import ServiceState

log = logging.getLogger(__name__)

NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


async def _error_handler(request: Request, error: Exception) -> Response:
    assert isinstance(error, InferenceError)
    status, body, headers = render(error, v2=is_v2_path(request.url.path))
    return Response(body, status_code=status, headers=headers)


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: ServiceState = app.state.pier
    configure_threads(state.settings.torch_threads)
    state.store.ensure_dirs()
    client: httpx.AsyncClient | None = None
    if not state.settings.standalone:
        # The token goes on every call: the routing poll and the artifact downloads.
        auth = {"Authorization": f"Bearer {state.settings.token}"} if state.settings.token else {}
        client = httpx.AsyncClient(
            base_url=state.settings.control_plane_url,
            timeout=httpx.Timeout(10.0, connect=2.0),
            headers=auth,
        )
        state.poller.use_client(client)
    tasks = [asyncio.create_task(state.poller.run(), name="pier-routing-poller")]
    if state.plane.mirror is not None:
        tasks.append(asyncio.create_task(state.plane.mirror.run(), name="pier-shadow"))
    await state.truth.store.start()
    if state.truth.spool is not None:
        tasks.append(
            asyncio.create_task(
                state.truth.spool.run(state.metrics.window, state.truth.book, interval_s=1.0),
                name="pier-worker-spool",
            )
        )
    if client is not None and state.settings.redis_url:
        tasks.append(
            asyncio.create_task(
                listen(state.settings.redis_url, state.settings.routing_channel, state.poller.wake),
                name="pier-routing-wakeup",
            )
        )
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if client is not None:
            await client.aclose()
        await state.truth.store.close()
        if state.truth.spool is not None:
            state.truth.spool.remove()
        state.metrics.worker_exited()
        state.plane.threads.close()


class InferenceApp(FastAPI):
    """FastAPI, with the prediction routes taken by the lane (inference/http/lane.py)
    before FastAPI's middleware and routing see them; every other request goes through."""

    def __init__(self, lane: PredictLane, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lane = lane

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = self.lane
        taken, route = lane.takes(scope)
        if taken:
            await lane(scope, receive, send, route)
            return
        await super().__call__(scope, receive, send)


def usable_cpus() -> int:
    """Cores this process may run on (taskset, cpusets), not the machine's: model calls at
    once beyond them only take turns on the same core, in batches too small to pay."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def warn_if_oversubscribed(settings: InferenceSettings) -> None:
    """Say so at start when the workers' model calls, each with its torch threads, need more
    cores than this process may use: torch's threads of one call wait for each other
    spinning, so on too few cores a call can take hundreds of times longer."""
    cores = usable_cpus()
    calls = settings.workers * (settings.model_threads or cores)
    if settings.torch_threads > 1 and calls * settings.torch_threads > cores:
        log.warning(
            "%d model calls at once x %d torch threads each need more than the %d cores "
            "this replica may use: torch's threads will wait for each other and calls may "
            "run many times slower; lower PIER_INFERENCE_TORCH_THREADS or "
            "PIER_INFERENCE_MODEL_THREADS",
            calls,
            settings.torch_threads,
            cores,
        )


def create_app(settings: InferenceSettings, clock: Callable[[], float] = time.time) -> InferenceApp:
    """A new, independent service: its own registry, metrics and poller.

    `clock` (unix seconds) stamps predictions and the metrics window; tests pass their own.
    """
    # A device torch cannot use stops the replica here, before it serves anything.
    device = resolve_device(settings.device)
    log.info("models run on %s", describe_device(device))
    if settings.keep_freed_memory and not keep_freed_memory():
        log.info("malloc left as it is: not glibc's (PIER_INFERENCE_KEEP_FREED_MEMORY)")
    warn_if_oversubscribed(settings)
    metrics = Metrics(settings.metrics_enabled, settings.multiproc_dir, clock)
    registry = ModelRegistry(metrics, device)
    store = ArtifactStore(settings.cache_dir)
    poller = RoutingPoller(settings, store, registry)
    plane = DataPlane(
        registry,
        metrics,
        max_rows=settings.max_rows_per_request,
        rng=random.Random(),
        threads=ModelThreads(settings.model_threads or usable_cpus()),
        batching=BatchPolicy(
            settings.max_batch_rows,
            settings.max_batch_wait_ms / 1000,
            timeout_s=settings.request_timeout_s,
            adaptive=settings.adaptive_batch_rows,
        ),
        request_timeout_s=settings.request_timeout_s,
        cpu=CpuLoad(usable_cpus() / settings.workers),
    )
    truth = GroundTruth(
        open_store(settings.redis_url, settings.prediction_ttl_s, settings.prediction_store_rows),
        metrics,
        clock,
        settings.multiproc_dir,
    )
    plane.mirror = ShadowMirror(
        registry,
        metrics,
        truth,
        random.Random(),
        capacity=settings.shadow_queue,
        concurrency=settings.shadow_concurrency,
    )
    state = ServiceState(
        settings=settings,
        store=store,
        metrics=metrics,
        registry=registry,
        poller=poller,
        plane=plane,
        truth=truth,
    )
    keys = settings.api_key_set()
    # The prediction routes: admission first (an overloaded worker refuses before anything
    # else runs), then API keys and the body limit, as the middleware does for other routes.
    admission = AdmissionStats()
    limit = settings.max_in_flight or default_limit(usable_cpus(), settings.max_batch_rows)
    lane = PredictLane(
        state,
        Admission(
            limit,
            admission,
            on_refuse=metrics.count_refused,
            max_queue_s=settings.max_queue_s,
            floor=2 * usable_cpus(),
        ),
        keys=keys,
        max_body_bytes=settings.max_body_bytes,
    )
    app = InferenceApp(
        lane,
        title="Pier inference",
        version="0.1.0",
        lifespan=_lifespan,
        # FastAPI's native OpenTelemetry asks the global providers on every request whether
        # one is configured: a share of a small model's request. Pier's metrics are Prometheus'.
        telemetry=NO_TELEMETRY,
    )
    app.state.pier = state
    app.state.admission = admission
    app.add_exception_handler(InferenceError, _error_handler)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if keys:
        app.add_middleware(ApiKeyMiddleware, keys=keys)
    app.include_router(api.router)
    app.include_router(monitoring_api.router)
    app.include_router(v2.router)
    return app


__all__ = ["InferenceApp", "create_app"]
