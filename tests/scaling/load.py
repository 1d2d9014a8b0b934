"""A bounded, closed-loop load on 127.0.0.1 for the scaling tests: every request counted."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
from dataclasses import dataclass
from typing import Any

import httpx

ROW = [5.1, 3.5, 1.4, 0.2]
SPIKE_CLIENTS = 8


def spike_scaling(scale_down_window_s: int) -> dict[str, Any]:
    """The spike tests' settings: 1-3 workers at 2 in flight each, scaling up at once."""
    return {
        "min_replicas": 1,
        "max_replicas": 3,
        "target_metric": "inflight",
        "target_value": 2,
        "scale_up": {
            "stabilization_window_s": 0,
            "policies": [{"type": "Pods", "value": 4, "period_s": 15}],
        },
        "scale_down": {
            "stabilization_window_s": scale_down_window_s,
            "policies": [{"type": "Percent", "value": 100, "period_s": 15}],
        },
    }


@dataclass
class Sample:
    started: float
    latency_s: float
    ok: bool
    detail: str = ""


class Load:
    """Closed-loop keep-alive clients in a process of their own, so that they share no
    interpreter lock with the pool's supervisor (in the test's process, as in `pier up`'s).
    `clients` can change while it runs; `finish()` stops it and returns every request."""

    def __init__(self, url: str, clients: int = 1) -> None:
        ctx = mp.get_context("spawn")
        self._clients = ctx.Value("i", clients)
        self._stop = ctx.Event()
        self._out: mp.Queue[list[Sample]] = ctx.Queue()
        self._proc = ctx.Process(
            target=_run, args=(url, self._clients, self._stop, self._out), daemon=True
        )
        self.samples: list[Sample] = []

    @property
    def clients(self) -> int:
        return int(self._clients.value)

    @clients.setter
    def clients(self, n: int) -> None:
        self._clients.value = n

    def start(self) -> None:
        self._proc.start()

    def finish(self, timeout_s: float = 60.0) -> list[Sample]:
        self._stop.set()
        try:
            self.samples = self._out.get(timeout=timeout_s)
        finally:
            self._proc.join(timeout=10)
            if self._proc.is_alive():
                self._proc.kill()
        return self.samples


async def _client(
    http: httpx.AsyncClient, index: int, clients: Any, stop: Any, samples: list[Sample]
) -> None:
    while not stop.is_set():
        if index >= clients.value:
            await asyncio.sleep(0.05)
            continue
        t0 = time.monotonic()  # CLOCK_MONOTONIC: the same clock in every process
        try:
            r = await http.post("/predict", json={"model": "iris", "inputs": [ROW]})
            ok, detail = r.status_code == 200, f"{r.status_code} {r.text[:200]}"
        except httpx.HTTPError as e:
            ok, detail = False, repr(e)
        samples.append(Sample(t0, time.monotonic() - t0, ok, "" if ok else detail))


async def _main(url: str, clients: Any, stop: Any) -> list[Sample]:
    samples: list[Sample] = []
    limits = httpx.Limits(max_connections=SPIKE_CLIENTS, max_keepalive_connections=SPIKE_CLIENTS)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        await asyncio.gather(
            *(_client(http, i, clients, stop, samples) for i in range(SPIKE_CLIENTS))
        )
    return samples


def _run(url: str, clients: Any, stop: Any, out: Any) -> None:
    out.put(asyncio.run(_main(url, clients, stop)))


def quantile_ms(samples: list[Sample], q: float) -> float:
    latencies = sorted(s.latency_s for s in samples)
    assert latencies, "no request in this phase"
    return 1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))]


def p99_ms(samples: list[Sample]) -> float:
    return quantile_ms(samples, 0.99)


# The spike tests' workers, beyond what tests.support.platform.local_inference sets.
WORKER_ENV = {
    # One model call per request: a worker's cost grows with its load, as with a model
    # too large to batch, so more workers is what brings latency down.
    "PIER_INFERENCE_MAX_BATCH_ROWS": "1",
    # Admission control would otherwise shed the spike with 503s (its default is
    # 2 x cores x batch rows = 4 here); these tests are about the latency that scaling
    # out recovers, so the one worker at the spike's start queues them instead.
    "PIER_INFERENCE_MAX_IN_FLIGHT": "16",
}
