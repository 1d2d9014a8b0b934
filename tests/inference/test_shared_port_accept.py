"""How a pool worker takes connections waiting on the shared port (inference/http/shared_port.py):
alone, all of them at one wakeup, as a bare server does; told by the pool that others serve
too, one a wakeup, so that the least busy worker gets the next."""

from __future__ import annotations

import asyncio
import socket

import pytest
import uvicorn

from inference.http.shared_port import PoolWorker

WAITING = 8


async def _taken_at_one_wakeup(peers: int) -> int:
    listener = socket.create_server(("127.0.0.1", 0))
    clients = [socket.create_connection(listener.getsockname()) for _ in range(WAITING)]
    worker = PoolWorker(uvicorn.Config(app="inference.app:create_app"), listener)  # not loaded
    try:
        worker._command(["peers", str(peers)])  # the line the pool writes on its stdin
        listener.setblocking(False)
        worker._readable()  # the event loop's call when the listening socket is readable
        return len(worker._tasks)  # one per connection taken
    finally:
        for task in list(worker._tasks):
            task.cancel()
        await asyncio.gather(*worker._tasks, return_exceptions=True)
        for c in clients:
            c.close()
        listener.close()


@pytest.mark.parametrize(("peers", "taken"), [(0, WAITING), (1, 1), (3, 1)])
def test_a_lone_worker_takes_every_waiting_connection_and_one_among_peers_one(
    peers: int, taken: int
) -> None:
    assert asyncio.run(_taken_at_one_wakeup(peers)) == taken
