"""The tuned floor: what a careful engineer writes by hand with FastAPI, so that Pier is
compared with the fastest plain endpoint, not the textbook one (floor.py): the raw
Request, orjson both ways, torch on the event loop, no pydantic."""

from __future__ import annotations

import sys

import numpy as np
import orjson
import torch
import uvicorn
from fastapi import FastAPI, Request, Response


def build(artifact: str) -> FastAPI:
    torch.set_num_threads(1)
    module = torch.jit.load(artifact)
    app = FastAPI()

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        body = orjson.loads(await request.body())
        x = torch.from_numpy(np.asarray(body["inputs"], dtype=np.float32))
        with torch.inference_mode():
            out = module(x)
        answer = orjson.dumps({"outputs": out.numpy()}, option=orjson.OPT_SERIALIZE_NUMPY)
        return Response(answer, media_type="application/json")

    return app


if __name__ == "__main__":  # python bench/servers/tuned.py ARTIFACT PORT
    uvicorn.run(
        build(sys.argv[1]),
        host="127.0.0.1",
        port=int(sys.argv[2]),
        http="httptools",
        log_level="warning",
    )
