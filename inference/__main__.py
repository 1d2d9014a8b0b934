"""``python -m inference``: serve on the configured host and port, one worker."""

from __future__ import annotations

import logging

import uvicorn

from inference.main import create_app
from inference.settings import InferenceSettings


def main() -> None:
    settings = InferenceSettings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        workers=1,
        loop="asyncio",
        log_level="info",
    )


if __name__ == "__main__":
    main()
