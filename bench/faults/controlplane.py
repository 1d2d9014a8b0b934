"""``python -m bench.faults.controlplane``: the control plane's REST API and its runtime (the
canary driver) in one process, as `pier up` runs them but without the dashboard, so a fault
case can kill it and start it again in about a second. Settings come from PIER_*."""

from __future__ import annotations

import logging

import uvicorn

from control_plane.api.app import create_api
from control_plane.composition import build_platform
from control_plane.runtime import Runtime
from control_plane.settings import PierSettings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = PierSettings()
    platform = build_platform(settings)
    runtime = Runtime(platform)
    api = create_api(platform)
    runtime.start()
    try:
        uvicorn.run(api, host="127.0.0.1", port=settings.port, log_level="warning")
    finally:
        runtime.stop()


if __name__ == "__main__":
    main()
