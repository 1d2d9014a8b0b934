"""The least a batching server must do for a W2-binary request, and nothing more.

It reads the body, finds the tensor bytes after the JSON header, and views them as the
CNN's input. Requests that arrive while the model runs are gathered into the next call, on
one model thread. Each request gets its row back as binary data. There is no validation,
routing, metrics, admission or error handling: it is a measuring stick for
bench/ceiling.py, not a server. Whatever it reaches on one core, no Python server on this
stack that batches can much exceed, because it does only what such a server cannot skip.

    python bench/servers/minimal.py ARTIFACT PORT [MAX_BATCH]
"""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
import torch
import uvicorn

SHAPE = (1, 3, 64, 64)
torch.set_num_threads(1)
model = torch.jit.load(sys.argv[1]).eval()
MAX_BATCH = int(sys.argv[3]) if len(sys.argv) > 3 else 32

waiting: list[tuple[np.ndarray, asyncio.Future[np.ndarray]]] = []
busy = False
jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()


def model_thread() -> None:
    while True:
        jobs.get()()


def pump(loop: asyncio.AbstractEventLoop) -> None:
    global busy
    if busy or not waiting:
        return
    taken = waiting[:MAX_BATCH]
    del waiting[:MAX_BATCH]
    busy = True
    batch = np.concatenate([array for array, _ in taken])

    def answered(out: np.ndarray) -> None:
        global busy
        busy = False
        for row, (_, future) in enumerate(taken):
            future.set_result(out[row : row + 1])
        pump(loop)

    def call() -> None:
        with torch.inference_mode():
            out = model(torch.from_numpy(batch)).numpy()
        loop.call_soon_threadsafe(answered, out)

    jobs.put(call)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    length = next(int(v) for k, v in scope["headers"] if k == b"inference-header-content-length")
    array = np.frombuffer(body, dtype=np.float32, offset=length).reshape(SHAPE)
    loop = asyncio.get_running_loop()
    future: asyncio.Future[np.ndarray] = loop.create_future()
    waiting.append((array, future))
    pump(loop)
    out = await future
    blob = out.tobytes()
    head = orjson.dumps(
        {
            "model_name": "cnn",
            "outputs": [
                {
                    "name": "logits",
                    "datatype": "FP32",
                    "shape": list(out.shape),
                    "parameters": {"binary_data_size": len(blob)},
                }
            ],
        }
    )
    headers = [
        (b"content-type", b"application/octet-stream"),
        (b"inference-header-content-length", b"%d" % len(head)),
        (b"content-length", b"%d" % (len(head) + len(blob))),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": head + blob})


if __name__ == "__main__":
    threading.Thread(target=model_thread, daemon=True).start()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[2]),
        http="httptools",
        lifespan="off",
        log_level="warning",
    )
