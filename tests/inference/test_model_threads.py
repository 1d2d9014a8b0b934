"""The model threads: outcomes come back on the event loop, the thread count bounds calls
at once, and a call that hangs holds only its own thread."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from inference.execution.model_threads import ModelThreads


def test_a_result_and_an_error_come_back_to_the_waiter() -> None:
    threads = ModelThreads(2)

    def fail() -> int:
        raise ValueError("bad input row 3")

    async def main() -> tuple[int, str, str]:
        loop_thread = threading.current_thread().name
        value = await threads.run(lambda: 6 * 7)
        with pytest.raises(ValueError, match="bad input row 3"):
            await threads.run(fail)
        ran_on = await threads.run(lambda: threading.current_thread().name)
        return value, ran_on, loop_thread

    value, ran_on, loop_thread = asyncio.run(main())
    threads.close()
    assert value == 42
    assert ran_on.startswith("pier-model-") and ran_on != loop_thread


def test_calls_beyond_the_thread_count_wait_their_turn() -> None:
    threads = ModelThreads(2)
    lock = threading.Lock()
    running = 0
    most = 0

    def work() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1

    async def main() -> None:
        await asyncio.gather(*(threads.run(work) for _ in range(8)))

    asyncio.run(main())
    threads.close()
    assert most == 2


def test_a_hung_call_holds_one_thread_and_the_others_go_on() -> None:
    threads = ModelThreads(2)
    release = threading.Event()

    async def main() -> list[int]:
        hung = asyncio.ensure_future(threads.run(release.wait))
        # The other thread answers call after call while the first stays in its call.
        answers = [await threads.run(lambda i=i: i) for i in range(20)]
        assert not hung.done()
        # The waiter of the hung call gives up; the call itself goes on in its thread.
        hung.cancel()
        with pytest.raises(asyncio.CancelledError):
            await hung
        release.set()
        # Once it returns, both threads serve again: two calls meet inside the model at
        # once (with one thread the barrier would break after 5 s).
        barrier = threading.Barrier(2, timeout=5)
        await asyncio.gather(threads.run(barrier.wait), threads.run(barrier.wait))
        return answers

    assert asyncio.run(main()) == list(range(20))
    threads.close()


def test_the_threads_are_daemons_and_close_stops_the_idle_ones() -> None:
    threads = ModelThreads(2, name="pier-test-close")

    async def main() -> None:
        await threads.run(lambda: None)

    asyncio.run(main())
    mine = [t for t in threading.enumerate() if t.name.startswith("pier-test-close")]
    assert len(mine) == 2 and all(t.daemon for t in mine)
    threads.close()
    for t in mine:
        t.join(timeout=5)
    assert not any(t.is_alive() for t in mine)
    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(main())
