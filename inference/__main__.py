"""``python -m inference``: serve on the configured host and port with
``PIER_INFERENCE_WORKERS`` worker processes (1 by default) under the HTTP server
``PIER_INFERENCE_SERVER`` names (see settings.py)."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from inference.settings import METRICS_STARTED_FILE, InferenceSettings

log = logging.getLogger("inference")
APP = "inference.__main__:app"
# uvicorn's protocol with the prediction lane. Named, not imported: uvicorn imports it in
# each worker, after PROMETHEUS_MULTIPROC_DIR is set (see app()).
PROTOCOL = "inference.http.protocol:LaneProtocol"
# How uvicorn serves the app, here and in the tests that serve it in-process.
UVICORN_OPTIONS: dict[str, Any] = {
    # httptools (a dependency) parses HTTP; the loop stays asyncio's (see pyproject.toml).
    "http": PROTOCOL,
    "loop": "asyncio",
    # One log line per request costs more than a small model's call; requests are counted
    # in the metrics instead.
    "access_log": False,
    # The client's address is never read, so X-Forwarded-For need not be; without this
    # wrapper around the app, the protocol also finds the lane on the app itself.
    "proxy_headers": False,
}


def app() -> FastAPI:
    """The factory each worker process calls. The app's modules are imported here: their
    prometheus_client picks its multiprocess mode at first import, which must follow
    PROMETHEUS_MULTIPROC_DIR, also in the workers granian forks from this process."""
    from inference.app import create_app

    return create_app(InferenceSettings())


def prepare_multiproc_dir(settings: InferenceSettings) -> Path:
    """Several workers share Prometheus figures through one directory that must exist and
    hold nothing from an earlier run. prometheus_client reads its variable at import, in
    each worker, so it is set here, before the workers start."""
    directory = settings.multiproc_dir or Path(tempfile.mkdtemp(prefix="pier-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in [*directory.glob("*.db"), *directory.glob("pier_worker_*")]:
        stale.unlink(missing_ok=True)
    (directory / METRICS_STARTED_FILE).write_text(repr(time.time()))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return directory


def main() -> None:
    settings = InferenceSettings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # httpx logs every call at INFO: two routing polls a second would fill the log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if settings.listen_fd is not None:
        from inference.http import shared_port  # only a pool worker needs it

        if settings.workers > 1:
            log.warning("a worker of the local pool is one process: PIER_INFERENCE_WORKERS ignored")
        config = uvicorn.Config(
            APP, factory=True, host=settings.host, port=settings.port, **UVICORN_OPTIONS
        )
        shared_port.serve(config, settings.listen_fd)
        return
    if settings.workers > 1:
        log.info(
            "%d workers share metrics through %s", settings.workers, prepare_multiproc_dir(settings)
        )
    if settings.server == "granian":
        serve_granian(settings)
        return
    uvicorn.run(
        APP,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="info",
        **UVICORN_OPTIONS,
    )


def serve_granian(settings: InferenceSettings) -> None:
    # Imported here: only this choice needs it.
    from granian.constants import Interfaces
    from granian.server import Server

    Server(
        APP,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        factory=True,
        log_access=False,
    ).serve()


if __name__ == "__main__":
    main()
