"""A worker of the local pool: it serves the public port's listening socket, which the pool
holds and hands down, beside a private port of its own, and obeys the pool's lines on stdin
(`docs/architecture.md`, "The local pool")."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from types import FrameType
from typing import Any

import uvicorn

log = logging.getLogger(__name__)

# A connection told to close waits this long for its next request, to answer it with
# `connection: close`; one that sends none is closed, as a keep-alive timeout would.
IDLE_GRACE_S = 1.0
CHECK_EVERY_S = 0.05
DRAIN_LIMIT_S = 30.0
# With other workers serving, every worker is woken by a new connection; one holding more
# connections waits a little before it tries to accept, so the one with the fewest takes it
# (the kernel would otherwise favour the same worker every time).
ACCEPT_DELAY_PER_CONNECTION_S = 0.0002
ACCEPT_DELAY_MAX_S = 0.005
# Alone, a worker takes every waiting connection at a wakeup, as asyncio's server does: one
# a loop turn would keep clients waiting for many turns of a busy loop.
ACCEPT_ALONE_AT_ONCE = 128


class PoolWorker(uvicorn.Server):
    """uvicorn's server, steered by the pool's lines on stdin: `serve`, `shed F` and
    `peers N` and `drain` (also on SIGTERM and on EOF), as docs/architecture.md describes."""

    def __init__(self, config: uvicorn.Config, public: socket.socket) -> None:
        super().__init__(config)
        self._public_sock = public
        self._public_port = public.getsockname()[1]
        self._accepting = False
        self._draining = False
        self._peers = 0  # other workers serving the public port, as the pool last said
        self._pending = b""
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.should_exit:
            return
        self._loop = asyncio.get_running_loop()
        os.set_blocking(sys.stdin.fileno(), False)
        asyncio.get_running_loop().add_reader(sys.stdin.fileno(), self._on_stdin)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(sys.stdin.fileno())
        self._stop_accepting()
        await super().shutdown(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        loop = self._loop
        if sig != signal.SIGTERM or loop is None or self._draining or self.should_exit:
            super().handle_exit(sig, frame)
            return
        self._captured_signals.append(sig)
        loop.call_soon_threadsafe(lambda: self._spawn(self.drain()))

    # -- the pool's commands ---------------------------------------------------------
    def _on_stdin(self) -> None:
        try:
            data = os.read(sys.stdin.fileno(), 4096)
        except BlockingIOError:
            return
        if not data:  # the pool is gone: nobody will stop this worker but itself
            asyncio.get_running_loop().remove_reader(sys.stdin.fileno())
            self._spawn(self.drain())
            return
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            self._command(line.decode("ascii", "replace").split())

    def _command(self, words: list[str]) -> None:
        if words == ["serve"]:
            self._spawn(self.serve_public())
        elif words == ["drain"]:
            self._spawn(self.drain())
        elif len(words) == 2 and words[0] == "shed":
            self.shed(float(words[1]))
        elif len(words) == 2 and words[0] == "peers":
            self._peers = int(words[1])
        elif words:
            log.warning("unknown command from the pool: %s", " ".join(words))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def serve_public(self) -> None:
        if self._accepting or self._draining:
            return
        self._public_sock.setblocking(False)
        asyncio.get_running_loop().add_reader(self._public_sock.fileno(), self._readable)
        self._accepting = True
        log.info("serving the shared port %d", self._public_port)

    def _readable(self) -> None:
        if self._peers == 0:
            for _ in range(ACCEPT_ALONE_AT_ONCE):
                if not self._accept():
                    return
            return
        held = len(self.public_connections())
        delay = min(held * ACCEPT_DELAY_PER_CONNECTION_S, ACCEPT_DELAY_MAX_S)
        if delay <= 0:
            self._accept()
            return
        loop = asyncio.get_running_loop()
        loop.remove_reader(self._public_sock.fileno())
        loop.call_later(delay, self._accept_later)

    def _accept_later(self) -> None:
        if not self._accepting:
            return
        self._accept()
        asyncio.get_running_loop().add_reader(self._public_sock.fileno(), self._readable)

    def _accept(self) -> bool:
        """One waiting connection, if any (another worker may have taken it): whether one
        was taken. With peers, one a wakeup, so that the others get their turn."""
        try:
            conn, _ = self._public_sock.accept()
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as e:  # out of file descriptors, say: the next wakeup tries again
            log.warning("accept on the shared port failed: %s", e)
            return False
        conn.setblocking(False)
        self._spawn(self._connect(conn))
        return True

    async def _connect(self, conn: socket.socket) -> None:
        config = self.config

        def protocol() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state
            )

        try:
            await asyncio.get_running_loop().connect_accepted_socket(protocol, conn)
        except OSError:
            conn.close()

    def _stop_accepting(self) -> None:
        if self._accepting and self._loop is not None:
            self._loop.remove_reader(self._public_sock.fileno())
        self._accepting = False
        self._public_sock.close()

    def public_connections(self) -> list[Any]:
        port = self._public_port
        return [c for c in self.server_state.connections if _local_port(c) == port]

    def shed(self, share: float) -> int:
        """Close `share` of the public connections (those not closing yet) after their next
        answer, so that their clients connect again and the kernel spreads them."""
        open_ = [c for c in self.public_connections() if not c.close_after_answer]
        count = round(len(open_) * min(max(share, 0.0), 1.0))
        for c in open_[:count]:
            self._close_after_answer(c)
        return count

    def _close_after_answer(self, connection: Any) -> None:
        connection.close_after_answer = True
        cycle = connection.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.keep_alive = False  # the answer being made carries `connection: close`
            return
        loop = asyncio.get_running_loop()
        loop.call_later(IDLE_GRACE_S, _close_if_still_idle, connection, cycle)

    async def drain(self) -> None:
        if self._draining:
            return
        self._draining = True
        self._stop_accepting()
        for c in self.public_connections():
            self._close_after_answer(c)
        end = time.monotonic() + DRAIN_LIMIT_S
        while self.public_connections() and not self.should_exit and time.monotonic() < end:
            await asyncio.sleep(CHECK_EVERY_S)
        self.should_exit = True


def _local_port(connection: Any) -> int | None:
    address = getattr(connection, "server", None)
    return address[1] if address else None


def _close_if_still_idle(connection: Any, cycle_then: Any) -> None:
    """Close a connection that started no request since it was told to close."""
    cycle = connection.cycle
    idle = cycle is cycle_then and (cycle is None or cycle.response_complete)
    if idle and not connection.transport.is_closing():
        connection.transport.close()


def serve(config: uvicorn.Config, fd: int) -> None:
    """Run a pool worker on the inherited listening socket `fd`."""
    public = socket.socket(fileno=fd)
    PoolWorker(config, public).run()
