"""The HTTP protocol the service runs under (inference/http/protocol.py), spoken to over raw
sockets: the prediction lane's answers straight from the connection keep HTTP/1.1's
promises (order, keep-alive, closing), and what the lane leaves to uvicorn still works."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from typing import Any

import httptools
import orjson
import pytest
import uvicorn
from uvicorn.server import ServerState

from inference.__main__ import UVICORN_OPTIONS
from inference.http.protocol import LaneCycle, LaneProtocol
from tests.inference.server import ServerThread, wait_for

ROW = [5.1, 3.5, 1.4, 0.2]


@dataclass
class Answer:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> dict:
        return orjson.loads(self.body)


class Answers:
    """Responses parsed off one connection, in the order they came."""

    def __init__(self) -> None:
        self.done: list[Answer] = []
        self._current = Answer()
        self._parser = httptools.HttpResponseParser(self)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._current.headers[name.decode().lower()] = value.decode()

    def on_headers_complete(self) -> None:
        self._current.status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self._current.body += body

    def on_message_complete(self) -> None:
        self.done.append(self._current)
        self._current = Answer()

    def feed(self, data: bytes) -> None:
        self._parser.feed_data(data)


def connect(service: ServerThread) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", service.port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_answers(sock: socket.socket, count: int) -> Answers:
    """Read until `count` responses have come (more than that: whatever came with them)."""
    parsed = Answers()
    while len(parsed.done) < count:
        data = sock.recv(65536)
        if not data:
            raise AssertionError(f"connection closed after {len(parsed.done)} of {count} answers")
        parsed.feed(data)
    return parsed


def closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(10)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def predict(version: str, *, extra: bytes = b"", http: bytes = b"HTTP/1.1") -> bytes:
    body = orjson.dumps({"model": "iris", "inputs": [ROW], "version": version})
    return (
        b"POST /predict " + http + b"\r\nHost: replica\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n" % len(body) + extra + b"\r\n" + body
    )


READY = b"GET /v2/health/ready HTTP/1.1\r\nHost: replica\r\n\r\n"


def test_answers_on_one_connection_keep_the_order_requests_came_in(
    service: ServerThread,
) -> None:
    """Pipelined: a prediction behind a prediction and behind another route; each answer
    comes back in its request's place."""
    with connect(service) as sock:
        sock.sendall(predict("v1") + predict("v2") + READY + predict("e1"))
        answers = read_answers(sock, 4).done
    assert [a.status for a in answers] == [200, 200, 200, 200]
    assert [answers[i].json()["version"] for i in (0, 1, 3)] == ["v1", "v2", "e1"]
    assert answers[2].json() == {"ready": True}


def test_a_connection_serves_request_after_request(service: ServerThread) -> None:
    with connect(service) as sock:
        for version in ["v1", "v2", "v1", "e1", "v2"]:
            sock.sendall(predict(version))
            (answer,) = read_answers(sock, 1).done
            assert answer.status == 200
            assert answer.json()["version"] == version
            assert int(answer.headers["content-length"]) == len(answer.body)
            assert answer.headers["content-type"] == "application/json"
            assert "date" in answer.headers  # as uvicorn stamps every other answer
            assert "connection" not in answer.headers


def test_a_bad_request_is_answered_and_the_connection_stays_usable(
    service: ServerThread,
) -> None:
    body = b'{"model": "iris", "inputs": [[1, 2]]}'
    bad = b"POST /predict HTTP/1.1\r\nHost: r\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    with connect(service) as sock:
        sock.sendall(bad)
        (answer,) = read_answers(sock, 1).done
        assert answer.status == 422
        assert "expected shape [-1, 4]" in answer.json()["error"]["message"]
        sock.sendall(predict("v1"))
        (answer,) = read_answers(sock, 1).done
        assert answer.status == 200


@pytest.mark.parametrize(
    "request_bytes",
    [predict("v1", extra=b"Connection: close\r\n"), predict("v1", http=b"HTTP/1.0")],
    ids=["connection-close", "http-1.0"],
)
def test_a_client_that_asks_for_one_answer_gets_it_and_the_connection_closes(
    service: ServerThread, request_bytes: bytes
) -> None:
    with connect(service) as sock:
        sock.sendall(request_bytes)
        (answer,) = read_answers(sock, 1).done
        assert answer.status == 200
        assert answer.json()["version"] == "v1"
        assert answer.headers["connection"] == "close"
        assert closed_by_server(sock)


