"""wrk, pinned to the load core, and the figures of one measured run (the model's own rate
beside it where a target needs it); a keep-alive load that records every request."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import multiprocessing as mp
import os
import platform
import queue
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

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


@dataclass(frozen=True)
class Sample:
    started: float  # time.monotonic(): the same clock in every process
    ended: float
    ok: bool
    detail: str


async def _drive(
    url: str, request: Request, clients: int, seconds: float, timeout_s: float
) -> tuple[float, list[Sample]]:
    samples: list[Sample] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=timeout_s, limits=limits) as http:
        t0 = time.monotonic()

        async def client() -> None:
            while time.monotonic() < t0 + seconds:
                started = time.monotonic()
                try:
                    r = await http.post(request.path, content=request.body, headers=request.headers)
                    ok, detail = r.status_code == 200, f"HTTP {r.status_code}"
                except httpx.HTTPError as e:
                    ok, detail = False, type(e).__name__
                samples.append(Sample(started, time.monotonic(), ok, detail))

        await asyncio.gather(*(client() for _ in range(clients)))
    return t0, samples


def _load_process(
    url: str, request: Request, clients: int, seconds: float, timeout_s: float, core: int, out: Any
) -> None:
    os.sched_setaffinity(0, {core})
    out.put(asyncio.run(_drive(url, request, clients, seconds, timeout_s)))


class Load:
    """Closed-loop keep-alive clients for `seconds`, in a process of their own on `core`,
    each request's outcome kept (wrk counts, this records); `finish()` returns them."""

    def __init__(
        self,
        url: str,
        request: Request,
        clients: int,
        seconds: float,
        core: int,
        timeout_s: float = 30.0,
    ) -> None:
        ctx = mp.get_context("spawn")
        self._out: Any = ctx.Queue()
        self._wait_s = seconds + timeout_s + 60
        args = (url, request, clients, seconds, timeout_s, core, self._out)
        self._process = ctx.Process(target=_load_process, args=args, daemon=True)

    def start(self) -> None:
        self._process.start()

    def finish(self) -> tuple[float, list[Sample]]:
        """The load's start (time.monotonic()) and every request it made."""
        deadline = time.monotonic() + self._wait_s
        try:
            while time.monotonic() < deadline:
                with contextlib.suppress(queue.Empty):
                    found: tuple[float, list[Sample]] = self._out.get(timeout=1)
                    return found
                if not self._process.is_alive():
                    raise RuntimeError(f"the load exited with {self._process.exitcode}")
            raise RuntimeError("the load did not finish in time")
        finally:
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.kill()
