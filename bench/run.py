"""`make bench`: serve the same models with Pier and with what a user would pick instead,
drive each with the same wrk load, and print one table per workload.

    .venv/bin/python -m bench.run [--quick] [--servers pier,floor,litserve,...]

The server is pinned to core 0 and wrk to core 1 (taskset), so the two never share a
core. Each concurrency gets a warm-up run, then a measured run. Figures: requests per
second, p50 and p99 latency (wrk), errors (non-2xx, timeouts, socket errors), peak RSS
and CPU used by the server's process tree (from /proc), and rps relative to Pier.
Load goes only to 127.0.0.1 and is bounded in time. The table goes to
bench/results/latest.md too.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import peers, procstats
from bench.workloads import (
    WORKLOADS,
    ModelDef,
    Request,
    Workload,
    in_process_rate,
    json_request,
    save_torchscript,
    v2_binary_request,
)
from inference.artifacts import ArtifactStore
from inference.schemas import ModelRoute, RoutingTable, TensorSpec, VersionSpec

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "latest.md"
LUA = REPO / "bench" / "request.lua"
SERVER_CORE, LOAD_CORE = 0, 1
START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Timing:
    warmup_s: int
    measure_s: int
    concurrencies: tuple[int, ...]


FULL = Timing(warmup_s=5, measure_s=15, concurrencies=(1, 16, 64))
QUICK = Timing(warmup_s=1, measure_s=3, concurrencies=(1, 16, 64))


@dataclass(frozen=True)
class Row:
    server: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    peak_rss_mb: float
    cpu_cores: float


@dataclass
class Running:
    """A started server for one model: how to reach it and which requests it speaks."""

    process: subprocess.Popen[bytes]
    port: int
    request_for: Callable[[Workload], Request | None]


def pinned(core: int, argv: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), *argv]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(process: subprocess.Popen[bytes], url: str, timeout_s: float) -> str | None:
    """None when `url` answers 200 in time; else why not (polls, never sleeps blindly)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"exited with {process.returncode}"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return None
        except httpx.HTTPError:
            pass
        time.sleep(0.2)  # polling interval of a readiness loop with a deadline
    return f"not ready within {timeout_s:.0f} s"


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def spec_of(model: ModelDef, artifact: Path) -> VersionSpec:
    import hashlib

    data = artifact.read_bytes()
    return VersionSpec(
        version="1",
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        format="torchscript",
        inputs=[TensorSpec(name=model.input_name, dtype="float32", shape=[-1, *model.input_shape])],
        outputs=[TensorSpec(name=model.output_name, dtype="float32", shape=[-1, 10])],
    )


def start_pier(model: ModelDef, artifact: Path, work: Path, log: Path) -> Running | str:
    cache = work / f"pier-cache-{model.name}"
    store = ArtifactStore(cache)
    store.put_file(artifact)
    store.save_routing(
        RoutingTable(
            revision=1,
            models=[
                ModelRoute(name=model.name, weights={"1": 100}, versions=[spec_of(model, artifact)])
            ],
        )
    )
    port = free_port()
    env = {
        **os.environ,
        "PIER_INFERENCE_CACHE_DIR": str(cache),
        "PIER_INFERENCE_PORT": str(port),
        "PIER_INFERENCE_HOST": "127.0.0.1",
    }
    argv = pinned(SERVER_CORE, [sys.executable, "-m", "inference"])
    process = subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )
    problem = wait_ready(process, f"http://127.0.0.1:{port}/v2/health/ready", START_TIMEOUT_S)
    if problem:
        stop(process)
        return problem

    def request_for(workload: Workload) -> Request:
        if workload.binary:
            return v2_binary_request(workload)
        return json_request(workload, "/predict", named=True)

    return Running(process, port, request_for)


def start_floor(model: ModelDef, artifact: Path, work: Path, log: Path) -> Running | str:
    port = free_port()
    argv = pinned(
        SERVER_CORE,
        [sys.executable, str(REPO / "bench/servers/floor.py"), str(artifact), str(port)],
    )
    process = subprocess.Popen(argv, cwd=REPO, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    problem = wait_ready(process, f"http://127.0.0.1:{port}/openapi.json", START_TIMEOUT_S)
    if problem:
        stop(process)
        return problem

    def request_for(workload: Workload) -> Request | None:
        # The floor speaks JSON only: binary tensors are what Pier adds.
        return None if workload.binary else json_request(workload, "/predict", named=True)

    return Running(process, port, request_for)


Starter = Callable[[ModelDef, Path, Path, Path], "Running | str"]


def wrk(
    port: int, request: Request, body_file: Path, concurrency: int, seconds: int
) -> dict[str, int]:
    env = {
        **os.environ,
        "BENCH_BODY": str(body_file),
        "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in request.headers.items()),
    }
    argv = pinned(
        LOAD_CORE,
        [
            "wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "10s",
            "-s", str(LUA), f"http://127.0.0.1:{port}{request.path}",
        ],
    )  # fmt: skip
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 60)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line.removeprefix("BENCH "))
    raise RuntimeError(f"wrk printed no figures: {out.stdout}\n{out.stderr}")


