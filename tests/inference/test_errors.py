"""Every client error gets a clear 4xx (or 503) with the body {"error": {"type", "message"}}."""

from __future__ import annotations

import socket

import httpx
import pytest

from inference.app import create_app
from tests.inference.conftest import settings_for
from tests.inference.server import ServerThread

ROW = [5.1, 3.5, 1.4, 0.2]


def error_of(response: httpx.Response, status: int, type_: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == type_
    return str(error["message"])


def test_unknown_model_names_the_served_models(client: httpx.Client) -> None:
    message = error_of(
        client.post("/predict", json={"model": "wine", "inputs": [ROW]}), 404, "model_not_found"
    )
    assert "'wine'" in message and "iris, pair" in message


def test_unknown_version_names_the_served_versions(client: httpx.Client) -> None:
    message = error_of(
        client.post("/predict", json={"model": "iris", "inputs": [ROW], "version": "v9"}),
        404,
        "version_not_found",
    )
    assert "'v9'" in message and "e1, v1, v2" in message


def test_wrong_shape_says_what_was_expected(client: httpx.Client) -> None:
    message = error_of(
        client.post("/predict", json={"model": "iris", "inputs": [[1.0, 2.0, 3.0]]}),
        422,
        "invalid_input",
    )
    assert message == "features: expected shape [-1, 4] float32, got [1, 3]"


def test_wrong_rank(client: httpx.Client) -> None:
    message = error_of(
        client.post("/predict", json={"model": "iris", "inputs": ROW}), 422, "invalid_input"
    )
    assert "expected shape [-1, 4] float32, got [4]" in message


def test_ragged_rows(client: httpx.Client) -> None:
    message = error_of(
        client.post("/predict", json={"model": "iris", "inputs": [ROW, [1.0]]}),
        422,
        "invalid_input",
    )
    assert "rectangular" in message


@pytest.mark.parametrize(
    ("inputs", "came"),
    [
        ([["a", "b", "c", "d"]], "of strings"),
        ([[True, False, True, False]], "of booleans"),
        ([[1.0, None, 2.0, 3.0]], "mixed"),
    ],
)
def test_wrong_dtype(client: httpx.Client, inputs: object, came: str) -> None:
    message = error_of(
        client.post("/predict", json={"model": "iris", "inputs": inputs}), 422, "invalid_input"
    )
    assert "expected shape [-1, 4] float32" in message and came in message


def test_float_for_an_integer_input(client: httpx.Client) -> None:
    message = error_of(
        client.post("/predict", json={"model": "pair", "inputs": {"a": [[1, 2]], "b": [[1.5]]}}),
        422,
        "invalid_input",
    )
    assert message == "b: expected shape [-1, 1] int64, got [1, 1] of floats"


def test_missing_and_unexpected_named_inputs(client: httpx.Client) -> None:
    message = error_of(
        client.post("/predict", json={"model": "pair", "inputs": {"a": [[1, 2]], "c": [[1]]}}),
        422,
        "invalid_input",
    )
    assert "missing ['b']" in message and "unexpected ['c']" in message


def test_uneven_rows_across_inputs(client: httpx.Client) -> None:
    body = {"model": "pair", "inputs": {"a": [[1, 2], [3, 4]], "b": [[1]]}}
    message = error_of(client.post("/predict", json=body), 422, "invalid_input")
    assert "same number of rows" in message


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999"])
def test_nan_and_infinity_are_refused(client: httpx.Client, number: bytes) -> None:
    body = b'{"model": "iris", "inputs": [[1.0, 2.0, 3.0, ' + number + b"]]}"
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    message = error_of(response, 422, "malformed_body")
    assert "NaN and Infinity" in message


def test_float32_overflow_is_refused(client: httpx.Client) -> None:
    message = error_of(
        client.post("/predict", json={"model": "iris", "inputs": [[1e300, 0, 0, 0]]}),
        422,
        "invalid_input",
    )
    assert "finite float32" in message


@pytest.mark.parametrize("body", [b"{not json", b"", b"[1, 2]", b'"iris"'])
def test_malformed_json(client: httpx.Client, body: bytes) -> None:
    error_of(client.post("/predict", content=body), 422, "malformed_body")


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"inputs": [ROW]}, "['model']"),
        ({"model": "iris"}, "['inputs']"),
        ({}, "['model', 'inputs']"),
        ({"model": 3, "inputs": [ROW]}, "model: expected a string"),
        ({"model": "iris", "inputs": [ROW], "version": 1}, "version: expected a string"),
    ],
)
def test_missing_or_mistyped_fields(client: httpx.Client, body: dict, needle: str) -> None:
    assert needle in error_of(client.post("/predict", json=body), 422, "invalid_input")


