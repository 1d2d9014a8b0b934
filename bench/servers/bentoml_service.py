"""BentoML serving the bench model the way its docs show: a @bentoml.service class that
loads the model in __init__ and a batchable @bentoml.api taking and returning a numpy
array, so BentoML's adaptive batching concatenates requests along dimension 0
(max_batch_size=32; max_latency_ms left at BentoML's default). One worker, one CPU.

    BENCH_ARTIFACT=ARTIFACT bentoml serve bentoml_service:BenchModel --port PORT
    (run in bench/.envs/bentoml with --working-dir bench/servers)
"""

from __future__ import annotations

import os

import bentoml
import numpy as np
import torch


@bentoml.service(workers=1, resources={"cpu": "1"})
class BenchModel:
    def __init__(self) -> None:
        torch.set_num_threads(1)
        self.model = torch.jit.load(os.environ["BENCH_ARTIFACT"])

    @bentoml.api(batchable=True, batch_dim=0, max_batch_size=32)
    def predict(self, inputs: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.model(torch.from_numpy(inputs.astype(np.float32))).numpy()