def test_expect_100_continue_gets_its_interim_answer(service: ServerThread) -> None:
    head, body = predict("v2", extra=b"Expect: 100-continue\r\n").split(b"\r\n\r\n", 1)
    with connect(service) as sock:
        sock.sendall(head + b"\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 100 Continue\r\n")
        sock.sendall(body)
        (answer,) = read_answers(sock, 1).done
    assert answer.status == 200
    assert answer.json()["version"] == "v2"


def test_a_chunked_prediction_is_answered(service: ServerThread) -> None:
    body = orjson.dumps({"model": "iris", "inputs": [ROW], "version": "v2"})
    half = len(body) // 2
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:half], body[half:]))
    with connect(service) as sock:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunked
            + b"0\r\n\r\n"
        )
        (answer,) = read_answers(sock, 1).done
    assert answer.status == 200
    assert answer.json()["version"] == "v2"


def test_a_body_sent_in_pieces_is_read_whole(service: ServerThread) -> None:
    request = predict("e1")
    with connect(service) as sock:
        for start in range(0, len(request), 7):
            sock.sendall(request[start : start + 7])
        (answer,) = read_answers(sock, 1).done
    assert answer.status == 200
    assert answer.json()["version"] == "e1"


def test_a_client_gone_mid_body_leaves_the_service_serving(service: ServerThread) -> None:
    with connect(service) as sock:
        sock.sendall(predict("v1")[:-5])  # five bytes of the body never come
    with connect(service) as sock:
        sock.sendall(predict("v1"))
        (answer,) = read_answers(sock, 1).done
    assert answer.status == 200


def test_a_v2_infer_is_answered_from_the_lane_too(service: ServerThread) -> None:
    body = orjson.dumps(
        {"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 4], "data": ROW}]}
    )
    request = (
        b"POST /v2/models/iris/versions/v2/infer HTTP/1.1\r\nHost: r\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body) + body
    )
    with connect(service) as sock:
        sock.sendall(request + request)
        answers = read_answers(sock, 2).done
    assert [a.status for a in answers] == [200, 200]
    assert all(a.json()["model_version"] == "v2" for a in answers)


def test_the_service_options_give_the_protocol_the_lane(service: ServerThread) -> None:
    """The short cut exists only where the protocol finds the lane on the app it serves: a
    wrapper around the app (uvicorn's proxy headers, for one) would silently turn it off."""
    config = uvicorn.Config(service.app, **UVICORN_OPTIONS)
    config.load()
    loop = asyncio.new_event_loop()
    try:
        protocol = config.http_protocol_class(  # type: ignore[call-arg]
            config=config, server_state=ServerState(), app_state={}, _loop=loop
        )
    finally:
        loop.close()
    assert isinstance(protocol, LaneProtocol)
    assert protocol.lane is service.app.lane  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("head", "laned"),
    [
        (b"POST /predict HTTP/1.1\r\nHost: r\r\nContent-Length: 60\r\n\r\n", True),
        (b"POST /v2/models/iris/infer HTTP/1.1\r\nHost: r\r\nContent-Length: 60\r\n\r\n", True),
        (b"POST /predict HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: chunked\r\n\r\n", False),
        (b"POST /feedback HTTP/1.1\r\nHost: r\r\nContent-Length: 60\r\n\r\n", False),
    ],
    ids=["predict", "v2-infer", "chunked", "other-route"],
)
def test_which_requests_skip_uvicorns_cycle(
    service: ServerThread, head: bytes, laned: bool
) -> None:
    """While a request's body is still coming, its connection holds the cycle that will
    answer it: the lane's own for a prediction with a Content-Length within the limit,
    uvicorn's for the rest."""
    # Only this test's connection: an earlier test's may still be open on the server side,
    # its close not yet seen, and hold a lane cycle of its own.
    earlier = set(service.connections)

    def ours() -> list[Any]:
        return [c for c in service.connections if c not in earlier]

    with connect(service) as sock:
        sock.sendall(head)
        wait_for(
            lambda: any(getattr(c, "cycle", None) is not None for c in ours()),
            timeout_s=10,
        )
        cycles = [c.cycle for c in ours() if c.cycle is not None]
    assert [isinstance(c, LaneCycle) for c in cycles] == [laned]
