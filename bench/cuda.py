"""``python -m bench.cuda``: Pier's inference service on a GPU, beside the same service on
the same machine's CPU, over HTTP.

For each model, `python -m inference` starts with PIER_INFERENCE_DEVICE=cpu, then with
cuda: the same cores, the same settings otherwise. Each answers one sample, and the two
answers are compared; /healthz must name the device. Then the same closed-loop load
(bench/closedloop.py) drives each after a warm-up: rps, p50, p99, errors, and the GPU
memory the service process holds (nvidia-smi). Models:

- W1's MLP, one row a request, JSON: HTTP is the whole cost; a GPU adds a copy each way.
- W2's CNN on 3x64x64, one image a request, /v2 binary tensors.
- A wider CNN on a 3x224x224 image (0.58 GFLOP), /v2 binary: the model is the cost on a
  CPU, which is what a GPU is for.

The table goes to stdout and, with --out, to a file. Torch (and bench.serving, which
imports it) are imported where they are used: the load processes re-import this module,
and a CUDA build of torch takes seconds to import.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import numpy as np

from bench import closedloop

if TYPE_CHECKING:
    from bench.workloads import ModelDef, Request, Workload

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Case:
    key: str
    workload: Workload
    artifact: Path


@dataclass
class Result:
    case: str
    device: str
    health_device: str
    figures: closedloop.Figures | None
    gpu_mb: float | None
    gpu_util: float | None
    max_diff: float | None = None
    problem: str = ""


def _cores(spec: str) -> list[int]:
    cores: list[int] = []
    for part in spec.split(","):
        low, _, high = part.partition("-")
        cores += range(int(low), int(high or low) + 1)
    return cores


def _cases(work: Path) -> list[Case]:
    import torch
    from torch import nn

    from bench.workloads import MODELS, SEED, WORKLOADS, ModelDef, Workload, save_torchscript

    class WideCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(SEED)
            self.net = nn.Sequential(
                nn.Conv2d(3, 64, 7, stride=2, padding=3), nn.ReLU(), nn.MaxPool2d(3, 2, 1),
                nn.Conv2d(64, 128, 3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(128, 256, 3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(256, 512, 3, stride=2, padding=1), nn.ReLU(),
                nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 10),
            )  # fmt: skip

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)

    wide = ModelDef("wide", "image", (3, 224, 224), "logits")
    wide_path = work / "wide.pt"
    torch.jit.script(WideCNN().eval()).save(str(wide_path))
    by_key = {w.key: w for w in WORKLOADS}
    return [
        Case("W1", by_key["W1"], save_torchscript(MODELS["mlp"], work / "mlp.pt")),
        Case("W2-binary", by_key["W2-binary"], save_torchscript(MODELS["cnn"], work / "cnn.pt")),
        Case(
            "wide-binary",
            Workload("wide-binary", "wide CNN on 3x224x224, /v2 binary", wide, 1, binary=True),
            wide_path,
        ),
    ]


def _request(workload: Workload) -> Request:
    from bench.pier import pier_requests

    return pier_requests(workload)


def _stock(cache: Path, model: ModelDef, artifact: Path) -> None:
    from bench.pier import PierOptions, routing_table
    from inference.models.cache import ArtifactStore

    store = ArtifactStore(cache)
    store.put_file(artifact)
    store.save_routing(routing_table(model, artifact, PierOptions(), 1, {"1": 100}))


def _answer(port: int, request: Request) -> np.ndarray:
    """The first output of one request, as float32, from JSON or the binary extension."""
    answer = httpx.post(
        f"http://127.0.0.1:{port}{request.path}",
        content=request.body,
        headers=request.headers,
        timeout=60,
    )
    answer.raise_for_status()
    size = answer.headers.get("inference-header-content-length")
    if size is None:
        return np.asarray(answer.json()["outputs"], dtype=np.float32)
    return np.frombuffer(answer.content[int(size) :], dtype="<f4")


class GpuSampler:
    """nvidia-smi every half second while the load runs: the GPU's busy share, and the
    memory the service holds (its process and, with several workers, their children)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.util: list[float] = []
        self.memory_mb: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> GpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            util = _smi("--query-gpu=utilization.gpu")
            if util:
                self.util.append(float(util[0][0]))
            tree = _process_tree(self.pid)
            used = [float(mb) for pid, mb in _smi("--query-compute-apps=pid,used_memory")
                    if int(pid) in tree]  # fmt: skip
            if used:
                self.memory_mb = max(self.memory_mb or 0.0, sum(used))


def _process_tree(pid: int) -> set[int]:
    """`pid` and its descendants, from /proc (a worker's children hold its models)."""
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        found.add(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(c) for c in children.read_text().split()]
            except OSError:
                continue  # the task ended
    return found


