"""The threads that run model calls: a fixed set of daemon threads fed from one queue, each
outcome handed back to the event loop by callback, so a request needs no task of its own to
wait for its model. The thread count is the limit on model calls at once."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
# Called on the event loop with (result, None) or (None, the exception the call raised).
Done = Callable[[T | None, BaseException | None], None]


class _Job(Generic[T]):
    __slots__ = ("done", "fn", "loop")

    def __init__(self, fn: Callable[[], T], loop: asyncio.AbstractEventLoop, done: Done[T]) -> None:
        self.fn = fn
        self.loop = loop
        self.done = done


def settler(future: asyncio.Future[T]) -> Done[T]:
    """A `done` that settles the future, unless its waiter went away (cancelled it)."""

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    return settle


class ModelThreads:
    def __init__(self, count: int, name: str = "pier-model") -> None:
        self.size = max(1, count)
        self._name = name
        self._jobs: queue.SimpleQueue[_Job[object] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[[], T], done: Done[T]) -> None:
        """Run fn on a model thread; `done` gets its outcome on this event loop."""
        if self._closed:
            raise RuntimeError("the model threads are closed")
        if len(self._threads) < self.size:
            self._start_threads()
        self._jobs.put(_Job(fn, asyncio.get_running_loop(), done))  # type: ignore[arg-type]

    async def run(self, fn: Callable[[], T]) -> T:
        """fn's result, awaited. Cancelling the waiter does not stop the call (it cannot be
        stopped): its outcome is dropped when it comes."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self.submit(fn, settler(future))
        return await future

    def close(self) -> None:
        """Idle threads exit; a thread still in a call exits when the call returns."""
        with self._lock:
            self._closed = True
            for _ in self._threads:
                self._jobs.put(None)

    def _start_threads(self) -> None:
        with self._lock:
            while len(self._threads) < self.size:
                # Daemons: a hung model (its thread cannot be stopped) never holds up exit.
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            result: object = None
            error: BaseException | None = None
            try:
                result = job.fn()
            except BaseException as e:  # handed to the caller, like any outcome
                error = e
            # RuntimeError: the loop closed while the call ran, so nobody waits for it.
            with contextlib.suppress(RuntimeError):
                job.loop.call_soon_threadsafe(job.done, result, error)
            del job, result, error
