"""The prediction lane: POST /predict and v2 infer answered as plain ASGI ahead of FastAPI's
middleware and routing, with the same admission, API keys and body limit that the
middleware applies to every other route."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping

from starlette.types import Receive, Scope, Send

from inference.errors import InferenceError, PayloadTooLarge, render
from inference.execution.admission import Admission
from inference.http.auth import key_matches, presented_key, send_unauthenticated
from inference.http.limits import declared_length, send_too_large, too_large
from inference.http.native import Answer, answer_predict
from inference.http.v2 import answer_infer
from inference.state import ServiceState

log = logging.getLogger(__name__)

PREDICT = "/predict"
# The server has percent-decoded the path, as FastAPI's {model} and {version} would be.
V2_INFER = re.compile(r"/v2/models/([^/]+)(?:/versions/([^/]+))?/infer")
# The route a request takes: /predict, or v2's infer with its model and version.
Route = tuple[str, str | None] | None


class RequestHeaders(Mapping[str, str]):
    """A request's headers by name, whatever its case; the first of repeated ones. Looked
    up in the server's list as asked: a request reads two or three of them."""

    __slots__ = ("_raw",)

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._raw = raw  # ASGI servers give the names in lower case

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        wanted = name.lower().encode("latin-1")
        for key, value in self._raw:
            if key == wanted:
                return value.decode("latin-1")
        return default

    def __getitem__(self, name: str) -> str:
        found = self.get(name)
        if found is None:
            raise KeyError(name)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(k.decode("latin-1") for k, _ in self._raw))

    def __len__(self) -> int:
        return len(dict.fromkeys(k for k, _ in self._raw))


async def respond(
    send: Send, status: int, body: bytes, media_type: str, headers: Mapping[str, str]
) -> None:
    raw = [(b"content-type", media_type.encode()), (b"content-length", b"%d" % len(body))]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _send_error(send: Send, error: InferenceError, v2: bool) -> None:
    status, body, headers = render(error, v2=v2)
    media_type = headers.pop("content-type")
    await respond(send, status, body, media_type, headers)


class PredictLane:
    def __init__(
        self,
        state: ServiceState,
        admission: Admission,
        keys: frozenset[str],
        max_body_bytes: int,
    ) -> None:
        self.state = state
        self.admission = admission
        self.keys = keys
        self.max_body_bytes = max_body_bytes

    @staticmethod
    def takes(scope: Scope) -> tuple[bool, Route]:
        """Whether the lane answers this request, and its route (None: /predict)."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return False, None
        path = scope["path"]
        if path == PREDICT:
            return True, None
        match = V2_INFER.fullmatch(path)
        if match is None:
            return False, None
        model, version = match.groups()
        return True, (model, version)

    async def __call__(self, scope: Scope, receive: Receive, send: Send, route: Route) -> None:
        admission = self.admission
        if not admission.admit():
            await _send_error(send, admission.refusal(), v2=route is not None)
            return
        try:
            await self._admitted(scope, receive, send, route)
        finally:
            admission.release()

    async def _admitted(self, scope: Scope, receive: Receive, send: Send, route: Route) -> None:
        raw_headers = scope["headers"]
        if self.keys:
            presented = presented_key(raw_headers)
            if presented is None or not key_matches(presented, self.keys):
                await send_unauthenticated(scope, send, presented)
                return
        try:
            declared = declared_length(raw_headers)
            if declared > self.max_body_bytes:
                raise too_large(self.max_body_bytes, f"{declared} bytes")
            raw = await self._read_body(receive)
            if raw is None:
                return  # the client went away before it sent the body
            headers = RequestHeaders(raw_headers)
            answer: Answer
            if route is None:
                answer = await answer_predict(self.state, headers, raw)
            else:
                answer = await answer_infer(self.state, headers, raw, *route)
        except PayloadTooLarge as error:
            await send_too_large(scope, send, error)
            return
        except InferenceError as error:
            await _send_error(send, error, v2=route is not None)
            return
        except Exception:
            log.exception("a prediction request failed unexpectedly")
            failure = InferenceError("internal error; the replica's log says more")
            await _send_error(send, failure, v2=route is not None)
            return
        await respond(send, 200, answer.body, answer.media_type, answer.headers)

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body, counted against the limit as it streams in; None when the client
        went away before sending it."""
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body = message.get("body", b"")
            received += len(body)
            if received > self.max_body_bytes:
                raise too_large(
                    self.max_body_bytes, f"more than {self.max_body_bytes} bytes (still streaming)"
                )
            chunks.append(body)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