def _smi(query: str) -> list[list[str]]:
    try:
        done = subprocess.run(
            ["nvidia-smi", query, "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [[f.strip() for f in line.split(",")] for line in done.stdout.splitlines() if line]


def _serve(
    case: Case, device: str, work: Path, cores: list[int], extra: dict[str, str]
) -> tuple[subprocess.Popen[bytes], int]:
    from bench.serving import free_port

    cache = work / f"cache-{case.key}-{device}"
    _stock(cache, case.workload.model, case.artifact)
    port = free_port()
    env = {
        **os.environ,
        "PIER_INFERENCE_CACHE_DIR": str(cache),
        "PIER_INFERENCE_PORT": str(port),
        **extra,
        "PIER_INFERENCE_DEVICE": device,
    }
    with (work / f"{case.key}-{device}.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "inference"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None,
        )
    return process, port


def measure(
    case: Case, device: str, work: Path, args: argparse.Namespace
) -> tuple[Result, np.ndarray | None]:
    from bench.serving import stop, wait_ready

    request = _request(case.workload)
    extra = dict(pair.split("=", 1) for pair in args.env)
    process, port = _serve(case, device, work, _cores(args.server_cores), extra)
    try:
        problem = wait_ready(process, f"http://127.0.0.1:{port}/v2/health/ready", 180)
        if problem:
            log = (work / f"{case.key}-{device}.log").read_text()[-2000:]
            return Result(case.key, device, "", None, None, None, problem=f"{problem}\n{log}"), None
        health = httpx.get(f"http://127.0.0.1:{port}/healthz").json()["device"]
        output = _answer(port, request)
        load_cores = _cores(args.load_cores) if args.load_cores else []
        closedloop.run(port, request, args.connections, args.warmup, args.processes, load_cores)
        with GpuSampler(process.pid) as gpu:
            figures = closedloop.run(
                port, request, args.connections, args.seconds, args.processes, load_cores
            )
        util = sum(gpu.util) / len(gpu.util) if gpu.util else None
        return Result(case.key, device, health, figures, gpu.memory_mb, util), output
    finally:
        stop(process)


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _row(r: Result) -> str:
    f = r.figures
    return (
        f"| {r.case} | {r.device} | {r.health_device or '-'} | "
        f"{_fmt(f.rps if f else None, ',.0f')} | {_fmt(f.p50_ms if f else None, '.2f')} | "
        f"{_fmt(f.p99_ms if f else None, '.2f')} | {f.errors if f else '-'} | "
        f"{_fmt(r.gpu_mb, ',.0f')} | {_fmt(r.gpu_util, '.0f')} | {_fmt(r.max_diff, '.2e')} |"
    )


def table(results: list[Result], header: str) -> str:
    lines = [
        header,
        "",
        "| workload | device | /healthz says | rps | p50 ms | p99 ms | errors | GPU MB "
        "| GPU busy % | max diff to CPU |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
        *(_row(r) for r in results),
    ]
    for r in results:
        if r.problem:
            lines += ["", f"{r.case} on {r.device} did not run: {r.problem}"]
    return "\n".join(lines) + "\n"


def _machine(args: argparse.Namespace) -> str:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    driver = _smi("--query-gpu=driver_version")
    return (
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; torch {torch.__version__} "
        f"(CUDA {torch.version.cuda}); {gpu}, driver {driver[0][0] if driver else '-'}; "
        f"{os.cpu_count()} CPUs; server on cores {args.server_cores}, load on "
        f"{args.load_cores or 'any'} ({args.processes} processes); {args.connections} "
        f"connections; {args.warmup:.0f} s warm-up, {args.seconds:.0f} s measured"
        + (f"; {', '.join(args.env)}" if args.env else "")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cuda", description=__doc__)
    parser.add_argument("--devices", default="cpu,cuda")
    parser.add_argument("--cases", default="W1,W2-binary,wide-binary")
    parser.add_argument("--server-cores", default="0-3")
    parser.add_argument("--load-cores", default="4-15")
    parser.add_argument("--processes", type=int, default=6)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for both services, e.g. PIER_INFERENCE_MODEL_THREADS=1 (repeatable)",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    devices = args.devices.split(",")
    header = f"Pier on {' and '.join(devices)}: {_machine(args)}"
    print(header, flush=True)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="pier-cuda-") as tmp:
        work = Path(tmp)
        wanted = set(args.cases.split(","))
        for case in [c for c in _cases(work) if c.key in wanted]:
            outputs: dict[str, np.ndarray] = {}
            for device in devices:
                result, output = measure(case, device, work, args)
                if output is not None:
                    outputs[device] = output
                    if "cpu" in outputs and device != "cpu":
                        result.max_diff = float(np.abs(output - outputs["cpu"]).max())
                results.append(result)
                print(_row(result), flush=True)
    text = table(results, header)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0 if all(not r.problem for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
