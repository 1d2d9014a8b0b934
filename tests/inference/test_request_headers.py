"""The prediction lane reads a request's headers straight from the server's list."""

from __future__ import annotations

import pytest

from inference.http.lane import RequestHeaders

RAW = [
    (b"host", b"replica:8000"),
    (b"inference-header-content-length", b"203"),
    (b"x-pier-key", b"user-1"),
    (b"x-pier-key", b"user-2"),
]


def test_names_are_looked_up_whatever_their_case() -> None:
    headers = RequestHeaders(RAW)
    assert headers.get("Inference-Header-Content-Length") == "203"
    assert headers["HOST"] == "replica:8000"


def test_the_first_of_repeated_headers_is_the_one_read() -> None:
    assert RequestHeaders(RAW).get("X-Pier-Key") == "user-1"


def test_a_missing_header_is_the_default_or_a_key_error() -> None:
    headers = RequestHeaders(RAW)
    assert headers.get("accept") is None
    assert headers.get("accept", "*/*") == "*/*"
    with pytest.raises(KeyError):
        headers["accept"]


def test_iteration_names_each_header_once() -> None:
    headers = RequestHeaders(RAW)
    assert list(headers) == ["host", "inference-header-content-length", "x-pier-key"]
    assert len(headers) == 3
