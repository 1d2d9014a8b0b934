"""Run a real app under uvicorn in a background thread, on a free port, for tests."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI

from inference.__main__ import UVICORN_OPTIONS

T = TypeVar("T")


class ServerThread:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets
        # whose proto says TCP; without it Nagle + delayed ACK add 40 ms per request.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # As `python -m inference` serves the app, so that every test of the service over
        # HTTP goes through the same protocol.
        config = uvicorn.Config(app, log_level="warning", lifespan="on", **UVICORN_OPTIONS)
        self._server = uvicorn.Server(config)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=f"uvicorn-{self.port}", daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._server.serve(sockets=[self._sock]))
        except BaseException as e:  # surfaced by start()/stop()
            self._error = e
        finally:
            self._loop.close()

    def start(self, timeout_s: float = 30.0) -> ServerThread:
        self._thread.start()
        wait_for(lambda: self._server.started or not self._thread.is_alive(), timeout_s)
        if not self._server.started:
            raise RuntimeError(f"server did not start: {self._error!r}")
        return self

    @property
    def connections(self) -> set[Any]:
        """The server's open connections: the protocol instance of each."""
        return self._server.server_state.connections

    def call(self, coro: Coroutine[Any, Any, T], timeout_s: float = 60.0) -> T:
        """Run a coroutine on the server's own event loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    def stop(self, timeout_s: float = 30.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout_s)
        self._sock.close()
        if self._error is not None:
            raise self._error

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for(predicate: Any, timeout_s: float = 30.0, interval_s: float = 0.01) -> None:
    """Poll ``predicate`` until it is true, failing after a deadline."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout_s} s")
        time.sleep(interval_s)
