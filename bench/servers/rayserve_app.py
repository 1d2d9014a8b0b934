"""Ray Serve serving the bench model the way its docs show: one @serve.deployment
(1 replica, 1 CPU) whose __call__ reads the Starlette request and hands the rows to a
@serve.batch method (max_batch_size=32, batch_wait_timeout_s=0.002), which runs one
model call for the batch and answers every caller with its own rows.

    python rayserve_app.py ARTIFACT PORT     (run in bench/.envs/rayserve)
"""

from __future__ import annotations

import sys
import threading

import ray
import torch
from ray import serve
from starlette.requests import Request


@serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 1})
class BenchModel:
    def __init__(self, artifact: str) -> None:
        torch.set_num_threads(1)
        self.model = torch.jit.load(artifact)

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.002)
    async def predict(self, inputs: list[torch.Tensor]) -> list[list]:
        rows = [len(x) for x in inputs]
        with torch.inference_mode():
            out = self.model(torch.cat(inputs))
        return [part.tolist() for part in torch.split(out, rows)]

    async def __call__(self, request: Request) -> dict:
        body = await request.json()
        return {"outputs": await self.predict(torch.tensor(body["inputs"], dtype=torch.float32))}


if __name__ == "__main__":
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": int(sys.argv[2])})
    serve.run(BenchModel.bind(sys.argv[1]), route_prefix="/predict")
    threading.Event().wait()  # serve until the harness stops this process
