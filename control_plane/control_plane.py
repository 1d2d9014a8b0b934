"""The Reflex app: builds the settings once, registers the pages, mounts the REST API.

The FastAPI app from `create_api` becomes the outer ASGI app with Reflex mounted
inside it, so its own lifespan never runs: it must be ready when `create_api` returns.
"""

import reflex as rx

from control_plane.api.app import create_api
from control_plane.settings import PierSettings
from control_plane.ui import context
from control_plane.ui.pages import index

settings = PierSettings()
context.bind(settings)

app = rx.App(api_transformer=create_api(settings))
index.register(app)
