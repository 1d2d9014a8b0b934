"""uvicorn's httptools protocol, with the prediction lane's requests read whole from the
connection and answered in one write. Everything else goes through uvicorn's own ASGI cycle
(other routes, chunked bodies, `Expect`, upgrades, bodies over the limit, pipelining)."""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from typing import TYPE_CHECKING, Any

import httptools
from starlette.types import Message
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from inference.http.lane import PredictLane, Route

if TYPE_CHECKING:
    from uvicorn.config import Config
    from uvicorn.server import ServerState

log = logging.getLogger(__name__)

SERVER_ERROR = STATUS_LINE[500] + (
    b"content-type: text/plain; charset=utf-8\r\ncontent-length: 21\r\n"
    b"connection: close\r\n\r\nInternal Server Error"
)


class _NoEvent:
    """What uvicorn sets on a cycle when the connection goes: nothing waits on a lane
    request's body, which is whole before the lane starts."""

    def set(self) -> None:
        pass


class LaneCycle:
    """One lane request on a connection: its body as it arrives, then its answer, written
    in one piece. Has what uvicorn's protocol reads of the request in flight."""

    message_event = _NoEvent()

    def __init__(
        self, protocol: LaneProtocol, scope: dict[str, Any], route: Route, keep_alive: bool
    ) -> None:
        self.protocol = protocol
        self.scope = scope
        self.route = route
        self.keep_alive = keep_alive
        self.chunks: list[bytes] = []
        self.disconnected = False
        self.response_complete = False
        self._received = False
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []

    async def run(self, lane: PredictLane) -> None:
        try:
            await lane(self.scope, self.receive, self.send, self.route)
        except Exception:
            log.exception("a prediction request failed unexpectedly")
            if self._status == 0:
                self._write(SERVER_ERROR, keep_alive=False)
        if not self.response_complete:
            self.protocol.transport.close()

    async def receive(self) -> Message:
        if self._received or self.disconnected:
            return {"type": "http.disconnect"}
        self._received = True
        chunks = self.chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._status = message["status"]
            self._headers = list(message.get("headers", ()))
            return
        body = message.get("body", b"")
        if body:
            self._body.append(body)
        if message.get("more_body", False):
            return
        flow = self.protocol.flow
        if flow.write_paused and not self.disconnected:
            # The client is not reading its answers: no more of them until it does, as
            # uvicorn's own cycle would (and so no more requests read on this connection).
            await flow.drain()
        self._finish()

    def _finish(self) -> None:
        """The whole answer in one write: status line, headers, body."""
        body = b"".join(self._body)
        keep_alive = self.keep_alive
        out = [STATUS_LINE[self._status]]
        for name, value in self.protocol.server_state.default_headers:
            out += [name, b": ", value, b"\r\n"]
        has_length = has_connection = False
        for name, value in self._headers:  # ASGI names come in lower case
            if name == b"content-length":
                has_length = True
            elif name == b"connection":
                has_connection = True
                keep_alive = keep_alive and b"close" not in value.lower()
            out += [name, b": ", value, b"\r\n"]
        if not has_length:
            out.append(b"content-length: %d\r\n" % len(body))
        if not keep_alive and not has_connection:
            out.append(b"connection: close\r\n")
        out += [b"\r\n", body]
        self._write(b"".join(out), keep_alive)

    def _write(self, data: bytes, keep_alive: bool) -> None:
        self.response_complete = True
        transport = self.protocol.transport
        if self.disconnected or transport.is_closing():
            return
        transport.write(data)
        if not keep_alive:
            transport.close()
        self.protocol.on_response_complete()


class LaneProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol; the lane's requests skip its ASGI cycle."""

    # Set by a pool worker (inference/http/shared_port.py) to move this connection's client
    # to another worker: its next answer says `connection: close`.
    close_after_answer = False

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        lane = getattr(self.app, "lane", None)
        # uvicorn's own concurrency limit, when set, is checked in its cycle: keep to it.
        self.lane: PredictLane | None = (
            lane if isinstance(lane, PredictLane) and self.limit_concurrency is None else None
        )

    def on_headers_complete(self) -> None:
        cycle = self._lane_cycle()
        if cycle is None:
            super().on_headers_complete()
        else:
            self.cycle = cycle  # type: ignore[assignment]
        if self.close_after_answer:
            self.cycle.keep_alive = False

    def _lane_cycle(self) -> LaneCycle | None:
        """A cycle of the lane's own for this request, or None: uvicorn answers it."""
        lane = self.lane
        if lane is None or self.expect_100_continue or self.parser.get_method() != b"POST":
            return None
        if self.cycle is not None and not self.cycle.response_complete:
            return None  # pipelined behind a request still being answered
        length = None
        for name, value in self.headers:
            if name == b"content-length":
                length = value
            elif name in (b"transfer-encoding", b"upgrade"):
                return None
        if length is None or not length.isdigit() or int(length) > lane.max_body_bytes:
            return None
        parsed = httptools.parse_url(self.url)
        path = parsed.path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        scope = self.scope
        scope["method"] = "POST"
        scope["path"] = self.root_path + path
        scope["raw_path"] = self.root_path.encode("ascii") + parsed.path
        scope["query_string"] = parsed.query or b""
        taken, route = lane.takes(scope)  # type: ignore[arg-type]
        if not taken:
            return None
        version = self.parser.get_http_version()
        if version != "1.1":
            scope["http_version"] = version
        keep_alive = version != "1.0" and self.parser.should_keep_alive()
        return LaneCycle(self, scope, route, keep_alive)  # type: ignore[arg-type]

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if isinstance(cycle, LaneCycle):
            cycle.chunks.append(body)
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        cycle = self.cycle
        if not isinstance(cycle, LaneCycle):
            super().on_message_complete()
            return
        assert self.lane is not None
        task = self.loop.create_task(cycle.run(self.lane))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)
