"""Which origins may open the dashboard's websocket: the configured ones, and the origin of
the host the browser asked for (Socket.IO's own default check), so an Ingress or a
LoadBalancer under another name works while another site's page is refused."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import reflex as rx


def origin_check(configured: Sequence[str]) -> Callable[[str | None, Mapping[str, Any]], bool]:
    known = {o.rstrip("/") for o in configured}

    def allowed(origin: str | None, environ: Mapping[str, Any]) -> bool:
        if not origin:
            return False
        if origin.rstrip("/") in known:
            return True
        host = str(environ.get("HTTP_HOST", "")).lower()
        return bool(host) and urlsplit(origin).netloc.lower() == host

    return allowed


def allow_same_origin(app: rx.App, configured: Sequence[str]) -> None:
    """Install the check on the app's Socket.IO server (Reflex takes only a list)."""
    assert app.sio is not None, "the app's state, and with it its socket, is set up"
    app.sio.eio.cors_allowed_origins = origin_check(configured)