def measure(
    server: str, running: Running, request: Request, work: Path, timing: Timing
) -> list[Row]:
    body_file = work / f"body-{server}-{running.port}.bin"
    body_file.write_bytes(request.body)
    rows = []
    for concurrency in timing.concurrencies:
        wrk(running.port, request, body_file, concurrency, timing.warmup_s)
        watcher = procstats.TreeWatcher(running.process.pid)
        with watcher:
            figures = wrk(running.port, request, body_file, concurrency, timing.measure_s)
        seconds = figures["duration_us"] / 1e6
        rows.append(
            Row(
                server=server,
                concurrency=concurrency,
                rps=figures["requests"] / seconds,
                p50_ms=figures["p50_us"] / 1000,
                p99_ms=figures["p99_us"] / 1000,
                errors=figures["errors"],
                peak_rss_mb=watcher.peak_rss_bytes / 2**20,
                cpu_cores=watcher.cpu_seconds / max(watcher.wall_seconds, 1e-9),
            )
        )
    return rows


def render(workload: Workload, rows: list[Row]) -> str:
    pier = {r.concurrency: r.rps for r in rows if r.server == "pier"}
    lines = [
        f"### {workload.key}: {workload.title}",
        "",
        "| server | conc | rps | p50 ms | p99 ms | errors | peak RSS MB | CPU cores "
        "| rps vs Pier |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ratio = f"{r.rps / pier[r.concurrency]:.2f}" if pier.get(r.concurrency) else "n/a"
        lines.append(
            f"| {r.server} | {r.concurrency} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} "
            f"| {r.errors} | {r.peak_rss_mb:.0f} | {r.cpu_cores:.2f} | {ratio} |"
        )
    return "\n".join(lines)


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{platform.node()}: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short runs, Pier and the floor only")
    parser.add_argument("--servers", default="", help="comma-separated subset (default: all)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            print(
                f"bench needs {tool}: apt-get install -y {'wrk' if tool == 'wrk' else 'util-linux'}"
            )
            return 2
    if (os.cpu_count() or 1) < 2:
        print("bench needs two cores: one for the server, one for wrk")
        return 2
    timing = QUICK if args.quick else FULL
    starters: dict[str, Starter] = {"pier": start_pier, "floor": start_floor}
    if not args.quick:
        starters.update(peers.starters())
    if args.servers:
        wanted = [s.strip() for s in args.servers.split(",") if s.strip()]
        starters = {k: v for k, v in starters.items() if k in wanted}
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = [
        f"Run {started} on {machine()}.",
        f"Server pinned to core {SERVER_CORE}, wrk (1 thread) to core {LOAD_CORE} with taskset; "
        f"warm-up {timing.warmup_s} s, then {timing.measure_s} s measured per concurrency"
        + (" (--quick: Pier and the floor only)." if args.quick else "."),
    ]
    print("\n".join(header), flush=True)
    rates = []
    for workload in WORKLOADS:
        if workload.key in ("W1", "W2-json"):
            rate = in_process_rate(workload, seconds=1.0 if args.quick else 3.0)
            unit = "row" if workload.model.name == "mlp" else "image"
            rates.append(
                f"{workload.model.name}: {rate:,.0f} single-{unit} forward passes/s "
                "in-process, 1 thread"
            )
    tables: dict[str, list[Row]] = {w.key: [] for w in WORKLOADS}
    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="pier-bench-") as tmp:
        work = Path(tmp)
        artifacts = {
            name: save_torchscript(m, work / f"{name}.pt")
            for name, m in (("mlp", WORKLOADS[0].model), ("cnn", WORKLOADS[1].model))
        }
        for server, start in starters.items():
            for model_name, artifact in artifacts.items():
                workloads = [w for w in WORKLOADS if w.model.name == model_name]
                log = work / f"{server}-{model_name}.log"
                print(f"- {server} serving {model_name} ...", flush=True)
                running = start(workloads[0].model, artifact, work, log)
                if isinstance(running, str):
                    reason = f"{server} ({model_name}) skipped: {running}"
                    skipped.append(reason)
                    print(f"  {reason}; log tail:\n{procstats.tail(log)}", flush=True)
                    continue
                try:
                    for workload in workloads:
                        request = running.request_for(workload)
                        if request is None:
                            continue
                        tables[workload.key] += measure(server, running, request, work, timing)
                finally:
                    stop(running.process)
    sections = [*header, "", *(f"- {r}" for r in rates), ""]
    for workload in WORKLOADS:
        sections += [render(workload, tables[workload.key]), ""]
    if skipped:
        sections += ["Skipped:", *(f"- {s}" for s in skipped), ""]
    text = "\n".join(sections)
    print("\n" + text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"written to {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
