"""``python -m bench.images``: what declared image preprocessing costs a request.

One `python -m inference` worker serves the same small CNN twice: as `cnn-image`, whose
input declares `preprocess: image` (resize 256, crop 224, ImageNet mean and std), and as
`cnn-tensor`, which takes the already-made float32 [1, 3, 224, 224] tensor in the compact
form. One client sends requests one after another (no queueing), so the latency difference
between an image body and the tensor is what decoding costs a request.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
STEPS = {"resize": 256, "crop": 224, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


def _artifact(path: Path) -> None:
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 10),
    ).eval()
    torch.jit.save(torch.jit.trace(model, torch.randn(2, 3, 224, 224)), str(path))


def _stock(cache: Path, artifact: Path) -> None:
    from inference.models.cache import ArtifactStore
    from inference.schemas import ModelRoute, RoutingTable, TensorSpec, VersionSpec

    data = artifact.read_bytes()
    out = TensorSpec(name="logits", dtype="float32", shape=[-1, 10])
    tensor = TensorSpec(name="image", dtype="float32", shape=[-1, 3, 224, 224])
    image = TensorSpec.model_validate({**tensor.model_dump(), "preprocess": {"image": STEPS}})

    def route(name: str, spec: TensorSpec) -> ModelRoute:
        version = VersionSpec(
            version="1",
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            format="torchscript",
            inputs=[spec],
            outputs=[out],
        )
        return ModelRoute(name=name, weights={"1": 100}, versions=[version])

    store = ArtifactStore(cache)
    store.put_file(artifact)
    table = RoutingTable(
        revision=1, models=[route("cnn-image", image), route("cnn-tensor", tensor)]
    )
    store.save_routing(table)


def _encoded(size: tuple[int, int], fmt: str) -> bytes:
    from PIL import Image, ImageFilter

    pixels = np.random.default_rng(1).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    out = io.BytesIO()
    picture = Image.fromarray(pixels).filter(ImageFilter.SMOOTH_MORE)
    picture.save(out, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


def _latencies(client: httpx.Client, body: bytes, headers: dict[str, str], n: int) -> list[float]:
    took = []
    for _ in range(n):
        started = time.perf_counter()
        r = client.post("/predict", content=body, headers=headers)
        took.append((time.perf_counter() - started) * 1000)
        r.raise_for_status()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.images", description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    from bench.serving import free_port, launch, stop, wait_ready

    work = Path(tempfile.mkdtemp(prefix="bench-images-"))
    _artifact(work / "cnn.pt")
    _stock(work / "cache", work / "cnn.pt")
    port = free_port()
    env = {"PIER_INFERENCE_CACHE_DIR": str(work / "cache"), "PIER_INFERENCE_PORT": str(port)}
    env["PIER_INFERENCE_MODEL_THREADS"] = "1"
    process = launch([sys.executable, "-m", "inference"], work / "inference.log", REPO, env)
    tensor = np.random.default_rng(2).standard_normal((1, 3, 224, 224)).astype("<f4")
    cases = [
        (
            "float32 tensor, compact form",
            "cnn-tensor",
            tensor.tobytes(),
            "application/x-pier-tensor",
        ),
        ("JPEG 224x224", "cnn-image", _encoded((224, 224), "JPEG"), "image/jpeg"),
        ("PNG 224x224", "cnn-image", _encoded((224, 224), "PNG"), "image/png"),
        ("JPEG 640x480", "cnn-image", _encoded((640, 480), "JPEG"), "image/jpeg"),
    ]
    try:
        problem = wait_ready(process, f"http://127.0.0.1:{port}/v2/health/ready", 180)
        if problem:
            sys.exit(f"{problem}\n{(work / 'inference.log').read_text()[-2000:]}")
        rows = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for label, model, body, media in cases:
                headers = {"Content-Type": media, "X-Pier-Model": model}
                if model == "cnn-tensor":
                    headers["X-Pier-Shape"] = "1,3,224,224"
                _latencies(client, body, headers, 30)
                took = sorted(_latencies(client, body, headers, args.requests))
                p99 = took[int(len(took) * 0.99) - 1]
                rows.append((label, len(body), statistics.median(took), p99))
    finally:
        stop(process)
    base = rows[0][2]
    print("| request | body bytes | p50 ms | p99 ms | p50 over the tensor |")
    print("|---|---:|---:|---:|---:|")
    for label, size, p50, p99 in rows:
        print(f"| {label} | {size:,} | {p50:.2f} | {p99:.2f} | {p50 - base:+.2f} ms |")


if __name__ == "__main__":
    main()
