"""The local balancer against real HTTP servers (tiny ASGI apps on uvicorn): least-in-flight
choice, keep-alive, streamed and chunked bodies, draining, and a worker that went away."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from control_plane.backends.local.balancer import Balancer, wait_drained
from tests.support.servers import free_port, serve, wait_until


def worker_app(name: str, gate: threading.Event | None = None) -> Starlette:
    async def echo(request: Request) -> Response:
        body = await request.body()
        if request.query_params.get("wait") and gate is not None:
            while not gate.is_set():
                await asyncio.sleep(0.01)
        return Response(body, headers={"x-worker": name, "content-type": "application/json"})

    async def stream(request: Request) -> Response:
        async def chunks() -> Any:
            for i in range(5):
                yield f"part {i};".encode()
                await asyncio.sleep(0.01)

        return StreamingResponse(chunks(), headers={"x-worker": name})

    async def empty(request: Request) -> Response:
        return Response(status_code=204, headers={"x-worker": name})

    async def full(request: Request) -> Response:
        # As the inference service's admission control sheds load: before reading the body.
        return JSONResponse(
            {"error": {"type": "overloaded", "message": f"{name} is full"}},
            status_code=503,
            headers={"Retry-After": "1", "x-worker": name},
        )

    async def info(request: Request) -> Response:
        return JSONResponse({"worker": name, "query": str(request.query_params)})

    return Starlette(
        routes=[
            Route("/echo", echo, methods=["POST"]),
            Route("/stream", stream),
            Route("/empty", empty, methods=["DELETE"]),
            Route("/info", info, methods=["GET", "HEAD"]),
            Route("/busy", full if name.startswith("full") else info, methods=["POST"]),
        ]
    )


@pytest.fixture
def balancer() -> Iterator[Balancer]:
    b = Balancer("127.0.0.1", free_port())
    b.start()
    try:
        yield b
    finally:
        b.stop()


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_requests_and_bodies_pass_through_unchanged(balancer: Balancer) -> None:
    with serve(worker_app("a")) as a:
        balancer.add("a", "127.0.0.1", port_of(a))
        base = f"http://127.0.0.1:{balancer.port}"
        with httpx.Client(base_url=base, timeout=10) as c:
            big = b'{"inputs": "' + b"x" * 3_000_000 + b'"}'
            r = c.post("/echo", content=big, headers={"content-type": "application/json"})
            assert r.status_code == 200 and r.content == big
            assert r.headers["x-worker"] == "a"
            # A chunked request body, and a streamed (chunked) answer.
            r = c.post("/echo", content=iter([b"ab", b"cd", b"ef"]))
            assert r.content == b"abcdef"
            assert c.get("/stream").text == "".join(f"part {i};" for i in range(5))
            assert c.delete("/empty").status_code == 204
            head = c.head("/info?x=1")
            assert head.status_code == 200 and head.content == b""
            assert c.get("/info", params={"q": "a b"}).json() == {"worker": "a", "query": "q=a+b"}
            # Many requests over one client connection: keep-alive on both sides.
            assert all(c.get("/info").status_code == 200 for _ in range(50))


def test_least_in_flight_and_draining_lose_nothing(balancer: Balancer) -> None:
    gate = threading.Event()
    with serve(worker_app("a", gate)) as a, serve(worker_app("b", gate)) as b:
        balancer.add("a", "127.0.0.1", port_of(a))
        balancer.add("b", "127.0.0.1", port_of(b))
        base = f"http://127.0.0.1:{balancer.port}"
        seen: Counter[str] = Counter()
        errors: list[str] = []

        def slow_call() -> None:
            try:
                r = httpx.post(f"{base}/echo?wait=1", content=b"{}", timeout=30)
                seen[r.headers["x-worker"]] += 1
            except httpx.HTTPError as e:
                errors.append(repr(e))

        threads = [threading.Thread(target=slow_call) for _ in range(6)]
        for t in threads:
            t.start()
        # Six held requests: the least-in-flight choice puts three on each worker.
        wait_until(lambda: balancer.inflight("a") + balancer.inflight("b") == 6, timeout=10)
        assert (balancer.inflight("a"), balancer.inflight("b")) == (3, 3)

        # Scale down: "a" leaves the rotation, its three requests still finish.
        balancer.remove("a")
        assert balancer.workers() == ["b"]
        with httpx.Client(base_url=base, timeout=10) as c:
            assert {c.get("/info").json()["worker"] for _ in range(10)} == {"b"}
        assert not wait_drained(balancer, "a", 0.3, time.sleep)  # still busy
        gate.set()
        assert wait_drained(balancer, "a", 10, time.sleep)
        for t in threads:
            t.join()
        assert errors == [] and seen == Counter(a=3, b=3)
        loads = balancer.sample()
        assert set(loads) == {"b"} and loads["b"].rps > 0


def test_a_worker_that_went_away_is_skipped(balancer: Balancer) -> None:
    with serve(worker_app("alive")) as alive:
        dead = free_port()  # nothing listens there: connection refused
        balancer.add("dead", "127.0.0.1", dead)
        balancer.add("alive", "127.0.0.1", port_of(alive))
        base = f"http://127.0.0.1:{balancer.port}"
        with httpx.Client(base_url=base, timeout=10) as c:
            workers = {c.get("/info").json()["worker"] for _ in range(20)}
        assert workers == {"alive"}


def test_no_worker_is_a_503_with_retry_after_and_garbage_a_400(balancer: Balancer) -> None:
    r = httpx.get(f"http://127.0.0.1:{balancer.port}/info", timeout=5)
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert "no inference worker is ready" in r.json()["error"]["message"]
    with socket.create_connection(("127.0.0.1", balancer.port), timeout=5) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nContent-Length: -3\r\n\r\n")
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400") and b"must not be negative" in reply


def test_the_port_being_taken_is_an_error_at_start() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = Balancer("127.0.0.1", s.getsockname()[1])
        with pytest.raises(OSError):
            taken.start()


def test_a_worker_shedding_load_passes_the_request_to_one_with_room(balancer: Balancer) -> None:
    with serve(worker_app("full-1")) as full, serve(worker_app("ok")) as ok:
        balancer.add("a-full", "127.0.0.1", port_of(full))
        balancer.add("b-ok", "127.0.0.1", port_of(ok))
        base = f"http://127.0.0.1:{balancer.port}"
        with httpx.Client(base_url=base, timeout=10) as c:
            # "a-full" is tried first (ties go by name) and sheds each one: "b-ok" serves all.
            answers = [c.post("/busy", content=b"{}") for _ in range(10)]
            assert {(r.status_code, r.json()["worker"]) for r in answers} == {(200, "ok")}
            # When every worker sheds, the client gets the worker's own 503 and Retry-After.
            balancer.remove("b-ok")
            r = c.post("/busy", content=b"{}")
            assert r.status_code == 503 and r.headers["retry-after"] == "1"
            assert r.json()["error"]["message"] == "full-1 is full"


class HalfAnswer:
    """A worker that dies mid-answer, as one killed between writing its head and its body:
    it reads a request, sends the status line and headers, and closes the connection."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.served = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 128\r\n\r\n")
                self.served += 1

    def close(self) -> None:
        self.sock.close()


def test_a_worker_that_dies_mid_answer_passes_the_request_on(balancer: Balancer) -> None:
    """Nothing of the half answer reaches the client: the other worker answers it whole."""
    half = HalfAnswer()
    try:
        with serve(worker_app("whole")) as whole:
            balancer.add("a-half", "127.0.0.1", half.port)  # ties go by name: tried first
            balancer.add("b-whole", "127.0.0.1", port_of(whole))
            base = f"http://127.0.0.1:{balancer.port}"
            with httpx.Client(base_url=base, timeout=10) as c:
                answers = [c.post("/echo", content=b'{"n": %d}' % i) for i in range(10)]
    finally:
        half.close()
    assert half.served >= 1, "the half-answering worker was never tried"
    assert [(r.status_code, r.headers["x-worker"]) for r in answers] == [(200, "whole")] * 10
    assert [r.content for r in answers] == [b'{"n": %d}' % i for i in range(10)]
