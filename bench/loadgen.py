"""wrk, pinned to the load core, and the figures of one measured run (the model's own rate
beside it where a target needs it), and the host they were taken on."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench import procstats
from bench.serving import LOAD_CORE, SERVER_CORE, Running, pinned
from bench.workloads import Request, Workload, in_process_rate

LUA = Path(__file__).resolve().parent / "request.lua"
SETTLE_S = 1.0  # between the warm-up and the measured run
PAIRED_RATE_S = 2.0  # the model's own rate beside a paired row, measured this long


@dataclass(frozen=True)
class Timing:
    warmup_s: int
    measure_s: int
    concurrencies: tuple[int, ...]


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
    requests: int = 0
    # The model's own single-thread rate, measured in-process just before this row (the
    # W2 binary rows; 0 where it was not measured): the reference for the W2 target.
    model_rate: float = 0.0


def wrk(
    port: int,
    request: Request,
    body_file: Path,
    concurrency: int,
    seconds: int,
    delay_ms: float | None = None,
    poisson: bool = False,
) -> dict[str, int]:
    """One wrk run; with delay_ms, each connection waits that long before each request
    (with poisson, a wait drawn from an exponential distribution of that mean)."""
    env = {
        **os.environ,
        "BENCH_BODY": str(body_file),
        "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in request.headers.items()),
    }
    if delay_ms is not None:
        env["BENCH_DELAY_MS"] = str(delay_ms)
        if poisson:
            env["BENCH_POISSON"] = "1"
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
            figures: dict[str, int] = json.loads(line.removeprefix("BENCH "))
            return figures
    raise RuntimeError(f"wrk printed no figures: {out.stdout}\n{out.stderr}")


def measure_one(
    server: str,
    running: Running,
    request: Request,
    work: Path,
    concurrency: int,
    timing: Timing,
    delay_ms: float | None = None,
    poisson: bool = False,
) -> Row:
    """A warm-up run, then a measured one with the server tree's CPU and RSS watched."""
    body_file = work / f"body-{server}-{running.port}-{abs(hash(request.body))}.bin"
    if not body_file.exists():
        body_file.write_bytes(request.body)
    if timing.warmup_s:
        wrk(running.port, request, body_file, concurrency, timing.warmup_s, delay_ms, poisson)
        # wrk ends by dropping its connections with requests in flight, which the server
        # still finishes: let it, or they count against the measured run (as admission
        # refusals, under a tight admission limit).
        time.sleep(SETTLE_S)
    watcher = procstats.TreeWatcher(running.process.pid)
    with watcher:
        figures = wrk(
            running.port, request, body_file, concurrency, timing.measure_s, delay_ms, poisson
        )
    seconds = figures["duration_us"] / 1e6
    return Row(
        server=server,
        concurrency=concurrency,
        rps=figures["requests"] / seconds,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        errors=figures["errors"],
        peak_rss_mb=watcher.peak_rss_bytes / 2**20,
        cpu_cores=watcher.cpu_seconds / max(watcher.wall_seconds, 1e-9),
        requests=figures["requests"],
    )


def measure(
    server: str, running: Running, request: Request, work: Path, timing: Timing
) -> list[Row]:
    return [measure_one(server, running, request, work, c, timing) for c in timing.concurrencies]


def machine() -> str:
    """The host, its cores, and how busy it was when the run began."""
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    load = os.getloadavg()[0]
    return (
        f"{platform.node()}: {os.cpu_count()} cores ({cpu}), Python "
        f"{platform.python_version()}, load average {load:.2f} at the start"
    )


def measure_paired(
    server: str, running: Running, workload: Workload, request: Request, work: Path, timing: Timing
) -> list[Row]:
    """measure(), with the model's own rate taken in-process just before each concurrency's
    runs: a shared host's speed drifts by tens of percent over a run, and the W2 target
    compares the server with the model at the same moment."""
    rows = []
    for concurrency in timing.concurrencies:
        rate = in_process_rate(workload, seconds=PAIRED_RATE_S, core=SERVER_CORE)
        one = Timing(timing.warmup_s, timing.measure_s, (concurrency,))
        row = measure_one(server, running, request, work, concurrency, one)
        rows.append(dataclasses.replace(row, model_rate=rate))
    return rows
