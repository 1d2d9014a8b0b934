"""Adaptive micro-batching: one queue per model version, whose requests the next free model
call takes together. A request that finds a free call and nobody queued runs at once, alone,
so batching never delays a request when the model is idle."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from inference.errors import InferenceError
from inference.execution.batch_rules import (
    Arrays,
    BatchPolicy,
    Outputs,
    Signature,
    StartCall,
    batch_is_full,
    concatenate,
    dispatch_delay,
    signature_of,
    split_outputs,
    take_batch,
)
from inference.execution.deadlines import Deadlines
from inference.execution.model_threads import settler
from inference.execution.sizer import BatchSizer

__all__ = ["Arrays", "BatchPolicy", "Batcher", "BatcherStats", "Outputs", "StartCall"]

# Calls over which the queue's depth is remembered (twice this at most).
DEPTH_WINDOW = 32


@dataclass
class BatcherStats:
    """What a batcher did, for tests and operators: calls and how requests reached them."""

    requests: int = 0
    calls: int = 0
    rows: int = 0
    # Requests that found an empty queue and a free call (or filled a call by themselves):
    # their call started at once, they never waited in this queue.
    immediate: int = 0
    # Requests that queued because every call was busy (or others were already queued).
    queued: int = 0
    # Times a free call held back to let a queued batch fill (bounded by max_wait, and by
    # the fill target: Batcher._fill_target).
    held: int = 0
    # Full batches handed to the model threads while every thread was in a call: each
    # waited in the threads' queue instead of in this one, for no wake-up between calls.
    behind: int = 0
    # Gathered calls that failed or could not be split, whose requests then ran one by one.
    split_retries: int = 0
    largest_batch: int = 0
    # Requests answered ModelTimeout: they waited timeout_s without an answer.
    timeouts: int = 0
    # The most rows an ordinary call now takes (learned, or max_rows when not adaptive).
    limit: int = 0


@dataclass
class _Queued:
    arrays: Arrays
    rows: int
    arrival: float
    future: asyncio.Future[Outputs] = field(repr=False)
    # Only what waits in the queue needs one (to be gathered with its likes).
    signature: Signature = ()


Result = Outputs | BaseException


class Batcher:
    """One model version's queue and its calls, on one event loop. A call's outcome comes
    back by callback and goes straight to its requests' futures: no task per request or
    per call, except a gathered call retried request by request."""

    def __init__(
        self,
        call: StartCall,
        policy: BatchPolicy,
        slots: int,
        clock: Callable[[], float],
        on_limit: Callable[[int], None] | None = None,
        saturated: Callable[[], bool] | None = None,
    ) -> None:
        self._call = call
        self.policy = policy
        self._slots = max(1, slots)
        self._clock = clock
        self._queue: deque[_Queued] = deque()
        # Rows in the queue, kept as it changes, so a request's pump costs the same at any
        # depth.
        self._queued_rows = 0
        self._running = 0
        self._timer: asyncio.TimerHandle | None = None
        # Fails requests unanswered after timeout_s (None: no timeout).
        self._deadline_line = (
            None
            if policy.timeout_s is None
            else Deadlines(policy.timeout_s, clock, on_expired=self._count_timeout)
        )
        self._tasks: set[asyncio.Task[None]] = set()
        # Running calls' deadlines (their first request's), to count the overdue ones.
        self._deadlines: dict[int, float] = {}
        # When the loop last had a call's answer: a call handed off behind a running one
        # waited for it on the thread, so its cost to the sizer starts from that answer.
        self._last_answer = 0.0
        # The fewest requests queued when a call took its batch, over the previous
        # DEPTH_WINDOW calls and the current ones (None: no call yet): the fill target.
        self._fill: list[int | None] = [None, None]
        # The most requests queued at once over the same windows: what a free call waits
        # for instead while the CPU is the limit (`saturated`).
        self._most = [0, 0]
        self._saturated = saturated
        self._holding = False
        self._dispatched = 0
        self.sizer = BatchSizer(policy.max_rows) if policy.adaptive else None
        self._on_limit = on_limit
        self.stats = BatcherStats(limit=policy.max_rows)
        if on_limit is not None:
            on_limit(policy.max_rows)

    @property
    def limit(self) -> int:
        return self.sizer.limit if self.sizer is not None else self.policy.max_rows

    @property
    def running(self) -> int:
        return self._running

    @property
    def queued(self) -> int:
        return len(self._queue)

    def submit(self, arrays: Arrays, rows: int) -> asyncio.Future[Outputs]:
        """The request's future: its rows of a call's outputs, or the error that ends it.
        Cancelling it drops the request if still queued, else its share of the answer."""
        self.stats.requests += 1
        future: asyncio.Future[Outputs] = asyncio.get_running_loop().create_future()
        queued = _Queued(arrays, rows, self._clock(), future)
        if self._deadline_line is not None:
            self._deadline_line.watch(queued.arrival, future)
        if not self._queue and (self._running < self._slots or rows >= self.policy.max_rows):
            # Idle, or it fills a call by itself: its call starts now, alone. By max_rows, not
            # the learned limit, or at a limit of 1 the sizer (probing queued calls) never tries 2.
            self.stats.immediate += 1
            self._start([queued])
        else:
            self.stats.queued += 1
            queued.signature = signature_of(arrays)
            self._queue.append(queued)
            self._queued_rows += rows
            self._pump()
        return future

    def _pump(self) -> None:
        """Start calls while requests are queued (and ready to go) and a thread is free, or
        the queue holds a full batch that can wait in the threads' queue instead."""
        while self._queue and self._queue[0].future.done():
            self._queued_rows -= self._queue.popleft().rows  # cancelled or timed out there
        while self._queue:
            depth = len(self._queue)
            self._most[1] = max(self._most[1], depth)
            # A full batch does not wait for a free thread: it goes to the threads' queue now,
            # where the thread finds it when its call ends, with no turn of the loop between.
            full_behind = self._running < 2 * self._slots and self._queued_rows >= self.limit
            if self._running >= self._slots and not full_behind:
                return
            full = batch_is_full(self._queued_rows, depth, self.limit, self._fill_target())
            delay = dispatch_delay(self.policy, full, self._queue[0].arrival, self._clock())
            if delay > 0:
                if self._timer is None:
                    self.stats.held += 1
                    self._holding = True
                    loop = asyncio.get_running_loop()
                    self._timer = loop.call_later(delay, self._on_timer)
                return
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            # Every call's depth enters the target: one that waited out max_wait with fewer
            # lowers it at once (the load dropped, or comes in bursts that no wait fills).
            least = self._fill[1]
            self._fill[1] = depth if least is None else min(least, depth)
            if self._holding and not full:
                # Waited out max_wait and the queue never got as deep as lately: the load
                # has dropped, so no call waits for more than it sent.
                self._most = [depth, depth]
            self._holding = False
            self._dispatched += 1
            if self._dispatched % DEPTH_WINDOW == 0:
                self._fill = [self._fill[1], None]
                self._most = [self._most[1], 0]
            limit = self.sizer.next_limit() if self.sizer is not None else self.policy.max_rows
            count = take_batch(limit, ((q.signature, q.rows) for q in self._queue))
            batch = [self._queue.popleft() for _ in range(count)]
            self._queued_rows -= sum(q.rows for q in batch)
            live = [q for q in batch if not q.future.done()]
            if live:
                self._start(live)

    def _fill_target(self) -> int:
        """Requests a free call waits for: as many as every recent call found queued (0,
        no wait, before the first call); while the CPU is the limit, as many as were
        lately queued at once."""
        if self._saturated is not None and self._saturated():
            return max(self._most)
        return min((f for f in self._fill if f is not None), default=0)

    def _count_timeout(self) -> None:
        self.stats.timeouts += 1

    def overdue(self) -> int:
        """Model calls that outlived their first request's deadline and still run, or wait
        in the threads' queue behind one that does (a hung model holds its thread and its
        slot)."""
        now = self._clock()
        return sum(1 for deadline in self._deadlines.values() if deadline < now)

    def _on_timer(self) -> None:
        self._timer = None
        self._pump()

    def _start(self, batch: list[_Queued]) -> None:
        """One call for the whole batch; `_answered` gets its outcome on the loop."""
        behind = self._running >= self._slots  # a full batch queued behind running calls
        if behind:
            self.stats.behind += 1
        self._running += 1
        if self.policy.timeout_s is not None:
            self._deadlines[id(batch)] = batch[0].arrival + self.policy.timeout_s
        if len(batch) == 1:
            arrays, rows = batch[0].arrays, batch[0].rows
        else:
            arrays, rows = concatenate([q.arrays for q in batch]), sum(q.rows for q in batch)
        self._count_call(rows)
        started = self._clock()

        def answered(outputs: Outputs | None, error: BaseException | None) -> None:
            begun = max(started, self._last_answer) if behind else started
            self._last_answer = self._clock()
            self._answered(batch, rows, begun, outputs, error)

        try:
            self._call(arrays, rows, answered)
        except Exception as e:  # could not even start: answer on the loop's next turn
            asyncio.get_running_loop().call_soon(answered, None, e)

    def _answered(
        self,
        batch: list[_Queued],
        rows: int,
        started: float,
        outputs: Outputs | None,
        error: BaseException | None,
    ) -> None:
        if error is None:
            self._learn(rows, started)
        elif not isinstance(error, Exception):
            # Not an outcome of the model's (e.g. SystemExit in its thread): nobody is answered.
            for queued in batch:
                queued.future.cancel()
            self._finished(batch)
            return
        results: Sequence[Result] | None
        if len(batch) == 1:
            results = [error if error is not None else outputs]  # type: ignore[list-item]
        elif error is None:
            assert outputs is not None
            results = split_outputs(outputs, [q.rows for q in batch])
        elif isinstance(error, InferenceError):
            results = None
        else:  # not the model's fault: every request in the call gets it
            results = [error] * len(batch)
        if results is None:
            # Failed, or outputs not one row per input row: one call per request.
            self.stats.split_retries += 1
            task = asyncio.get_running_loop().create_task(self._one_by_one(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        self._deliver(batch, results)
        self._finished(batch)

    async def _one_by_one(self, batch: list[_Queued]) -> None:
        """A gathered call's requests again, each alone, so only a bad input's request fails.
        The slot stays taken until the last has run."""
        try:
            for queued in batch:
                if not queued.future.done():  # else its client went away
                    self._deliver([queued], [await self._alone(queued)])
        finally:
            for queued in batch:
                queued.future.cancel()  # only those not answered (the task was cancelled)
            self._finished(batch)

    async def _alone(self, queued: _Queued) -> Result:
        self._count_call(queued.rows)
        future: asyncio.Future[Outputs] = asyncio.get_running_loop().create_future()
        started = self._clock()
        try:
            self._call(queued.arrays, queued.rows, settler(future))
            outputs = await future
        except Exception as e:
            return e
        self._learn(queued.rows, started)
        return outputs

    def _finished(self, batch: list[_Queued]) -> None:
        self._running -= 1
        self._deadlines.pop(id(batch), None)
        self._pump()

    @staticmethod
    def _deliver(batch: Sequence[_Queued], results: Sequence[Result]) -> None:
        for queued, result in zip(batch, results, strict=True):
            if queued.future.done():
                continue  # its client went away, or it timed out
            if isinstance(result, BaseException):
                queued.future.set_exception(result)
            else:
                queued.future.set_result(result)

    def _count_call(self, rows: int) -> None:
        self.stats.calls += 1
        self.stats.rows += rows
        self.stats.largest_batch = max(self.stats.largest_batch, rows)

    def _learn(self, rows: int, started: float) -> None:
        """A call's cost (hand-off to answer) teaches the sizer."""
        if self.sizer is None:
            return
        before = self.sizer.limit
        self.sizer.record(rows, self._clock() - started)
        if self.sizer.limit != before:
            self.stats.limit = self.sizer.limit
            if self._on_limit is not None:
                self._on_limit(self.sizer.limit)
