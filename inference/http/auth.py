"""Opt-in API keys for the service's own endpoints (pure ASGI, no body read): off unless keys
are configured; then every endpoint but the health checks, /metrics and /feedback/aggregates
needs one. Keys are compared in constant time and never logged."""

from __future__ import annotations

import hmac

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from inference.errors import is_v2_path

OPEN_PATHS = frozenset(
    {"/healthz", "/v2/health/live", "/v2/health/ready", "/metrics", "/feedback/aggregates"}
)


def presented_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The key a request carries, from `Authorization: Bearer` or `X-API-Key`."""
    for name, value in headers:
        if name == b"x-api-key":
            return value.decode("latin-1").strip()
        if name == b"authorization":
            scheme, _, rest = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and rest.strip():
                return rest.strip()
    return None


def key_matches(presented: str, keys: frozenset[str]) -> bool:
    """Constant time in the key's content: every configured key is compared, always."""
    given = presented.encode()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given, key.encode())
    return matched


class ApiKeyMiddleware:
    """401 for a request to a protected endpoint without a configured key."""

    def __init__(self, app: ASGIApp, keys: frozenset[str]) -> None:
        if not keys:
            raise ValueError("ApiKeyMiddleware needs at least one key")
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        presented = presented_key(scope["headers"])
        if presented is not None and key_matches(presented, self.keys):
            await self.app(scope, receive, send)
            return
        await send_unauthenticated(scope, send, presented)


async def send_unauthenticated(scope: Scope, send: Send, presented: str | None) -> None:
    """401: no key, or one that is not configured (which one is never said or logged)."""
    message = (
        "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
        if presented is None
        else "invalid API key"
    )
    body: object = (
        {"error": message}
        if is_v2_path(scope["path"])
        else {"error": {"type": "unauthenticated", "message": message}}
    )
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", b'Bearer realm="pier-inference"'),
            ],
        }
    )
    await send({"type": "http.response.body", "body": orjson.dumps(body)})
