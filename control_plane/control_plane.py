"""The Reflex app: builds the platform once, registers the pages, mounts the REST API, and
runs the runtime's loops in the serving worker's lifespan."""

import contextlib
import os
from collections.abc import AsyncIterator

import reflex as rx

from control_plane.api.app import create_api
from control_plane.composition import build_platform
from control_plane.runtime import Runtime
from control_plane.settings import PierSettings
from control_plane.ui import context
from control_plane.ui.origins import allow_same_origin
from control_plane.ui.pages import activity, index, login, model, settings, upload

platform = build_platform(PierSettings())
runtime = Runtime(platform)
context.bind(platform)

app = rx.App(api_transformer=create_api(platform))
for pages in (login, index, model, upload, activity, settings):
    pages.register(app)
allow_same_origin(app, rx.config.get_config().cors_allowed_origins)


@contextlib.asynccontextmanager
async def _background() -> AsyncIterator[None]:
    runtime.start()
    try:
        yield
    finally:
        runtime.stop()


app.register_lifespan_task(_background)

# `reflex run --env prod` imports this module in a supervisor, then forks the worker that
# serves. The metrics source's scraper thread does not survive the fork: the worker drops
# the source and opens its own on first use.
os.register_at_fork(after_in_child=platform.close_metrics)
