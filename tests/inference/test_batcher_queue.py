"""The batcher's queue on its own: requests that leave it (their clients gave up) no longer
count toward a full batch, and never reach the model."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np

from inference.batching import Arrays, Batcher, BatchPolicy, Outputs
from inference.model_threads import Done, ModelThreads

WAIT_S = 0.3


def rows(n: int, value: float) -> dict[str, np.ndarray]:
    return {"x": np.full((n, 2), value, dtype=np.float32)}


def test_requests_that_left_the_queue_do_not_fill_a_batch() -> None:
    seen: list[np.ndarray] = []
    gate = threading.Event()
    threads = ModelThreads(1)

    def start(arrays: Arrays, n: int, done: Done[Outputs]) -> None:
        def call() -> Outputs:
            gate.wait(10)
            seen.append(arrays["x"][:, 0].copy())
            return {"y": arrays["x"] * 2}

        threads.submit(call, done)

    async def scenario() -> tuple[list[float], Batcher]:
        batcher = Batcher(
            start,
            BatchPolicy(max_rows=8, max_wait_s=WAIT_S, adaptive=False),
            slots=1,
            clock=time.perf_counter,
        )
        first = batcher.submit(rows(1, 1.0), 1)  # runs at once, held at the gate
        left = [batcher.submit(rows(3, 2.0), 3), batcher.submit(rows(3, 3.0), 3)]
        queued_at = time.perf_counter()
        stays = batcher.submit(rows(1, 4.0), 1)  # 7 rows queued: not yet a full batch
        for future in left:
            future.cancel()  # their clients went away while they queued
        gate.set()
        await first
        late = batcher.submit(rows(1, 5.0), 1)
        # 2 rows and 2 requests queued, where the queue lately held 3: the batch waits for
        # more (up to the max wait). Counting the 6 rows that left, it would be full.
        answers = await asyncio.gather(stays, late)
        assert [a["y"][0, 0] for a in answers] == [8.0, 10.0]
        waits = [time.perf_counter() - queued_at]
        # Again, once those two rows have gone to the model: 6 rows queued are not 8.
        gate.clear()
        blocked = batcher.submit(rows(1, 6.0), 1)
        queued_at = time.perf_counter()
        six = batcher.submit(rows(6, 7.0), 6)
        gate.set()
        await blocked
        await six
        waits.append(time.perf_counter() - queued_at)
        return waits, batcher

    try:
        waits, batcher = asyncio.run(scenario())
    finally:
        threads.close()
    assert [list(s) for s in seen] == [[1.0], [4.0, 5.0], [6.0], [7.0] * 6], (
        "rows that left reached the model"
    )
    for waited in waits:
        # A batch that counts as full goes when the call before it ends, at once here.
        assert waited >= WAIT_S * 0.9, f"a batch went after {waited:.3f} s: it counted as full"
    assert batcher.stats.rows == 10 and batcher.stats.held == 2
