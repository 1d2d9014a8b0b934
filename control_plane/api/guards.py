"""What stands between the network and the routes: a body limit refused before reading,
and values the database cannot store answered as 422, never 500 (docs/security.md)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1024 * 1024
UNLIMITED_PATHS = frozenset({"/api/v1/artifacts"})


class _TooLarge(HTTPException):
    """Raised from inside `receive`: FastAPI passes an HTTPException through its body
    parsing untouched (anything else becomes a 400), and the app answers it with 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            413,
            f"expected a request body of at most {max_bytes} bytes, got more",
            {"Connection": "close"},
        )


def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _refusal(self, got: str) -> JSONResponse:
        response = _error(
            413,
            "payload_too_large",
            f"expected a request body of at most {self.max_bytes} bytes, got {got}",
        )
        response.headers["Connection"] = "close"
        return response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refusal(f"{int(value)} bytes")(scope, receive, send)
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if started:
                raise
            await self._refusal("more (still streaming)")(scope, receive, send)


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DataError)
    detail = str(exc.orig).strip().splitlines()[0] if exc.orig else "an invalid value"
    return _error(
        422, "invalid_request", f"the request holds a value that cannot be stored: {detail}"
    )


def install(api: FastAPI) -> None:
    api.add_exception_handler(DataError, _data_error)
    api.add_middleware(BodyLimitMiddleware)


_METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})


def replica_url_problem(url: str) -> str | None:
    """Why the control plane must not fetch from a URL a replica reported; None when fine.
    Loopback, private and reserved pod addresses pass; other schemes, credentials in the URL
    and link-local (cloud metadata) addresses do not."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"expected an http(s) URL such as http://10.0.0.7:8080, got {url[:100]!r}"
    if parts.username or parts.password:
        return "a replica URL carries no credentials"
    host = parts.hostname
    if host in _METADATA_HOSTS:
        return f"{host} is a cloud metadata service, not a replica"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    # Reserved ranges pass: some managed clusters give pods addresses in 240.0.0.0/4.
    if address.is_link_local or address.is_multicast or address.is_unspecified:
        return f"{host} is a link-local, multicast or unspecified address, not a replica"
    if address == ipaddress.IPv4Address("255.255.255.255"):
        return f"{host} is the broadcast address, not a replica"
    return None
