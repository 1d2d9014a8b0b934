"""The batcher's queue on its own: what a free call waits for, which requests skip the
queue, and requests that leave it (their clients gave up), which neither fill a batch nor
reach the model."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import numpy as np

from inference.execution.batcher import Arrays, Batcher, BatchPolicy, Outputs, StartCall
from inference.execution.model_threads import Done, ModelThreads

WAIT_S = 0.3


def rows(n: int, value: float) -> dict[str, np.ndarray]:
    return {"x": np.full((n, 2), value, dtype=np.float32)}


def gated_start(
    threads: ModelThreads,
    gate: threading.Event,
    seen: Callable[[Arrays, int], None] | None = None,
) -> StartCall:
    """A model call on `threads` that doubles its input once `gate` is open (it waits at
    most 10 s); `seen` is told each call's inputs and rows as it runs."""

    def start(arrays: Arrays, n: int, done: Done[Outputs]) -> None:
        def call() -> Outputs:
            gate.wait(10)
            if seen is not None:
                seen(arrays, n)
            return {"y": arrays["x"] * 2}

        threads.submit(call, done)

    return start


async def behind_a_call(batcher: Batcher, gate: threading.Event, queued: int) -> float:
    """Seconds from the model's call ending to the answer of `queued` one-row requests that
    queued behind it."""
    gate.clear()
    running = batcher.submit(rows(1, 1.0), 1)
    waiting = [batcher.submit(rows(1, 2.0), 1) for _ in range(queued)]
    freed = time.perf_counter()
    gate.set()
    await running
    await asyncio.gather(*waiting)
    return time.perf_counter() - freed


def test_requests_that_left_the_queue_do_not_fill_a_batch() -> None:
    seen: list[np.ndarray] = []
    gate = threading.Event()
    threads = ModelThreads(1)
    gate.set()
    start = gated_start(threads, gate, lambda arrays, n: seen.append(arrays["x"][:, 0].copy()))

    async def scenario() -> tuple[list[float], Batcher]:
        batcher = Batcher(
            start,
            BatchPolicy(max_rows=8, max_wait_s=WAIT_S, adaptive=False),
            slots=1,
            clock=time.perf_counter,
        )
        # Three requests queue behind a call and go together: every call so far found
        # three queued, so a free call now waits for three (up to the max wait).
        gate.clear()
        opening = batcher.submit(rows(1, 0.0), 1)
        three = [batcher.submit(rows(1, 0.5), 1) for _ in range(3)]
        gate.set()
        await asyncio.gather(opening, *three)
        gate.clear()
        first = batcher.submit(rows(1, 1.0), 1)  # runs at once, held at the gate
        left = [batcher.submit(rows(3, 2.0), 3), batcher.submit(rows(3, 3.0), 3)]
        queued_at = time.perf_counter()
        stays = batcher.submit(rows(1, 4.0), 1)  # 7 rows queued: not yet a full batch
        for future in left:
            future.cancel()  # their clients went away while they queued
        gate.set()
        await first
        late = batcher.submit(rows(1, 5.0), 1)
        # 2 rows and 2 requests queued, where every call lately found 3: the batch waits
        # for more (up to the max wait). Counting the 6 rows that left, it would be full.
        answers = await asyncio.gather(stays, late)
        assert [a["y"][0, 0] for a in answers] == [8.0, 10.0]
        waits = [time.perf_counter() - queued_at]
        # Again, once those two rows have gone to the model (a call found 2 queued: the
        # target is now 2): 6 rows in one request are not 8 rows, nor 2 requests.
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
    assert [list(s) for s in seen] == [[0.0], [0.5] * 3, [1.0], [4.0, 5.0], [6.0], [7.0] * 6], (
        "rows that left reached the model"
    )
    for waited in waits:
        # A batch that counts as full goes when the call before it ends, at once here.
        assert waited >= WAIT_S * 0.9, f"a batch went after {waited:.3f} s: it counted as full"
    assert batcher.stats.rows == 14 and batcher.stats.held == 2


def test_a_burst_does_not_make_later_requests_wait_for_companions() -> None:
    """Random arrivals mix bursts and lone requests. After a burst of five, one lone request
    waits (up to the max wait) for companions; then a free call waits for no more than every
    recent call found, so another burst does not hold the next lone request back."""
    gate = threading.Event()
    threads = ModelThreads(1)
    start = gated_start(threads, gate)

    async def scenario() -> tuple[float, float, float]:
        batcher = Batcher(
            start,
            BatchPolicy(max_rows=32, max_wait_s=WAIT_S, adaptive=False),
            slots=1,
            clock=time.perf_counter,
        )
        burst = await behind_a_call(batcher, gate, 5)
        after_burst = await behind_a_call(batcher, gate, 1)
        await behind_a_call(batcher, gate, 5)
        next_one = await behind_a_call(batcher, gate, 1)
        return burst, after_burst, next_one

    try:
        burst, after_burst, next_one = asyncio.run(scenario())
    finally:
        threads.close()
    assert burst < WAIT_S / 2, "the first batch waited: nothing had been learned yet"
    assert after_burst >= WAIT_S * 0.9, "the burst set no target: the batcher never holds"
    assert next_one < WAIT_S / 2, (
        f"a lone request waited {next_one:.3f} s for companions after a call found it alone"
    )


