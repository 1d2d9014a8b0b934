"""The Reflex app: builds the settings once, registers the pages, mounts the REST API.

The FastAPI app from `create_api` becomes the outer ASGI app with Reflex mounted
inside it, so its own lifespan never runs: it must be ready when `create_api` returns.
The replica book and the routing announcer are shared: the API fills the book from the
replicas' routing polls and the dashboard reads it; a change made from either wakes the
same listeners (Redis, and the Kubernetes reconciler). The runtime (canary driver,
reconciler) starts in the serving worker's lifespan.
"""

import contextlib
import os
from collections.abc import AsyncIterator

import reflex as rx

from control_plane.api.app import create_api
from control_plane.runtime import Runtime
from control_plane.services import monitoring
from control_plane.services.replicas import ReplicaBook
from control_plane.settings import PierSettings
from control_plane.ui import context
from control_plane.ui.pages import activity, index, login, model, settings, upload

pier_settings = PierSettings()
replicas = ReplicaBook()
runtime = Runtime(pier_settings, replicas)
context.bind(pier_settings, replicas, runtime.announcer, runtime.rollouts)

app = rx.App(
    api_transformer=create_api(pier_settings, replicas, runtime.announcer, runtime.rollouts),
)
for pages in (login, index, model, upload, activity, settings):
    pages.register(app)


@contextlib.asynccontextmanager
async def _background() -> AsyncIterator[None]:
    runtime.start()
    try:
        yield
    finally:
        runtime.stop()


app.register_lifespan_task(_background)

# `reflex run --env prod` imports this module in a supervisor, then forks the worker that
# serves. Threads do not survive a fork: the metrics source started at import (its scraper
# thread) would look started in the worker and never scrape. The worker drops it and opens
# its own on first use.
os.register_at_fork(after_in_child=lambda: monitoring.close_source(replicas))
