"""LitServe serving the bench model the way its docs show: a LitAPI with setup /
decode_request / predict / encode_response, and dynamic batching on the LitAPI
(max_batch_size=32, batch_timeout=2 ms: the same bounds as Pier's defaults). batch()
concatenates each request's rows and unbatch() hands every request its own rows back.

    python litserve_server.py ARTIFACT PORT     (run in bench/.envs/litserve)
"""

from __future__ import annotations

import sys

import litserve as ls
import torch


class TorchScriptAPI(ls.LitAPI):
    def __init__(self, artifact: str) -> None:
        super().__init__(max_batch_size=32, batch_timeout=0.002)
        self.artifact = artifact

    def setup(self, device: str) -> None:
        torch.set_num_threads(1)
        self.model = torch.jit.load(self.artifact)

    def decode_request(self, request: dict) -> torch.Tensor:
        return torch.tensor(request["inputs"], dtype=torch.float32)

    def batch(self, inputs: list[torch.Tensor]) -> tuple[torch.Tensor, list[int]]:
        return torch.cat(inputs), [len(x) for x in inputs]

    def predict(self, batch: tuple[torch.Tensor, list[int]]) -> list[torch.Tensor]:
        x, rows = batch
        with torch.inference_mode():
            return list(torch.split(self.model(x), rows))

    def unbatch(self, outputs: list[torch.Tensor]) -> list[torch.Tensor]:
        return outputs

    def encode_response(self, output: torch.Tensor) -> dict:
        return {"outputs": output.tolist()}


if __name__ == "__main__":
    server = ls.LitServer(TorchScriptAPI(sys.argv[1]), accelerator="cpu", workers_per_device=1)
    server.run(
        host="127.0.0.1", port=int(sys.argv[2]), generate_client_file=False, log_level="warning"
    )
