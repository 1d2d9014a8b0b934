"""The local balancer: a lean HTTP/1.1 proxy on the public inference port that sends each
request to the worker with the fewest in flight, measuring each worker's load for the
autoscaler and moving a request off a worker that refuses or dies (docs/architecture.md)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from control_plane.backends.local.http1 import (
    HOP_BY_HOP,
    MAX_HEAD_BYTES,
    BadRequest,
    Head,
    TooLarge,
    content_length,
    error_answer,
    forwarded_head,
    read_chunked,
    read_head,
    status_of,
)

log = logging.getLogger(__name__)

# Answers up to this size are read whole before anything goes to the client, so a worker
# that dies between its head and its body (a crash, SIGKILL) leaves nothing half-sent: the
# request goes to another worker. Larger answers stream as they come.
WHOLE_ANSWER_BYTES = 1024 * 1024
# The workers' own default limit (PIER_INFERENCE_MAX_BODY_BYTES): over it, 413 here.
WORKER_MAX_BODY_BYTES = 16 * 1024 * 1024
IDLE_REUSE_S = 2.0  # uvicorn closes idle keep-alive connections after 5 s: stay well under


class NoWorker(Exception):
    """No worker is ready (none started yet, or every one refused the connection)."""


@dataclass(frozen=True)
class WorkerLoad:
    """What the balancer saw of one worker since the previous sample."""

    inflight: float  # time-averaged requests in flight
    rps: float
    inflight_now: int


@dataclass
class _Backend:
    host: str
    port: int
    inflight: int = 0
    requests: int = 0
    area: float = 0.0  # integral of inflight over time, for the time-average
    changed_at: float = field(default_factory=time.monotonic)
    sampled_at: float = field(default_factory=time.monotonic)
    sampled_requests: int = 0
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = field(
        default_factory=list
    )

    def _account(self, now: float) -> None:
        self.area += self.inflight * (now - self.changed_at)
        self.changed_at = now

    def begin(self) -> None:
        self._account(time.monotonic())
        self.inflight += 1
        self.requests += 1

    def end(self) -> None:
        self._account(time.monotonic())
        self.inflight -= 1

    def sample(self) -> WorkerLoad:
        now = time.monotonic()
        self._account(now)
        span = max(now - self.sampled_at, 1e-6)
        load = WorkerLoad(
            inflight=self.area / span,
            rps=(self.requests - self.sampled_requests) / span,
            inflight_now=self.inflight,
        )
        self.area, self.sampled_at, self.sampled_requests = 0.0, now, self.requests
        return load


class Balancer:
    """Least-in-flight HTTP/1.1 proxy. `start()` binds the port; the rest is thread-safe."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        max_body_bytes: int = WORKER_MAX_BODY_BYTES,
        timeout_s: float = 300.0,
    ) -> None:
        self.host = host
        self.port = port
        self._max_body = max_body_bytes
        self._timeout_s = timeout_s
        self._backends: dict[str, _Backend] = {}
        self._draining: dict[str, _Backend] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    # -- the pool's side -------------------------------------------------------------
    def add(self, worker_id: str, host: str, port: int) -> None:
        with self._lock:
            self._backends[worker_id] = _Backend(host, port)

    def remove(self, worker_id: str) -> None:
        """No new request goes to it; those in flight finish (see `inflight`)."""
        with self._lock:
            backend = self._backends.pop(worker_id, None)
            if backend is not None:
                self._draining[worker_id] = backend
        if backend is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._close_idle, backend)

    def inflight(self, worker_id: str) -> int:
        with self._lock:
            backend = self._backends.get(worker_id) or self._draining.get(worker_id)
            return backend.inflight if backend is not None else 0

    def forget(self, worker_id: str) -> None:
        """After a drained worker stopped."""
        with self._lock:
            self._draining.pop(worker_id, None)

    def workers(self) -> list[str]:
        with self._lock:
            return sorted(self._backends)

    def sample(self) -> dict[str, WorkerLoad]:
        """Per routed worker: mean in-flight and rps since the previous sample."""
        with self._lock:
            return {wid: b.sample() for wid, b in self._backends.items()}

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="pier-balancer", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._startup_error is not None:
            self._thread = None
            raise self._startup_error

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(
                    self._client, self.host, self.port, limit=MAX_HEAD_BYTES, reuse_address=True
                )
            )
        except OSError as e:
            self._startup_error = e
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for b in list(self._backends.values()) + list(self._draining.values()):
                self._close_idle(b)
            loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), loop)
        thread.join(timeout=10)
        self._thread = None
        self._loop = None

    # -- the proxy -----------------------------------------------------------------------
    @staticmethod
    def _close_idle(backend: _Backend) -> None:
        for _, writer, _ in backend.idle:
            writer.close()
        backend.idle.clear()

    def _pick(self, exclude: set[str]) -> tuple[str, _Backend, bool]:
        """The least busy worker not tried yet, and whether it is the last one left."""
        with self._lock:
            choices = [
                (b.inflight, wid, b) for wid, b in self._backends.items() if wid not in exclude
            ]
            if not choices:
                raise NoWorker()
            _, wid, backend = min(choices, key=lambda c: (c[0], c[1]))
            backend.begin()
            return wid, backend, len(choices) == 1

    async def _connect(
        self, backend: _Backend
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        now = time.monotonic()
        while backend.idle:
            reader, writer, since = backend.idle.pop()
            if now - since < IDLE_REUSE_S and not reader.at_eof():
                return reader, writer, True
            writer.close()
        reader, writer = await asyncio.open_connection(
            backend.host, backend.port, limit=MAX_HEAD_BYTES
        )
        return reader, writer, False

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await read_head(reader)
                    if head is None:
                        return
                    if (head.get(b"expect") or b"").lower() == b"100-continue":
                        # The body is read here before forwarding: ask for it ourselves.
                        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    body = await self._request_body(reader, head)
                except TooLarge as e:  # a 503 here would be retried by clients, in vain
                    writer.write(error_answer(413, "Payload Too Large", str(e)))
                    await writer.drain()
                    return
                except BadRequest as e:
                    writer.write(error_answer(400, "Bad Request", str(e)))
                    await writer.drain()
                    return
                keep = await self._forward(head, body, writer)
                if not keep or head.wants_close():
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return
        except ValueError as e:  # a worker's malformed chunk size mid-answer: cut it short
            log.warning("dropped a client connection: %s", e)
            return
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _request_body(self, reader: asyncio.StreamReader, head: Head) -> bytes:
        if (head.get(b"transfer-encoding") or b"").lower() == b"chunked":
            return await read_chunked(reader, self._max_body)
        n = content_length(head)
        if n > self._max_body:
            raise TooLarge(f"request body of {n} bytes is larger than {self._max_body} bytes")
        return await reader.readexactly(n) if n else b""

    def _upstream_request(self, head: Head, body: bytes) -> bytes:
        lines = [head.start]
        for k, v in head.headers:
            low = k.lower()
            if low in HOP_BY_HOP or low in (b"content-length", b"transfer-encoding"):
                continue
            lines.append(k + b": " + v)
        if body or head.start.split(b" ", 1)[0] in (b"POST", b"PUT", b"PATCH"):
            lines.append(b"content-length: " + str(len(body)).encode())
        return b"\r\n".join(lines) + b"\r\n\r\n" + body

    async def _forward(self, head: Head, body: bytes, client: asyncio.StreamWriter) -> bool:
        """Send one request upstream and copy the answer back; False: close the client."""
        request = self._upstream_request(head, body)
        tried: set[str] = set()
        while True:
            try:
                wid, backend, last = self._pick(tried)
            except NoWorker:
                client.write(
                    error_answer(503, "Service Unavailable", "no inference worker is ready yet", 1)
                )
                await client.drain()
                return True
            try:
                sent = await self._exchange(backend, request, head, client, last)
            finally:
                with self._lock:  # sample() reads the same counters from another thread
                    backend.end()
            if sent is not None:
                return sent
            # Nothing reached the client: the worker refused or dropped the request before
            # answering (it crashed or is stopping), or shed it as overloaded while another
            # worker may have room. Another worker gets it.
            tried.add(wid)

    async def _exchange(
        self,
        backend: _Backend,
        request: bytes,
        head: Head,
        client: asyncio.StreamWriter,
        last: bool,
    ) -> bool | None:
        """Whether the client connection stays open; None: nothing was sent to the client
        (the worker gave no answer, or a 503 while other workers remain to try)."""
        for attempt in range(2):
            try:
                up_r, up_w, reused = await self._connect(backend)
            except OSError:
                return None
            try:
                up_w.write(request)
                await up_w.drain()
            except ConnectionError:
                pass  # a worker may answer (a 413) and close before taking the whole body
            try:
                resp = await asyncio.wait_for(read_head(up_r), self._timeout_s)
            except (ConnectionError, BadRequest, asyncio.IncompleteReadError, TimeoutError):
                resp = None
            if resp is None:
                up_w.close()
                if reused and attempt == 0:
                    continue  # a keep-alive connection the worker had just closed
                return None
            break
        else:
            return None
        if not last and status_of(resp) == b"503":
            # The inference service sheds load with 503 before it reads the body (admission
            # control): the request did not run, so another worker may take it.
            up_w.close()
            return None
        try:
            whole = await self._read_whole(head, resp, up_r)
        except (asyncio.IncompleteReadError, ConnectionError):
            up_w.close()
            return None  # the worker died mid-answer before any of it reached the client
        if whole is not None:
            client.write(whole)
            await client.drain()
            upstream_ok, keep_client = not resp.wants_close(), True
        else:
            upstream_ok, keep_client = await self._copy_response(head, resp, up_r, client)
        if upstream_ok:
            backend.idle.append((up_r, up_w, time.monotonic()))
        else:
            up_w.close()
        return keep_client

    @staticmethod
    async def _read_whole(req: Head, resp: Head, up: asyncio.StreamReader) -> bytes | None:
        """The whole answer, head and body, for the client, when its length is known and
        small; None: stream it instead. Raises when the worker closes before the end."""
        length = resp.get(b"content-length")
        chunked = (resp.get(b"transfer-encoding") or b"").lower() == b"chunked"
        status = status_of(resp)
        no_body = req.start.startswith(b"HEAD ") or status in (b"204", b"304") or status[:1] == b"1"
        if length is None or chunked or no_body:
            return None
        try:
            size = int(length)
        except ValueError:
            return None
        if not 0 <= size <= WHOLE_ANSWER_BYTES:
            return None
        body = await up.readexactly(size)
        return b"\r\n".join(forwarded_head(resp)) + b"\r\n\r\n" + body

    async def _copy_response(
        self,
        req: Head,
        resp: Head,
        up: asyncio.StreamReader,
        client: asyncio.StreamWriter,
    ) -> tuple[bool, bool]:
        """Copy the status, headers and body; whether the upstream connection is reusable,
        and whether the client's is."""
        status = status_of(resp)
        no_body = req.start.startswith(b"HEAD ") or status in (b"204", b"304") or status[:1] == b"1"
        chunked = (resp.get(b"transfer-encoding") or b"").lower() == b"chunked"
        length = None if chunked or no_body else resp.get(b"content-length")
        lines = forwarded_head(resp)
        until_close = not no_body and not chunked and length is None
        if until_close:
            lines.append(b"connection: close")
        client.write(b"\r\n".join(lines) + b"\r\n\r\n")
        if no_body:
            pass
        elif chunked:
            while True:
                size_line = await up.readuntil(b"\r\n")
                client.write(size_line)
                size = int(size_line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while (line := await up.readuntil(b"\r\n")) != b"\r\n":
                        client.write(line)
                    client.write(b"\r\n")
                    break
                await self._copy(up, client, size + 2)
        elif length is not None:
            await self._copy(up, client, int(length))
        else:
            while chunk := await up.read(65536):
                client.write(chunk)
                await client.drain()
        await client.drain()
        return not until_close and not resp.wants_close(), not until_close

    @staticmethod
    async def _copy(up: asyncio.StreamReader, client: asyncio.StreamWriter, n: int) -> None:
        while n > 0:
            chunk = await up.read(min(n, 65536))
            if not chunk:
                raise asyncio.IncompleteReadError(b"", n)
            client.write(chunk)
            n -= len(chunk)
            if n:
                await client.drain()


def wait_drained(
    balancer: Balancer, worker_id: str, deadline_s: float, sleep: Callable[[float], object]
) -> bool:
    """Poll until the removed worker has no request in flight; False on the deadline."""
    end = time.monotonic() + deadline_s
    while balancer.inflight(worker_id) > 0:
        if time.monotonic() > end:
            return False
        sleep(0.05)
    return True
