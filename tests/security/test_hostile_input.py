"""Attack group 6: oversized and hostile input to both services.

A body over the limit is refused from its Content-Length before a byte of it is read (the
answer arrives while the client has sent nothing), and a chunked one as soon as it passes
the limit (the test counts what it managed to send). Deeply nested JSON, huge arrays, NaN
and Infinity, wrong dtypes and strings where numbers belong get a 4xx with a message,
never a 5xx.
"""

from __future__ import annotations

import select
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from control_plane.api.guards import MAX_BODY_BYTES
from tests.security.conftest import Plane

DEEP = 100_000
INFERENCE_LIMIT = 16 * 1024 * 1024  # InferenceSettings.max_body_bytes' default
# What the loopback socket buffers hold before the server has read a byte of it.
SOCKET_SLACK = 16 * 1024 * 1024


def _open(base: str) -> socket.socket:
    parts = urlsplit(base)
    return socket.create_connection((parts.hostname, parts.port), timeout=30)


def _status(sock: socket.socket) -> int:
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return int(head.split(b" ", 2)[1])


def declared_huge(base: str, path: str, token: str | None) -> tuple[int, float]:
    """Announce 10 GB, send nothing: a server that waited for the body would time out."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    with _open(base) as sock:
        started = time.perf_counter()
        sock.sendall(
            (
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{auth}"
                "Content-Length: 10737418240\r\n\r\n"
            ).encode()
        )
        return _status(sock), time.perf_counter() - started


def chunked_flood(base: str, path: str, token: str | None, limit_bytes: int) -> tuple[int, int]:
    """Stream 64 KiB chunks until the server answers; how much did it take in?"""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    chunk = b"[" + b"0," * (32 * 1024 - 1) + b"0"
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with _open(base) as sock:
        sock.sendall(
            (
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{auth}"
                "Transfer-Encoding: chunked\r\n\r\n"
            ).encode()
        )
        sock.settimeout(1.0)
        while sent < 40 * limit_bytes:
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered (or closed): stop sending
            try:
                sock.sendall(frame)
                sent += len(chunk)
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                break
        sock.settimeout(30)
        return _status(sock), sent


@pytest.mark.parametrize("path", ["/api/v1/tokens", "/api/v1/models/iris/deploy"])
def test_control_plane_refuses_a_huge_body_unread(plane: Plane, path: str) -> None:
    status, seconds = declared_huge(plane.url, path, plane.tokens["admin"])
    print(f"control plane {path}: 10 GB declared -> {status} in {seconds * 1000:.0f} ms")
    assert status == 413 and seconds < 10
    status, sent = chunked_flood(plane.url, path, plane.tokens["admin"], MAX_BODY_BYTES)
    print(f"control plane {path}: chunked -> {status} after {sent} bytes sent")
    assert status == 413 and sent < MAX_BODY_BYTES + SOCKET_SLACK


def test_inference_refuses_a_huge_body_unread(inference_url: str) -> None:
    status, seconds = declared_huge(inference_url, "/predict", None)
    print(f"inference /predict: 10 GB declared -> {status} in {seconds * 1000:.0f} ms")
    assert status == 413 and seconds < 10
    status, sent = chunked_flood(inference_url, "/predict", None, INFERENCE_LIMIT)
    print(f"inference /predict: chunked -> {status} after {sent} bytes sent")
    assert status == 413 and sent < INFERENCE_LIMIT + SOCKET_SLACK


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


PREDICT_BODIES: dict[str, bytes] = {
    "deeply nested": b'{"model": "iris", "inputs": ' + _nested(DEEP) + b"}",
    "nested object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "huge array": b'{"model": "iris", "inputs": [' + b"[0,0,0,0]," * 200_000 + b"[0,0,0,0]]}",
    "NaN": b'{"model": "iris", "inputs": [[NaN, 1, 2, 3]]}',
    "Infinity": b'{"model": "iris", "inputs": [[Infinity, 1, 2, 3]]}',
    "huge number": b'{"model": "iris", "inputs": [[1e400, 1, 2, 3]]}',
    "huge integer": b'{"model": "iris", "inputs": [[' + b"9" * 5000 + b", 1, 2, 3]]}",
    "string for a number": b'{"model": "iris", "inputs": [["1", 1, 2, 3]]}',
    "wrong shape": b'{"model": "iris", "inputs": [[1, 2, 3]]}',
    "ragged": b'{"model": "iris", "inputs": [[1, 2, 3, 4], [1]]}',
    "object for an array": b'{"model": "iris", "inputs": {"features": {"a": 1}}}',
    "bool for float": b'{"model": "iris", "inputs": [[true, false, true, false]]}',
    "null": b"null",
    "not JSON": b"\xff\xfe\x00garbage",
    "model is a number": b'{"model": 7, "inputs": [[0, 0, 0, 0]]}',
}

V2_BODIES: dict[str, bytes] = {
    "deeply nested": b'{"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 4], '
    b'"data": ' + _nested(DEEP) + b"}]}",
    "NaN": b'{"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 4], '
    b'"data": [NaN, 0, 0, 0]}]}',
    "wrong dtype": b'{"inputs": [{"name": "features", "datatype": "BYTES", "shape": [1, 4], '
    b'"data": ["a", "b", "c", "d"]}]}',
    "shape lies": b'{"inputs": [{"name": "features", "datatype": "FP32", "shape": [1000000000, 4], '
    b'"data": [0, 0, 0, 0]}]}',
    "negative shape": b'{"inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, 4], '
    b'"data": [0, 0, 0, 0]}]}',
    "strings for numbers": b'{"inputs": [{"name": "features", "datatype": "FP32", '
    b'"shape": [1, 4], "data": ["0", "0", "0", "0"]}]}',
}

CONTROL_BODIES: dict[str, bytes] = {
    "deeply nested": b'{"weights": ' + _nested(DEEP) + b"}",
    "NaN": b'{"weights": {"v1": NaN}}',
    "Infinity": b'{"weights": {"v1": Infinity}}',
    "string for a number": b'{"weights": {"v1": "100"}}',
    "huge integer": b'{"weights": {"v1": ' + b"9" * 5000 + b"}}",
    "huge map": b'{"weights": {' + b",".join(b'"v%d": 1' % i for i in range(50_000)) + b"}}",
    "null": b"null",
    "not JSON": b"\xff\xfe\x00garbage",
}


def _post(base: str, path: str, body: bytes, token: str | None = None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{base}{path}", content=body, headers=headers, timeout=60)


def _message(r: httpx.Response) -> str:
    body = r.json()
    if isinstance(body.get("error"), dict):
        return str(body["error"]["message"])
    return str(body.get("error") or body.get("detail"))


@pytest.mark.parametrize("case", list(PREDICT_BODIES))
def test_predict_answers_hostile_json_with_a_4xx(inference_url: str, case: str) -> None:
    r = _post(inference_url, "/predict", PREDICT_BODIES[case])
    print(f"/predict {case}: {r.status_code} {_message(r)[:120]}")
    assert 400 <= r.status_code < 500, r.text[:500]
    assert _message(r)


@pytest.mark.parametrize("case", list(V2_BODIES))
def test_v2_infer_answers_hostile_json_with_a_4xx(inference_url: str, case: str) -> None:
    r = _post(inference_url, "/v2/models/iris/infer", V2_BODIES[case])
    print(f"/v2 infer {case}: {r.status_code} {_message(r)[:120]}")
    assert 400 <= r.status_code < 500, r.text[:500]
    assert _message(r)


@pytest.mark.parametrize("case", list(CONTROL_BODIES))
def test_control_plane_answers_hostile_json_with_a_4xx(plane: Plane, case: str) -> None:
    r = _post(
        plane.url, "/api/v1/models/iris/deployment", CONTROL_BODIES[case], plane.tokens["admin"]
    )
    print(f"PUT deployment {case}: {r.status_code} {_message(r)[:120]}")
    assert 400 <= r.status_code < 500, r.text[:500]
    assert _message(r)
