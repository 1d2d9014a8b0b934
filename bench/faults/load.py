"""Steady, open-loop load over raw HTTP/1.1 keep-alive connections, counting every request.

Request i is due at start + i / rate, whatever happened to the ones before it, so a fault
cannot slow the load down and hide itself. A fixed pool of connections sends them; a
request whose connection is busy goes on the next free one, late (its lateness is kept).
Every request ends in exactly one record: its HTTP status, or the transport failure that
stopped it (refused, reset, timeout). Nothing is retried: a retry would hide a failure.

Raw sockets rather than an HTTP client library: on two cores the generator must cost
little CPU, or it measures itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

Body = Callable[[int], bytes]

REFUSED = "refused"
RESET = "reset"
TIMEOUT = "timeout"


@dataclass(frozen=True)
class Sample:
    index: int
    sent: float  # monotonic seconds
    done: float
    status: int  # 0: no HTTP answer (see `failure`)
    failure: str = ""
    retry_after: bool = False
    version: str = ""


@dataclass
class LoadResult:
    rate: float
    samples: list[Sample] = field(default_factory=list)
    started: float = 0.0
    stopped: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.samples)

    def statuses(self, since: float = 0.0, until: float = float("inf")) -> Counter[str]:
        return Counter(
            str(s.status) if s.status else s.failure
            for s in self.samples
            if since <= s.sent < until
        )

    def failed(self, ok: frozenset[int] = frozenset({200})) -> list[Sample]:
        return [s for s in self.samples if s.status not in ok]

    def latencies_ms(self, status: int = 200) -> list[float]:
        return sorted((s.done - s.sent) * 1000 for s in self.samples if s.status == status)

    def achieved_rps(self) -> float:
        span = self.stopped - self.started
        return len(self.samples) / span if span > 0 else 0.0


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def _request(path: str, port: int, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bool]:
    """Status, headers (lower-case names) and whether the server will close."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        length = int(headers.get("content-length", "0"))
        if length:
            await reader.readexactly(length)
    return status, headers, headers.get("connection", "").lower() == "close"


class Load:
    """`rate` requests a second to http://127.0.0.1:`port``path` until stopped."""

    def __init__(
        self,
        port: int,
        rate: float,
        body: Body,
        *,
        path: str = "/predict",
        connections: int = 64,
        timeout_s: float = 10.0,
        duration_s: float = 600.0,
    ) -> None:
        self.port = port
        self.rate = rate
        self.body = body
        self.path = path
        self.connections = connections
        self.timeout_s = timeout_s
        self.duration_s = duration_s
        self.result = LoadResult(rate)
        self._next = 0
        self._sent: dict[int, float] = {}  # index -> when sent, until its answer is read
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True, name="fault-load")

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> LoadResult:
        self._stop.set()
        self._thread.join(timeout=self.timeout_s + 30)
        return self.result

    def count(self) -> int:
        return len(self.result.samples)

    def oldest_pending_s(self) -> float:
        """How long the oldest request sent and not yet answered has waited (0: none)."""
        sent = list(self._sent.values())
        return time.monotonic() - min(sent) if sent else 0.0

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self.result.started = time.monotonic()
        end = self.result.started + self.duration_s
        await asyncio.gather(*(self._connection(end) for _ in range(self.connections)))
        self.result.stopped = time.monotonic()

    def _take(self, end: float) -> tuple[int, float] | None:
        due = self.result.started + self._next / self.rate
        if self._stop.is_set() or due >= end:
            return None
        index = self._next
        self._next += 1
        return index, due

    async def _connection(self, end: float) -> None:
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while (ticket := self._take(end)) is not None:
            index, due = ticket
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            sent = time.monotonic()
            self._sent[index] = sent
            if reader is not None and _dropped(reader, writer):
                # The server closed this idle connection (a worker drained or died): open
                # another before sending, as HTTP clients' connection pools do.
                await _close(writer)
                reader = writer = None
            try:
                if writer is None:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection("127.0.0.1", self.port), self.timeout_s
                    )
                assert reader is not None and writer is not None
                writer.write(_request(self.path, self.port, self.body(index)))
                status, headers, closing = await asyncio.wait_for(
                    read_response(reader), self.timeout_s
                )
            except (ConnectionRefusedError, ConnectionAbortedError):
                self._record(Sample(index, sent, time.monotonic(), 0, REFUSED))
                await _close(writer)
                writer = None
                await asyncio.sleep(0.01)  # nothing listens: do not spin
                continue
            except TimeoutError:
                self._record(Sample(index, sent, time.monotonic(), 0, TIMEOUT))
                await _close(writer)
                writer = None
                continue
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                self._record(Sample(index, sent, time.monotonic(), 0, RESET))
                await _close(writer)
                writer = None
                continue
            self._record(
                Sample(
                    index,
                    sent,
                    time.monotonic(),
                    status,
                    retry_after="retry-after" in headers,
                    version=headers.get("x-pier-version", ""),
                )
            )
            if closing:
                await _close(writer)
                writer = None
        await _close(writer)

    def _record(self, sample: Sample) -> None:
        self._sent.pop(sample.index, None)
        self.result.samples.append(sample)


def _dropped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None) -> bool:
    """An idle keep-alive connection that is readable has been closed by the server (its
    EOF may not have reached the reader yet): urllib3's check before reusing one."""
    if reader.at_eof():
        return True
    sock = writer.get_extra_info("socket") if writer is not None else None
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


async def _close(writer: asyncio.StreamWriter | None) -> None:
    if writer is not None:
        writer.close()
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            await writer.wait_closed()


def run_for(load: Load, seconds: float, *, tick: Callable[[float], None] | None = None) -> None:
    """Let `load` run `seconds` (calling `tick(elapsed)` every 0.1 s if given)."""
    start = time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        if tick is not None:
            tick(elapsed)
        time.sleep(0.1)
