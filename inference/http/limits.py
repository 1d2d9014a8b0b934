"""Pure-ASGI request body limit: refuse oversized bodies without reading them into memory."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inference.errors import PayloadTooLarge, is_v2_path, render


def declared_length(headers: list[tuple[bytes, bytes]]) -> int:
    """The body length a request declares (Content-Length); 0 when it declares none."""
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def too_large(max_bytes: int, got: str) -> PayloadTooLarge:
    return PayloadTooLarge(f"expected a body of at most {max_bytes} bytes, got {got}")


async def send_too_large(scope: Scope, send: Send, error: PayloadTooLarge) -> None:
    """413, and the connection closed: the rest of the body is never read."""
    status, body, headers = render(error, v2=is_v2_path(scope["path"]))
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    raw.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """413 on a Content-Length over the limit before reading; for chunked bodies,
    count while streaming and stop as soon as the limit is passed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope["headers"])
        if declared > self.max_bytes:
            await send_too_large(scope, send, too_large(self.max_bytes, f"{declared} bytes"))
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise too_large(
                        self.max_bytes, f"more than {self.max_bytes} bytes (still streaming)"
                    )
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except PayloadTooLarge as error:
            if started:
                raise
            await send_too_large(scope, send, error)
