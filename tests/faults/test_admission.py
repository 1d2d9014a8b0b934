"""Admission control on a real replica: past `max_in_flight` prediction requests, the next
ones get 503 with Retry-After at once, health answers throughout, and every admitted
request gets its answer."""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from pathlib import Path

import httpx
import pytest

from bench.faults import models
from bench.faults.stack import predict_body, replica
from inference.execution.admission import default_limit

pytestmark = pytest.mark.e2e


async def _burst(url: str, n: int) -> tuple[list[httpx.Response], list[float], int]:
    body = predict_body()
    limits = httpx.Limits(max_connections=n + 1)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as c:

        async def one() -> tuple[httpx.Response, float]:
            start = time.perf_counter()
            r = await c.post("/predict", content=body)
            return r, time.perf_counter() - start

        async def health() -> int:
            await asyncio.sleep(0.05)
            return (await c.get("/healthz")).status_code

        burst = asyncio.gather(*(one() for _ in range(n)))
        health_code = await health()  # while the burst is in flight
        answers = await burst
    return [r for r, _ in answers], [s for _, s in answers], health_code


def test_requests_beyond_the_limit_get_503_with_retry_after_at_once(tmp_path: Path) -> None:
    # A slow model (tens of ms a call) so that the burst piles up in flight.
    artifact = models.slow(tmp_path / "slow.pt", rounds=200)
    with replica({"iris": artifact}, max_in_flight=4, max_batch_rows=1) as r:
        responses, seconds, health = asyncio.run(_burst(r.url, 24))
        exposition = httpx.get(f"{r.url}/metrics", timeout=10).text
    codes = [resp.status_code for resp in responses]
    refused = [s for resp, s in zip(responses, seconds, strict=True) if resp.status_code == 503]
    admitted = [s for resp, s in zip(responses, seconds, strict=True) if resp.status_code == 200]
    print(
        f"\n24 at once, limit 4: {len(admitted)} answered (slowest {max(admitted) * 1000:.0f} "
        f"ms), {len(refused)} refused (median {sorted(refused)[len(refused) // 2] * 1000:.0f} ms)"
    )
    assert set(codes) == {200, 503}
    assert len(admitted) >= 4
    # Refused at once: before the admitted ones, which wait for the model, are answered.
    assert sorted(refused)[len(refused) // 2] < max(admitted)
    for resp in responses:
        if resp.status_code == 503:
            assert resp.headers["retry-after"] == "1"
            error = resp.json()["error"]
            assert error["type"] == "overloaded" and "limit" in error["message"]
    assert health == 200
    # Operators see the refusals: counted apart, since no model was resolved for them.
    counted = [
        float(line.split()[-1])
        for line in exposition.splitlines()
        if line.startswith("pier_admission_refused_total ")
    ]
    assert counted == [len(refused)]


def test_a_slow_model_admits_only_max_queue_s_of_work(tmp_path: Path) -> None:
    """A burst far below the count limit (256 on the replica's one core), to a model of
    tens of ms a call: with max_queue_s, the worker admits what it can serve within about
    that time at the pace it learned, and refuses the rest at once; without it, every
    request queues, and the last waits for all the others."""
    artifact = models.slow(tmp_path / "slow.pt", rounds=200)
    bound_s = 0.3
    burst = 0
    slowest: dict[float, float] = {}
    for max_queue_s in (bound_s, 0.0):
        with replica({"iris": artifact}, max_batch_rows=1, max_queue_s=max_queue_s) as r:
            with httpx.Client(base_url=r.url, timeout=30) as c:
                took = []
                for _ in range(40):  # one at a time: the worker learns its pace
                    start = time.perf_counter()
                    assert c.post("/predict", content=predict_body()).status_code == 200
                    took.append(time.perf_counter() - start)
            # Enough requests for four times the bound's work, at the pace just measured.
            burst = burst or max(40, min(200, math.ceil(4 * bound_s / statistics.median(took))))
            responses, seconds, health = asyncio.run(_burst(r.url, burst))
        assert health == 200
        admitted = [
            s for resp, s in zip(responses, seconds, strict=True) if resp.status_code == 200
        ]
        refused = [resp for resp in responses if resp.status_code == 503]
        assert len(admitted) + len(refused) == burst
        slowest[max_queue_s] = max(admitted)
        print(
            f"\nmax_queue_s {max_queue_s}: {len(admitted)} of {burst} admitted (a call took "
            f"{statistics.median(took) * 1000:.1f} ms alone), slowest answered in "
            f"{max(admitted) * 1000:.0f} ms; {len(refused)} refused"
        )
        if max_queue_s:
            assert refused, f"a burst of {burst} slow requests was all admitted"
            assert len(admitted) >= 2, "fewer than the floor (2 a core) admitted"
            for resp in refused:
                assert resp.headers["retry-after"] == "1"
                error = resp.json()["error"]
                assert error["type"] == "overloaded"
                assert f"max_queue_s of {bound_s:g} s" in error["message"], error["message"]
        else:
            assert not refused
    # Bounded in time, the admitted requests' wait is a fraction of the unbounded one's.
    assert slowest[bound_s] < slowest[0.0] / 2, slowest


def test_the_default_limit_scales_with_cores_and_batches() -> None:
    assert default_limit(2, 32) == 512
    assert default_limit(4, 32) == 1024
    # Batches larger than the floor: each slot fills its batch twice over.
    assert default_limit(2, 256) == 1024
    # Batching off still leaves room for a burst.
    assert default_limit(2, 1) == 512
