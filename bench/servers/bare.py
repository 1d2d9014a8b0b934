"""The HTTP ceiling: a bare ASGI app on uvicorn with httptools that reads the whole request
body and answers ten floats of JSON, with no framework, no parsing and no model. No Python
server on this core can answer a request faster than it does.

    python bench/servers/bare.py PORT
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn

ANSWER = b'{"outputs":[[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0]]}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(ANSWER))]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        http="httptools",
        lifespan="off",
        log_level="warning",
    )
