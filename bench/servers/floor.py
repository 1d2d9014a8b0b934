"""The textbook floor: the same model behind FastAPI + uvicorn written the way the FastAPI
tutorial shows (a pydantic request model, a sync handler, a dict answered as JSON); the
tuned floor (tuned.py) is the fastest hand-written endpoint."""

from __future__ import annotations

import sys

import torch
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel


class PredictIn(BaseModel):
    model: str
    inputs: list


def build(artifact: str) -> FastAPI:
    torch.set_num_threads(1)
    module = torch.jit.load(artifact)
    app = FastAPI()

    @app.post("/predict")
    def predict(body: PredictIn) -> dict[str, object]:
        with torch.inference_mode():
            out = module(torch.tensor(body.inputs, dtype=torch.float32))
        return {"outputs": out.tolist()}

    return app


if __name__ == "__main__":  # python bench/servers/floor.py ARTIFACT PORT
    uvicorn.run(build(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