def test_while_the_cpu_is_the_limit_a_free_call_waits_for_as_many_as_lately_queued() -> None:
    """While the CPU is saturated a waiting call costs nothing (the core reads the requests
    it waits for) and a larger call costs less a row: a free call waits for as many as were
    lately queued at once; once the CPU has room again, for the fewest a call found."""
    saturated = [True]
    gate = threading.Event()
    threads = ModelThreads(1)
    start = gated_start(threads, gate)

    async def scenario() -> list[float]:
        batcher = Batcher(
            start,
            BatchPolicy(max_rows=32, max_wait_s=WAIT_S, adaptive=False),
            slots=1,
            clock=time.perf_counter,
            saturated=lambda: saturated[0],
        )
        waits = [await behind_a_call(batcher, gate, n) for n in (5, 1, 5, 1)]
        saturated[0] = False
        waits += [await behind_a_call(batcher, gate, n) for n in (5, 1)]
        return waits

    try:
        waits = asyncio.run(scenario())
    finally:
        threads.close()
    burst, after_burst, _, saturated_lone, _, roomy_lone = waits
    assert burst < WAIT_S / 2, "the first batch waited: nothing had been learned yet"
    assert after_burst >= WAIT_S * 0.9, "the burst set no target: the batcher never holds"
    assert saturated_lone >= WAIT_S * 0.9, (
        f"with the CPU saturated, a lone request went after {saturated_lone:.3f} s: the call "
        "did not wait for as many as the burst before it"
    )
    assert roomy_lone < WAIT_S / 2, (
        f"with the CPU no longer saturated, a lone request waited {roomy_lone:.3f} s"
    )


def test_requests_that_fill_a_call_each_go_to_the_model_threads_at_once() -> None:
    """W3's requests carry a whole call's rows each: there is nothing to gather them with,
    so none waits in the batcher for the event loop to hand it on. The model thread runs
    them back to back while the loop is busy with other work (here: blocked outright)."""
    seen: list[int] = []
    gate = threading.Event()
    threads = ModelThreads(1)
    start = gated_start(threads, gate, lambda arrays, n: seen.append(n))

    async def scenario() -> tuple[int, Batcher]:
        batcher = Batcher(
            start,
            BatchPolicy(max_rows=8, max_wait_s=WAIT_S, adaptive=False),
            slots=1,
            clock=time.perf_counter,
        )
        futures = [batcher.submit(rows(8, float(i)), 8) for i in range(5)]
        gate.set()
        deadline = time.perf_counter() + 5
        while len(seen) < 5 and time.perf_counter() < deadline:
            time.sleep(0.01)  # the loop does not run: only the model thread can make progress
        ran_while_blocked = len(seen)
        answers = await asyncio.gather(*futures)
        assert [a["y"][0, 0] for a in answers] == [0.0, 2.0, 4.0, 6.0, 8.0]
        return ran_while_blocked, batcher

    try:
        ran_while_blocked, batcher = asyncio.run(scenario())
    finally:
        threads.close()
    assert ran_while_blocked == 5, (
        f"{ran_while_blocked} of 5 full requests ran while the loop was busy: the rest "
        "waited in the batcher for it"
    )
    assert batcher.stats.queued == 0 and batcher.stats.calls == 5


def test_a_learned_limit_of_one_row_still_queues_requests_to_try_more() -> None:
    """Only a request of max_rows rows skips the queue. Where the sizer has learned that
    one-row calls are the cheapest, one-row requests still queue while the model is busy,
    so that the sizer's tries of two rows can show when gathering pays again."""
    gate = threading.Event()
    threads = ModelThreads(1)
    start = gated_start(threads, gate)

    async def scenario() -> Batcher:
        batcher = Batcher(
            start,
            BatchPolicy(max_rows=8, max_wait_s=WAIT_S),
            slots=1,
            clock=time.perf_counter,
        )
        assert batcher.sizer is not None
        for _ in range(3):
            batcher.sizer.record(1, 0.001)  # one row: 1 ms a row
            batcher.sizer.record(2, 0.004)  # two rows: 2 ms a row
        assert batcher.limit == 1
        futures = [batcher.submit(rows(1, float(i)), 1) for i in range(4)]
        gate.set()
        await asyncio.gather(*futures)
        return batcher

    try:
        batcher = asyncio.run(scenario())
    finally:
        threads.close()
    assert batcher.stats.immediate == 1 and batcher.stats.queued == 3
