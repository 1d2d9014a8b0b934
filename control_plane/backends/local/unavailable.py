"""What the public port answers when no worker has served it for a while (a worker that
keeps crashing, a model that cannot load): 503 with Retry-After, so clients stop waiting
in the socket's queue for a worker that is not coming."""

from __future__ import annotations

import contextlib
import json
import logging
import select
import socket
import threading

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5
HEAD_LIMIT = 64 * 1024
BODY_LIMIT = 1024 * 1024  # read a request body up to this, so closing sends no reset
READ_TIMEOUT_S = 2.0


def answer(detail: str) -> bytes:
    body = json.dumps({"error": {"type": "unavailable", "message": detail}}).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        f"retry-after: {RETRY_AFTER_S}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


def _read_request(conn: socket.socket) -> None:
    """Read the request's head and a small body, so that the answer is not cut short."""
    data = b""
    while b"\r\n\r\n" not in data and len(data) < HEAD_LIMIT:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            length = int(value.strip())
    left = min(length, BODY_LIMIT) - len(rest)
    while left > 0 and (chunk := conn.recv(min(left, 65536))):
        left -= len(chunk)


class Unavailable:
    """Answers the shared socket's connections with 503 while `on()`; `off()` leaves them
    to the workers again. Accepts on the same socket as the workers, on a thread."""

    def __init__(self, listener: socket.socket, detail: str) -> None:
        self._listener = listener
        self._detail = detail
        self._on = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def active(self) -> bool:
        return self._on.is_set()

    def on(self) -> None:
        if self._on.is_set():
            return
        log.warning("no inference worker has served for a while: answering 503")
        self._on.set()
        self._thread = threading.Thread(target=self._serve, name="pier-unavailable", daemon=True)
        self._thread.start()

    def off(self) -> None:
        self._on.clear()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5)

    def _serve(self) -> None:
        while self._on.is_set():
            try:
                readable, _, _ = select.select([self._listener], [], [], 0.2)
                if not readable:
                    continue
                conn, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                continue  # a worker took it
            except (OSError, ValueError):
                return  # the listener was closed: the pool is stopping
            with conn, contextlib.suppress(OSError):
                conn.setblocking(True)
                conn.settimeout(READ_TIMEOUT_S)
                _read_request(conn)
                conn.sendall(answer(self._detail))
                conn.shutdown(socket.SHUT_WR)
