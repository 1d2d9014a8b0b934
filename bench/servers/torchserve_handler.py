"""TorchServe handler for the bench model, as its docs recommend: a BaseHandler subclass
(BaseHandler loads the TorchScript file of the archive) whose preprocess turns the list
of requests TorchServe batched (batchSize=32, maxBatchDelay=2 ms in config.properties)
into one tensor and whose postprocess hands each request its own rows back.
"""

from __future__ import annotations

import json

import torch
from ts.torch_handler.base_handler import BaseHandler


class BenchHandler(BaseHandler):
    def initialize(self, context: object) -> None:
        torch.set_num_threads(1)
        super().initialize(context)
        self.rows: list[int] = []

    def preprocess(self, data: list[dict]) -> torch.Tensor:
        tensors = []
        for request in data:
            body = request.get("body") or request.get("data")
            if isinstance(body, bytes | bytearray):
                body = json.loads(body)
            tensors.append(torch.tensor(body["inputs"], dtype=torch.float32))
        self.rows = [len(t) for t in tensors]
        return torch.cat(tensors)

    def postprocess(self, data: torch.Tensor) -> list[dict]:
        return [{"outputs": part.tolist()} for part in torch.split(data, self.rows)]
