"""Closed-loop HTTP load from several processes, for machines with cores to spare.

Each connection sends its next request as soon as the answer to the last one is read, so
the figure is the most the server answers at that many requests in flight. wrk does this
where it is installed (bench/loadgen.py); where it is not, these processes do, each pinned
to its own share of the load cores. Every process starts its load at the same moment,
after all have started, and stops at the same moment.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.faults.load import percentile, read_response

if TYPE_CHECKING:  # bench.workloads imports torch: the load processes need none of it
    from bench.workloads import Request

LEAD_S = 5.0  # for the load processes to start before the load does


@dataclass(frozen=True)
class Figures:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wire(request: Request, port: int) -> bytes:
    """The whole HTTP/1.1 request, sent as is on every round."""
    head = [f"POST {request.path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    head += [f"{k}: {v}" for k, v in request.headers.items()]
    head.append(f"Content-Length: {len(request.body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + request.body


async def _connection(port: int, payload: bytes, end: float, out: list[float]) -> int:
    """Round trips until `end`; their latencies (s) go to `out`; returns the errors."""
    errors = 0
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < end:
            sent = time.perf_counter()
            writer.write(payload)
            status, _, closing = await asyncio.wait_for(read_response(reader), 30)
            if status == 200:
                out.append(time.perf_counter() - sent)
            else:
                errors += 1
            if closing:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()
    return errors


async def _drive(
    port: int, payload: bytes, connections: int, start_at: float, seconds: float
) -> tuple[list[float], int, float]:
    """Latencies, errors, and how late this process began (s)."""
    out: list[float] = []
    await asyncio.sleep(max(0.0, start_at - time.time()))
    late = time.time() - start_at
    end = time.perf_counter() + seconds
    errors = await asyncio.gather(
        *(_connection(port, payload, end, out) for _ in range(connections))
    )
    return out, sum(errors), late


Job = tuple[int, bytes, int, float, float, list[int]]


def _process(job: Job) -> tuple[list[float], int, float]:
    port, payload, connections, start_at, seconds, cores = job
    if cores:
        os.sched_setaffinity(0, cores)
    return asyncio.run(_drive(port, payload, connections, start_at, seconds))


def run(
    port: int,
    request: Request,
    connections: int,
    seconds: float,
    processes: int,
    cores: list[int],
) -> Figures:
    """`connections` in flight, spread over `processes` load processes on `cores`."""
    payload = wire(request, port)
    processes = max(1, min(processes, connections))
    shares = [connections // processes + (i < connections % processes) for i in range(processes)]
    per = max(1, len(cores) // processes) if cores else 0
    start_at = time.time() + LEAD_S
    jobs: list[Job] = [
        (port, payload, n, start_at, seconds, cores[i * per : (i + 1) * per] if cores else [])
        for i, n in enumerate(shares)
    ]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map(_process, jobs, chunksize=1)
    late = max(r[2] for r in results)
    if late > 0.2 * seconds:
        raise RuntimeError(f"a load process began {late:.1f} s late: raise LEAD_S")
    latencies = sorted(x * 1000 for lat, _, _ in results for x in lat)
    return Figures(
        requests=len(latencies),
        errors=sum(e for _, e, _ in results),
        seconds=seconds,
        p50_ms=percentile(latencies, 0.50) or 0.0,
        p99_ms=percentile(latencies, 0.99) or 0.0,
    )
