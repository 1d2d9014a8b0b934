"""The fast lane: the prediction routes answered as plain ASGI, ahead of FastAPI's routing:
POST /predict and the Open Inference Protocol's infer.

For a small model the web framework costs more than the model: FastAPI matches the route,
solves the endpoint's dependencies and builds a Request and a Response for every call
(bench/results/profile.md). The lane takes /predict before that, with the same handler
(api.answer_predict, v2.answer_infer), the same errors and the same middleware around it:
admission, API keys and the body limit stay outside the lane, so they see these requests
as before. Every other request goes on to FastAPI, which also keeps the prediction routes
in the OpenAPI document.
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from inference.api import Answer, answer_predict
from inference.errors import InferenceError, PayloadTooLarge, render
from inference.state import ServiceState
from inference.v2 import answer_infer

PREDICT = "/predict"
# The server has percent-decoded the path, as FastAPI's {model} and {version} would be.
V2_INFER = re.compile(r"/v2/models/([^/]+)(?:/versions/([^/]+))?/infer")


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body; None when the client went away before sending it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def respond(
    send: Send, status: int, body: bytes, media_type: str, headers: dict[str, str]
) -> None:
    raw = [(b"content-type", media_type.encode()), (b"content-length", b"%d" % len(body))]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class PredictLane:
    def __init__(self, app: ASGIApp, state: ServiceState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        v2 = None if path == PREDICT else V2_INFER.fullmatch(path)
        if path != PREDICT and v2 is None:
            await self.app(scope, receive, send)
            return
        raw = await read_body(receive)
        if raw is None:
            return
        answer: Answer
        try:
            if v2 is None:
                answer = await answer_predict(self.state, Headers(scope=scope), raw)
            else:
                model, version = v2.groups()
                answer = await answer_infer(self.state, Headers(scope=scope), raw, model, version)
        except PayloadTooLarge:
            raise  # the body limit outside answers it, and closes the connection
        except InferenceError as error:
            status, body, headers = render(error, v2=v2 is not None)
            media_type = headers.pop("content-type")
            await respond(send, status, body, media_type, headers)
            return
        await respond(send, 200, answer.body, answer.media_type, answer.headers)
