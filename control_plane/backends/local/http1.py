"""HTTP/1.1 message framing for the local balancer: heads, bodies, and its own answers.

Only what forwarding needs: bodies are copied as bytes, never parsed.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

MAX_HEAD_BYTES = 64 * 1024
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"upgrade",
        b"expect",
    }
)


class BadRequest(Exception):
    """The client sent something that is not HTTP/1.x we can forward."""


class TooLarge(BadRequest):
    """A request body over the workers' limit: refused here, before it is read (413)."""


@dataclass
class Head:
    start: bytes  # request or status line, without CRLF
    headers: list[tuple[bytes, bytes]]

    def get(self, name: bytes) -> bytes | None:
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def wants_close(self) -> bool:
        conn = (self.get(b"connection") or b"").lower()
        http10 = self.start.endswith(b"HTTP/1.0")
        return b"close" in conn or (http10 and b"keep-alive" not in conn)


async def read_head(reader: asyncio.StreamReader) -> Head | None:
    """One message head; None on a clean EOF before any byte."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            return None
        raise BadRequest("the connection closed in the middle of a message head") from e
    except asyncio.LimitOverrunError as e:
        raise BadRequest(f"message head larger than {MAX_HEAD_BYTES} bytes") from e
    lines = raw[:-4].split(b"\r\n")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise BadRequest(f"malformed header line {line[:60]!r}")
        headers.append((name.strip(), value.strip()))
    return Head(lines[0], headers)


async def read_chunked(reader: asyncio.StreamReader, limit: int) -> bytes:
    body = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError as e:
            raise BadRequest("malformed chunk size") from e
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers: dropped
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)
        if len(body) > limit:
            raise TooLarge(f"request body larger than {limit} bytes")


def status_of(resp: Head) -> bytes:
    parts = resp.start.split(b" ", 2)
    return parts[1] if len(parts) > 1 else b"502"


def forwarded_head(resp: Head) -> list[bytes]:
    """The status line and the end-to-end headers of an answer, as the client gets them."""
    return [resp.start, *(k + b": " + v for k, v in resp.headers if k.lower() not in HOP_BY_HOP)]


def content_length(head: Head) -> int:
    raw = head.get(b"content-length")
    if raw is None:
        return 0
    try:
        n = int(raw)
    except ValueError as e:
        raise BadRequest(f"Content-Length must be a number, got {raw[:40]!r}") from e
    if n < 0:
        raise BadRequest("Content-Length must not be negative")
    return n


def error_answer(status: int, reason: str, message: str, retry_after: int | None = None) -> bytes:
    """An answer of the balancer's own, in the inference service's error shape."""
    kind = reason.lower().replace(" ", "_")
    body = json.dumps({"error": {"type": kind, "message": message}}).encode()
    extra = f"Retry-After: {retry_after}\r\n" if retry_after is not None else ""
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body