def test_too_many_rows(client: httpx.Client) -> None:
    # The module's replica allows 64 rows per request.
    message = error_of(
        client.post("/predict", json={"model": "iris", "inputs": [ROW] * 65}), 413, "too_many_rows"
    )
    assert message == "expected at most 64 rows per request, got 65"


def test_zero_rows(client: httpx.Client) -> None:
    body = {"model": "pair", "inputs": {"a": [], "b": []}}
    message = error_of(client.post("/predict", json=body), 422, "invalid_input")
    assert "expected shape [-1, 2] float32, got [0]" in message


def raw_http(port: int, head: bytes, chunks: list[bytes]) -> bytes:
    """Send a request by hand, tolerate the server closing early, return the response."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        try:
            while not data.endswith(b"}") and (part := sock.recv(65536)):
                data += part
        except ConnectionResetError:
            pass
        return data


@pytest.fixture(scope="module")
def small_limit(tmp_path_factory: pytest.TempPathFactory) -> object:
    cache = tmp_path_factory.mktemp("empty-cache")
    with ServerThread(create_app(settings_for(cache, max_body_bytes=1024))) as server:
        yield server


def test_body_over_the_limit_by_content_length_is_refused_before_reading(
    small_limit: ServerThread,
) -> None:
    # Declares 100 MB but sends 10 bytes: a 413 proves the server did not wait for the body.
    head = (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000000\r\n\r\n"
    )
    response = raw_http(small_limit.port, head, [b"0123456789"])
    assert response.startswith(b"HTTP/1.1 413"), response[:200]
    assert b'"type":"payload_too_large"' in response
    assert b"expected a body of at most 1024 bytes, got 100000000 bytes" in response


def test_chunked_body_over_the_limit_is_cut_off_while_streaming(small_limit: ServerThread) -> None:
    head = (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"400\r\n" + b" " * 1024 + b"\r\n"
    response = raw_http(small_limit.port, head, [chunk, chunk])
    assert response.startswith(b"HTTP/1.1 413"), response[:200]
    assert b"still streaming" in response


def test_chunked_body_over_the_limit_on_v2(small_limit: ServerThread) -> None:
    with httpx.Client(base_url=small_limit.url) as client:
        response = client.post("/v2/models/iris/infer", content=iter([b" " * 1000, b" " * 1000]))
    assert response.status_code == 413
    assert "at most 1024 bytes" in response.json()["error"]


def test_no_routing_table_yet_is_503_with_retry_after(small_limit: ServerThread) -> None:
    with httpx.Client(base_url=small_limit.url) as client:
        response = client.post("/predict", json={"model": "iris", "inputs": [ROW]})
        assert error_of(response, 503, "not_ready").startswith("no routing table applied yet")
        assert response.headers["Retry-After"] == "1"
        ready = client.get("/v2/health/ready")
        assert ready.status_code == 503
        assert ready.headers["Retry-After"] == "1"
        assert client.get("/healthz").json()["ready"] is False


def test_empty_cache_dir_is_created(small_limit: ServerThread) -> None:
    state = small_limit.app.state.pier
    assert state.store.artifacts.is_dir()
